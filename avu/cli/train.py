"""The training commands of `avu`: `train`, `eval avshapes` and `bench train`.

`register(app, eval_app, bench_app)` adds them to the typer apps that `avu.cli` builds. Torch,
Ray and the data are imported inside the commands so `avu --help` stays fast; errors print one
`error: ...` line and exit with code 1.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
import yaml

from avu.cli._console import clean_errors as _clean_errors
from avu.cli._console import console, err_console

from avu._paths import REPO
AVSHAPES_CONFIG = REPO / "configs" / "avshapes.yaml"


def _parse_sets(sets: list[str]) -> dict:
    """`key=value` pairs (values parsed as YAML; dotted keys reach into mappings)."""
    out: dict = {}
    for s in sets:
        key, sep, value = s.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {s!r}")
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return out


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[info]}"), console=err_console, transient=True)


def _train_esc10(config: Path, out: Optional[Path]) -> None:
    from avu.events.esc10 import Esc10Config, data_dir, load_esc10, train_all

    cfg = Esc10Config.from_yaml(config)
    data = load_esc10(data_dir(cfg), n_mels=cfg.n_mels)
    weights = train_all(cfg, out or REPO / "runs" / "esc10", command=f"avu train {config}", data=data, log=True)
    print(json.dumps({"weights": str(weights), "bytes": weights.stat().st_size}))


def register(app: typer.Typer, eval_app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command("train")
    @_clean_errors
    def train(config: Path = typer.Argument(..., help="Training config (YAML), e.g. configs/avshapes.yaml."),
              workers: int = typer.Option(1, "--workers", help="Data-parallel workers (Ray Train when > 1)."),
              gpus_per_worker: float = typer.Option(0.0, "--gpus-per-worker", help="GPUs per worker (Ray Train)."),
              ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster to run on."),
              resume: bool = typer.Option(False, "--resume", help="Continue from OUT/last."),
              out: Optional[Path] = typer.Option(None, "--out", help="Output folder (overrides the config's)."),
              sets: List[str] = typer.Option([], "--set", help="Override a config field: key=value (repeatable).")):
        """Train a model from a config: single process (CPU/GPU) or data-parallel Ray Train workers."""
        if not config.is_file():
            raise FileNotFoundError(f"{config}: training config not found")
        raw = yaml.safe_load(config.read_text()) or {}
        if isinstance(raw, dict) and "task" not in raw and "stem_channels" in raw:  # the ESC-10 recipe
            _train_esc10(config, out)
            return
        from avu.train.config import TrainConfig
        from pipelines.train import run_train

        overrides = _parse_sets(sets)
        if out is not None:
            overrides["out"] = str(out)
        cfg = TrainConfig.from_dict(_merge(raw, overrides), source=str(config))
        with _progress_bar() as bar:
            job = bar.add_task("epoch 1", total=None, info="")

            def progress(kind: str, info: dict) -> None:
                if kind == "step":
                    bar.update(job, description=f"epoch {info['epoch'] + 1}/{cfg.epochs}", total=info["steps"],
                               completed=info["step"], info=f"loss {info['loss']:.3f}")
                elif kind == "epoch" and "val" in info:
                    bar.console.print(f"epoch {info['epoch']}: loss {info.get('total', 0):.3f}  "
                                      f"val R@1 {info['val']['t2v']['R@1']:.1f} R@5 {info['val']['t2v']['R@5']:.1f}")

            result = run_train(cfg, workers=workers, gpus_per_worker=gpus_per_worker, ray_address=ray_address,
                               resume=resume, progress=progress)
        console.print_json(json.dumps({k: result.get(k) for k in ("model", "params", "epochs_run", "train_seconds",
                                                                   "samples_per_s", "workers", "val", "test")}))
        console.print(f"checkpoint: {Path(cfg.out) / 'best'}   log: {Path(cfg.out) / 'train.jsonl'}")

    @eval_app.command("avshapes")
    @_clean_errors
    def eval_avshapes(config: Path = typer.Option(AVSHAPES_CONFIG, "--config", help="Base training config."),
                      variants: Optional[str] = typer.Option(None, "--variants", help="Comma-separated subset."),
                      epochs: Optional[int] = typer.Option(None, "--epochs", help="Override epochs for every variant."),
                      root: Path = typer.Option(Path("runs/avshapes"), "--root", help="Where variants are written."),
                      retrain: bool = typer.Option(False, "--retrain", help="Ignore results saved by the same config."),
                      checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Score this model only."),
                      as_json: bool = typer.Option(False, "--json", help="Print one JSON object only.")):
        """avshapes: train and score visual-only, audio-only, fused and every variant (text-to-video R@K)."""
        from avu.eval.avshapes import run_avshapes
        from avu.train.config import TrainConfig

        cfg = TrainConfig.from_yaml(config, **({"epochs": epochs} if epochs else {}))
        if checkpoint is not None:
            from avu.models.registry import load_checkpoint
            from avu.train.tasks import create_task

            res = create_task(cfg).evaluate(load_checkpoint(checkpoint), "test")
            print(json.dumps(res))
            return
        log = (lambda s: None) if as_json else (lambda s: err_console.print(s))
        result = run_avshapes(cfg, root=root, variants=variants.split(",") if variants else None,
                              retrain=retrain, log=log)
        (root / "avshapes.json").write_text(json.dumps(result, indent=1))
        print(json.dumps(result) if as_json else json.dumps(result, indent=1))

    @eval_app.command("coco")
    @_clean_errors
    def eval_coco(config: Path = typer.Option(REPO / "configs" / "coco.yaml", "--config", help="Training config."),
                  checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Score this model (no training)."),
                  sets: List[str] = typer.Option([], "--set", help="Override a config field: key=value."),
                  as_json: bool = typer.Option(False, "--json", help="Print one JSON object only.")):
        """Image-text retrieval, COCO/Flickr30k protocol: train (or load) and score i2t/t2i R@K on train and test."""
        from avu.train.config import TrainConfig
        from avu.train.tasks import create_task

        raw = yaml.safe_load(config.read_text()) if config.is_file() else None
        if not isinstance(raw, dict):
            raise FileNotFoundError(f"{config}: training config not found or not a mapping")
        cfg = TrainConfig.from_dict(_merge(raw, _parse_sets(sets)), source=str(config))
        if checkpoint is None:
            from avu.train.loop import fit

            if not as_json:
                err_console.print(f"training {cfg.model} on {cfg.task} ({cfg.epochs} epochs) -> {cfg.out}")
            res = fit(cfg)
            model_path = Path(cfg.out) / "best"
        else:
            model_path = checkpoint
        from avu.models.registry import load_checkpoint

        task = create_task(cfg)
        model = load_checkpoint(model_path)
        out = {"checkpoint": str(model_path), "train_split": task.evaluate(model, "train"),
               "test": task.evaluate(model, "test")}
        if checkpoint is None:
            out["train_seconds"] = res["train_seconds"]
        print(json.dumps(out) if as_json else json.dumps(out, indent=1))

    @eval_app.command("lsmdc")
    @_clean_errors
    def eval_lsmdc(annotations: Path = typer.Option(..., "--annotations", help="Folder of the official LSMDC files."),
                   videos: Path = typer.Option(..., "--videos", help="Folder of the clip files."),
                   checkpoint: Path = typer.Option(..., "--checkpoint", help="Trained model (folder)."),
                   config: Path = typer.Option(REPO / "configs" / "lsmdc.yaml", "--config", help="Decoding options."),
                   as_json: bool = typer.Option(False, "--json", help="Print one JSON object only.")):
        """LSMDC text-to-clip and clip-to-text retrieval on the public 1000-clip test file."""
        from avu.data.lsmdc import load_lsmdc, lsmdc_split_files, test_protocol
        from avu.models.registry import load_checkpoint
        from avu.train.config import TrainConfig
        from avu.train.tasks.lsmdc import LsmdcTask

        raw = yaml.safe_load(config.read_text())
        raw["data"] = {**raw.get("data", {}), "annotations": str(annotations), "videos": str(videos),
                       "splits": ["test"]}
        cfg = TrainConfig.from_dict(raw, source=str(config))
        task = LsmdcTask(cfg)
        protocol = test_protocol(load_lsmdc(lsmdc_split_files(annotations)["test"]))
        res = task.evaluate(load_checkpoint(checkpoint), "test")
        out = {**res, "protocol": protocol, "skipped": task.skipped}
        print(json.dumps(out) if as_json else json.dumps(out, indent=1))

    @bench_app.command("train")
    @_clean_errors
    def bench_train(model: str = typer.Option("avshapes_fused", "--model", help="Model config name."),
                    batch: int = typer.Option(64, "--batch", help="Pairs per step."),
                    steps: int = typer.Option(10, "--steps", help="Timed steps (after 2 warm-up steps)."),
                    as_json: bool = typer.Option(False, "--json", help="Print one JSON object only.")):
        """Training throughput (samples/s) of a model's full step; on GPU also fp32 vs bfloat16 and peak memory."""
        from avu.bench.train import bench_train as run

        result = run(model=model, batch=batch, steps=steps)
        print(json.dumps(result) if as_json else json.dumps(result, indent=1))


__all__ = ["register"]
