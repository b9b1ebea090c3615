"""The training loop shared by single-process runs and Ray Train workers.

`fit(cfg)` builds the task's data, the model (vocabulary from the training captions), the
objective and AdamW with warm-up + cosine decay, then trains: batches are sharded by worker rank,
the loss runs inside one module (`_Step`) so data-parallel wrappers see a single forward, and
every `eval_every` epochs rank 0 evaluates retrieval on the validation split, appends a line to
`train.jsonl`, writes `last/` (model + `train_state.pt` for `--resume`) and `best/`. At the end the
best checkpoint is evaluated on the test split and `result.json` is written. Mixed precision
(bfloat16 autocast) is used on GPU. Checkpoints are safetensors; the resume state is loaded with
`weights_only=True`.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from avu.models.model import AVModel, count_parameters
from avu.models.registry import get_model_config, load_backbone_weights, load_checkpoint, save_checkpoint
from avu.models.text_tower import build_vocab
from avu.train.config import TrainConfig
from avu.train.objective import Objective
from avu.train.tasks import create_task


@dataclass
class Worker:
    """Where this process sits in a data-parallel job (rank 0 of 1 when alone)."""

    rank: int = 0
    world: int = 1
    wrap: Callable[[nn.Module], nn.Module] | None = None  # e.g. ray.train.torch.prepare_model
    device: torch.device | None = None
    report: Callable[[dict, Path | None], None] | None = None  # called after each evaluation


class _Step(nn.Module):
    """model + objective as one module: forward(batch) -> loss parts."""

    def __init__(self, model: AVModel, objective: Objective):
        super().__init__()
        self.model, self.objective = model, objective

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return self.objective(self.model, batch)


def build_model(cfg: TrainConfig, task) -> AVModel:
    mcfg = get_model_config(cfg.model)
    if cfg.model_overrides:
        mcfg = mcfg.replace(**cfg.model_overrides)
    if mcfg.text.kind == "words" and len(mcfg.text.vocab) <= 2:
        mcfg = mcfg.replace(text={**mcfg.to_dict()["text"], "vocab": list(build_vocab(task.captions("train")))})
    model = AVModel(mcfg)
    if model.visual is not None and mcfg.visual.checkpoint:
        load_backbone_weights(model.visual, mcfg.visual.checkpoint)
    return model


def model_signature(mcfg) -> dict[str, Any]:
    """A model config as a dict without its vocabulary (which training fills in)."""
    d = mcfg.to_dict()
    d["text"] = {k: v for k, v in d["text"].items() if k != "vocab"}
    return d


def code_version() -> str:
    """A short hash of the code that decides what a run learns: the source of avu.models (with the
    model configs), avu.train and the avshapes data builder. Results record it; reuse requires it."""
    import hashlib

    from avu._paths import PACKAGE

    h = hashlib.blake2b(digest_size=8)
    files = [*sorted((PACKAGE / "models").rglob("*.py")), *sorted((PACKAGE / "models" / "configs").glob("*.yaml")),
             *sorted((PACKAGE / "train").rglob("*.py")), PACKAGE / "data" / "avshapes.py"]
    for f in files:
        h.update(str(f.relative_to(PACKAGE)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def resolve_device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("device: cuda requested but no CUDA device is available")
        return torch.device("cuda")
    return torch.device("cpu")


def _score(m: dict[str, Any]) -> float:
    t = m["t2v"]
    return t["R@1"] + t["R@5"] + t["R@10"]


def fit(cfg: TrainConfig, *, task=None, resume: bool = False, worker: Worker | None = None,
        progress: Callable[[str, dict], None] | None = None) -> dict[str, Any]:
    """Train as configured; returns (and on rank 0 writes) the result dictionary."""
    w = worker or Worker()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, cfg.threads))
    device = w.device or resolve_device(cfg)
    amp = device.type == "cuda" and cfg.amp != "off"
    out = Path(cfg.out)
    task = task or create_task(cfg)
    model = build_model(cfg, task).to(device)
    teacher = load_checkpoint(cfg.distill.teacher).to(device) if cfg.distill.teacher else None
    objective = Objective(model, cfg, teacher).to(device)
    step_module: nn.Module = _Step(model, objective)
    params = [p for p in step_module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    n_train = len(task.splits["train"])
    per_worker = n_train // w.world
    steps_per_epoch = max(1, per_worker // cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    warm = max(1, int(cfg.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total))))
    start_epoch, best, history = 0, -1.0, []
    state_file = out / "last" / "train_state.pt"
    if resume and state_file.is_file():
        from avu.models.registry import read_checkpoint

        _, weights, _ = read_checkpoint(out / "last")
        model.load_state_dict(weights)
        st = torch.load(state_file, map_location=device, weights_only=True)
        objective.load_state_dict(st["objective"], strict=False)
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        start_epoch, best = int(st["epoch"]), float(st["best"])
    if w.wrap is not None:
        step_module = w.wrap(step_module)
    g = torch.Generator().manual_seed(cfg.seed + 1000 * w.rank)
    log = (out / "train.jsonl") if w.rank == 0 else None
    if log:
        out.mkdir(parents=True, exist_ok=True)
        if start_epoch == 0:  # a fresh run starts a fresh log
            log.unlink(missing_ok=True)
    t0, seen, stopped = time.perf_counter(), 0, False
    train_time = 0.0
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        perm = torch.randperm(n_train, generator=torch.Generator().manual_seed(cfg.seed * 7919 + epoch))
        mine = perm[w.rank::w.world][: steps_per_epoch * cfg.batch_size]
        sums: dict[str, float] = {}
        t_epoch = time.perf_counter()
        for s in range(steps_per_epoch):
            idx = mine[s * cfg.batch_size:(s + 1) * cfg.batch_size]
            batch = task.batch(model, "train", idx, train=True, g=g, device=device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                parts = step_module(batch)
            opt.zero_grad(set_to_none=True)
            parts["total"].backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            sched.step()
            seen += len(idx)
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            if progress:
                progress("step", {"epoch": epoch, "step": s + 1, "steps": steps_per_epoch,
                                  "loss": float(parts["total"])})
            if cfg.max_minutes and time.perf_counter() - t0 > 60 * cfg.max_minutes:
                stopped = True
                break
        train_time += time.perf_counter() - t_epoch
        row = {"epoch": epoch + 1, **{k: v / max(1, s + 1) for k, v in sums.items()},
               "lr": sched.get_last_lr()[0], "seconds": round(time.perf_counter() - t0, 1)}
        last = stopped or epoch + 1 == cfg.epochs
        if w.rank == 0 and ((epoch + 1) % cfg.eval_every == 0 or last):
            val = task.evaluate(model, "val", device=device)
            row["val"] = val
            score = _score(val)
            save_checkpoint(model, out / "last", epoch=epoch + 1, val=val)
            torch.save({"objective": objective.state_dict(), "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(), "epoch": epoch + 1, "best": max(best, score)},
                       out / "last" / "train_state.pt")
            if score > best:
                best = score
                save_checkpoint(model, out / "best", epoch=epoch + 1, val=val)
            if w.report:
                w.report({"epoch": epoch + 1, "val_rsum": score, "loss": row.get("total")}, out / "last")
        elif w.report:
            w.report({"epoch": epoch + 1, "loss": row.get("total")}, None)
        history.append(row)
        if log:
            with log.open("a") as f:
                f.write(json.dumps(row) + "\n")
        if progress:
            progress("epoch", row)
        if stopped:
            break
    result: dict[str, Any] = {"config": cfg.to_dict(), "code_version": code_version(), "model": model.cfg.name,
                              "model_config": model_signature(model.cfg),
                              "params": count_parameters(model), "epochs_run": len(history),
                              "train_seconds": round(train_time, 1),
                              "samples_per_s": round(seen / max(train_time, 1e-9), 1), "workers": w.world,
                              "device": device.type, "stopped_early": stopped}
    if w.rank == 0:
        best_model = load_checkpoint(out / "best").to(device) if (out / "best").is_dir() else model
        result["val"] = task.evaluate(best_model, "val", device=device)
        result["test"] = task.evaluate(best_model, "test", device=device)
        (out / "result.json").write_text(json.dumps(result, indent=1))
    return result


__all__ = ["fit", "Worker", "build_model", "code_version", "resolve_device", "model_signature"]
