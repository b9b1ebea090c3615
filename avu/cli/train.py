"""`avu train` and `avu train-esc10`: train a model from a config, or the ESC-10 event model.

`avu train CONFIG` runs a training config (`configs/avshapes.yaml`, `configs/coco.yaml`, ...) in one
process or on data-parallel Ray Train workers; given the ESC-10 recipe (`configs/esc10.yaml`) it
trains the event model instead. Torch, Ray and the data are imported inside the commands so
`avu --help` stays fast; errors print one `error: ...` line and exit with code 1. The evaluations
of trained models are `avu eval ...` (`avu.cli.eval`), the throughput benchmark `avu bench train`.
"""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import List, Optional

import typer

from avu._paths import REPO
from avu.cli._console import clean_errors, console, err_console
from avu.cli._options import int_list, read_mapping, train_config
from avu.cli._output import print_json

app = typer.Typer()

ESC10_CONFIG = REPO / "configs" / "esc10.yaml"
ESC10_OUT = REPO / "avu" / "models" / "weights"


def _progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[info]}"), console=err_console, transient=True)


def _train_esc10_recipe(config: Path, out: Optional[Path]) -> None:
    from avu.events.esc10 import Esc10Config, data_dir, load_esc10, train_all

    cfg = Esc10Config.from_yaml(config)
    data = load_esc10(data_dir(cfg), n_mels=cfg.n_mels)
    weights = train_all(cfg, out or REPO / "runs" / "esc10", command=f"avu train {config}", data=data, log=True)
    print_json({"weights": str(weights), "bytes": weights.stat().st_size})


@app.command("train")
@clean_errors
def train(config: Path = typer.Argument(..., help="Training config (YAML), e.g. configs/avshapes.yaml."),
          workers: int = typer.Option(1, "--workers", min=1, help="Data-parallel workers (Ray Train when > 1)."),
          gpus_per_worker: float = typer.Option(0.0, "--gpus-per-worker", min=0.0, help="GPUs per worker (Ray Train)."),
          ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster to run on."),
          resume: bool = typer.Option(False, "--resume", help="Continue from OUT/last."),
          out: Optional[Path] = typer.Option(None, "--out", help="Output folder (overrides the config's)."),
          sets: List[str] = typer.Option([], "--set", help="Override a config field: key=value (repeatable).")):
    """Train a model from a config: single process (CPU/GPU) or data-parallel Ray Train workers."""
    if not config.is_file():
        raise FileNotFoundError(f"{config}: training config not found")
    raw = read_mapping(config)
    if "task" not in raw and "stem_channels" in raw:  # the ESC-10 recipe
        _train_esc10_recipe(config, out)
        return
    from pipelines.train import run_train

    cfg = train_config(config, sets, **({"out": str(out)} if out is not None else {}))
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


def _command_line() -> str:
    """The command as typed (program name shortened to `avu` when run through the entry point)."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name in ("avu", "__main__.py"):
        argv[0] = "avu"
    return shlex.join(argv)


def _esc10_config(path: Path):
    from avu.events.esc10 import Esc10Config

    if not path.is_file():
        raise RuntimeError(f"config not found: {path}")
    return Esc10Config.from_yaml(path)


@app.command("train-esc10")
@clean_errors
def train_esc10(config: Path = typer.Option(ESC10_CONFIG, "--config", help="Recipe (YAML)."),
                out: Path = typer.Option(ESC10_OUT, "--out", help="Folder for esc10.safetensors + esc10.json."),
                cv: bool = typer.Option(True, "--cv/--no-cv", help="Run the 5-fold cross-validation first "
                                        "and record it in esc10.json."),
                quiet: bool = typer.Option(False, "--quiet", help="No progress lines."),
                train_folds: Optional[str] = typer.Option(None, "--train-folds", help="Comma-separated folds "
                                                          "to train on (default: all); the rest are scored."),
                name: str = typer.Option("esc10", "--name", help="File stem of the written model.")):
    """Train the ESC-10 event model from scratch (5-fold CV, then all folds) and write it."""
    from avu.events.esc10 import cross_validate, data_dir, load_esc10, train_all

    folds = int_list(train_folds, "--train-folds") if train_folds else None
    cfg = _esc10_config(config)
    data = load_esc10(data_dir(cfg), n_mels=cfg.n_mels)
    result = cross_validate(cfg, data=data, log=not quiet) if cv else None
    if result is not None and not quiet:
        print_json(result)
    weights = train_all(cfg, out, command=_command_line(), cv=result, data=data, log=not quiet,
                        folds=folds, name=name)
    meta = json.loads(weights.with_suffix(".json").read_text())
    print_json({"weights": str(weights), "config": str(weights.with_suffix(".json")),
                "bytes": weights.stat().st_size, "cross_validation": result, "held_out": meta.get("held_out")})


__all__ = ["app", "train", "train_esc10"]
