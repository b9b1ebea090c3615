"""`avu eval avshapes`: train and score every model variant on the avshapes benchmark (`run`).

One base config (`configs/avshapes.yaml`) plus per-variant overrides gives the table: visual-only,
audio-only and fused models; each fusion kind; AVLnet's Text-Tri; InfoNCE instead of MMS; the
adversarial cross-modal loss; the same model on frozen pretrained towers (MobileNetV2 and YAMNet
features, `pretrained_*`); a student with under a quarter of the teacher's parameters trained
alone and with distillation from the fused teacher. Every variant trains with the same recipe
and is scored on the same held-out test split (text-to-video R@1/5/10, median rank). A variant
whose `result.json` was written by the same config, the same resolved model config and the same
code (`avu.train.loop.code_version`: a hash of avu/models, avu/train and the avshapes builder) is
reused, unless `retrain`; each row says whether it was (`reused`), and the JSON names the code
version and the reused variants.
"""
from __future__ import annotations

import copy
import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from avu.train.config import TrainConfig

NO_TRANSFORMER: dict[str, Any] = {"fusion_options": {}}
TRANSFORMER = {"hidden": 128, "layers": 2, "heads": 4}  # attention / intermediate fusion width, depth, heads
VARIANTS: dict[str, dict[str, Any]] = {
    "fused": {},  # the teacher: early fusion, MMS loss, Text-Fused retrieval (avu/models/configs/avshapes_fused.yaml)
    "visual": {"model_overrides": {"modalities": ["visual"]}},
    "audio": {"model_overrides": {"modalities": ["audio"]}},
    "attention": {"model_overrides": {"fusion": "attention", "fusion_options": TRANSFORMER}},
    "intermediate": {"model_overrides": {"fusion": "intermediate", "fusion_options": TRANSFORMER}},
    "late": {"model_overrides": {"fusion": "late", **NO_TRANSFORMER}},
    "tri": {"model_overrides": {"fusion": "late", "retrieval": "tri", **NO_TRANSFORMER}},
    "infonce": {"loss": "infonce"},
    "adversarial": {"adversarial": 0.1},
    "student": {"model": "avshapes_student"},
    "distilled": {"model": "avshapes_student", "distill": {"teacher": "@fused"}},
    # frozen pretrained towers (MobileNetV2 per frame, YAMNet per patch; avshapes_pretrained.yaml)
    "pretrained_fused": {"model": "avshapes_pretrained"},
    "pretrained_visual": {"model": "avshapes_pretrained", "model_overrides": {"modalities": ["visual"]}},
    "pretrained_audio": {"model": "avshapes_pretrained", "model_overrides": {"modalities": ["audio"]}},
}
MAIN = ("fused", "visual", "audio")
PRETRAINED = ("pretrained_fused", "pretrained_visual", "pretrained_audio")  # rows shaped like MAIN's


def variant_config(base: TrainConfig, name: str, root: Path) -> TrainConfig:
    d = copy.deepcopy(base.to_dict())
    for k, v in VARIANTS[name].items():
        if isinstance(v, dict) and isinstance(d.get(k), dict):
            d[k] = {**d[k], **copy.deepcopy(v)}
        else:
            d[k] = copy.deepcopy(v)
    if d["distill"]["teacher"] == "@fused":
        d["distill"]["teacher"] = str(root / "fused" / "best")
    d["out"] = str(root / name)
    return TrainConfig.from_dict(d)


def _signature(cfg: TrainConfig) -> dict[str, Any]:
    """The model config this variant resolves to now (a changed model YAML must not reuse old results)."""
    from avu.models.registry import get_model_config
    from avu.train.loop import model_signature

    mcfg = get_model_config(cfg.model)
    return model_signature(mcfg.replace(**cfg.model_overrides) if cfg.model_overrides else mcfg)


def _row(name: str, cfg: TrainConfig, result: dict[str, Any], *, reused: bool) -> dict[str, Any]:
    t = result["test"]["t2v"]
    m = result["model_config"]  # what was trained, not what the overrides alone say
    return {"variant": name, "reused": reused, "model": cfg.model, "modalities": m["modalities"],
            "fusion": m["fusion"], "retrieval": m["retrieval"], "loss": cfg.loss,
            "adversarial": cfg.adversarial, "distilled": bool(cfg.distill.teacher), "params": result["params"],
            **{k: round(t[k], 2) for k in ("R@1", "R@5", "R@10", "MdR")},
            "v2t_R@1": round(result["test"]["v2t"]["R@1"], 2), "train_seconds": result["train_seconds"]}


def run(base: TrainConfig, *, root: str | Path = "runs/avshapes", variants: list[str] | None = None,
        retrain: bool = False, log: Callable[[str], None] = print,
        progress: Callable[[str, dict], None] | None = None, checkpoint: str | Path | None = None) -> dict[str, Any]:
    """Train (or reuse) each variant and return the benchmark's JSON object; with `checkpoint`, only
    score that model on the test split (text-to-video and video-to-text R@K)."""
    from avu.train.loop import code_version, fit
    from avu.train.tasks import create_task

    if checkpoint is not None:
        from avu.models.registry import load_checkpoint

        return create_task(base).evaluate(load_checkpoint(Path(checkpoint)), "test")
    root = Path(root)
    names = variants or list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown avshapes variants {unknown}; valid: {', '.join(VARIANTS)}")
    if "distilled" in names and "fused" not in names and not (root / "fused" / "best").is_dir():
        names = ["fused", *names]
    task = create_task(base)
    version = code_version()
    rows: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    for name in sorted(names, key=lambda n: n != "fused"):  # the teacher first
        cfg = variant_config(base, name, root)
        saved = Path(cfg.out) / "result.json"
        result = None
        if saved.is_file() and not retrain:
            doc = json.loads(saved.read_text())
            if (doc.get("config") == cfg.to_dict() and doc.get("model_config") == _signature(cfg)
                    and doc.get("code_version") == version and "test" in doc):
                result = doc
                log(f"{name}: reusing {saved} (same config and code version {version})")
        reused = result is not None
        if result is None:
            log(f"{name}: training ({cfg.epochs} epochs) -> {cfg.out}")
            for stale in ("best", "last"):  # a new config must not resume or pick an old best
                shutil.rmtree(Path(cfg.out) / stale, ignore_errors=True)
            (Path(cfg.out) / "train.jsonl").unlink(missing_ok=True)
            result = fit(cfg, task=task, progress=progress)
        rows[name] = _row(name, cfg, result, reused=reused)
        log(f"{name}: R@1 {rows[name]['R@1']:.1f}  R@5 {rows[name]['R@5']:.1f}  R@10 {rows[name]['R@10']:.1f}  "
            f"MdR {rows[name]['MdR']:g}  ({rows[name]['train_seconds']:.0f} s)")
    out: dict[str, Any] = {}
    for key in (*MAIN, *PRETRAINED):
        if key in rows:
            out[key] = {k: rows[key][k] for k in ("R@1", "R@5", "R@10", "MdR")}
    out["variants"] = list(rows.values())
    out["code_version"] = version
    out["reused"] = [n for n, r in rows.items() if r["reused"]]
    if all(k in rows for k in MAIN):
        best_single = max(rows["visual"]["R@1"], rows["audio"]["R@1"])
        gap = rows["fused"]["R@1"] - best_single
        out["fused_minus_best_single_R@1"] = round(gap, 2)
        out["target_fused_gap_met"] = gap >= 15.0
    if "distilled" in rows and "fused" in rows:
        t, s = rows["fused"], rows["distilled"]
        kept = s["R@5"] / t["R@5"] if t["R@5"] else 0.0
        out["distillation"] = {"teacher_params": t["params"], "student_params": s["params"],
                               "param_ratio": round(s["params"] / t["params"], 3), "teacher_R@5": t["R@5"],
                               "distilled_R@5": s["R@5"],
                               "student_alone_R@5": rows["student"]["R@5"] if "student" in rows else None,
                               "kept_R@5": round(kept, 3),
                               "target_met": kept >= 0.9 and s["params"] * 4 <= t["params"]}
    out["test_videos"] = len(task.splits["test"])
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


__all__ = ["VARIANTS", "run", "variant_config"]
