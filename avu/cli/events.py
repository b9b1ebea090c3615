"""The sound-event commands of `avu`: `train-esc10`, `eval esc10` and `eval ave`.

`register(app, eval_app)` adds them to the typer apps that `avu.cli` builds. Torch and the
training code are imported inside the commands so `avu --help` stays fast. Missing data, a bad
config or a failed run print one `error: ...` line on stderr and exit with code 1.
"""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from avu.cli._console import clean_errors as _clean_errors

from avu._paths import REPO
DEFAULT_CONFIG = REPO / "configs" / "esc10.yaml"
DEFAULT_OUT = REPO / "avu" / "models" / "weights"




def _load_config(path: Path):
    from avu.events.esc10 import Esc10Config

    if not path.is_file():
        raise RuntimeError(f"config not found: {path}")
    return Esc10Config.from_yaml(path)


def _parse_folds(text: str) -> tuple[int, ...]:
    try:
        folds = tuple(int(f) for f in text.split(",") if f.strip())
    except ValueError:
        raise RuntimeError(f"folds must be comma-separated integers, got {text!r}") from None
    if not folds:
        raise RuntimeError(f"no folds given in {text!r}")
    return folds


def _command_line() -> str:
    """The command as typed (program name shortened to `avu` when run through the entry point)."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name == "_cli.py":
        return shlex.join(["python", "-m", "avu.cli.events", *argv[1:]])
    if argv and Path(argv[0]).name in ("avu", "__main__.py", "cli.py"):
        argv[0] = "avu"
    return shlex.join(argv)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `avu train-esc10`, `avu eval esc10` and `avu eval ave`."""

    @app.command("train-esc10")
    @_clean_errors
    def train_esc10(config: Path = typer.Option(DEFAULT_CONFIG, "--config", help="Recipe (YAML)."),
                    out: Path = typer.Option(DEFAULT_OUT, "--out", help="Folder for esc10.safetensors + esc10.json."),
                    cv: bool = typer.Option(True, "--cv/--no-cv", help="Run the 5-fold cross-validation first "
                                            "and record it in esc10.json."),
                    quiet: bool = typer.Option(False, "--quiet", help="No progress lines."),
                    train_folds: Optional[str] = typer.Option(None, "--train-folds", help="Comma-separated folds "
                                                              "to train on (default: all); the rest are scored."),
                    name: str = typer.Option("esc10", "--name", help="File stem of the written model.")):
        """Train the ESC-10 event model from scratch (5-fold CV, then all folds) and write it."""
        from avu.events.esc10 import cross_validate, data_dir, load_esc10, train_all

        cfg = _load_config(config)
        folds = _parse_folds(train_folds) if train_folds else None
        data = load_esc10(data_dir(cfg), n_mels=cfg.n_mels)
        result = cross_validate(cfg, data=data, log=not quiet) if cv else None
        if result is not None and not quiet:
            print(json.dumps(result), flush=True)
        weights = train_all(cfg, out, command=_command_line(), cv=result, data=data, log=not quiet,
                            folds=folds, name=name)
        meta = json.loads(weights.with_suffix(".json").read_text())
        print(json.dumps({"weights": str(weights), "config": str(weights.with_suffix(".json")),
                          "bytes": weights.stat().st_size, "cross_validation": result,
                          "held_out": meta.get("held_out")}))

    @eval_app.command("esc10")
    @_clean_errors
    def eval_esc10(config: Path = typer.Option(DEFAULT_CONFIG, "--config", help="Recipe (YAML)."),
                   as_json: bool = typer.Option(False, "--json", help="Print one JSON object only."),
                   folds: Optional[str] = typer.Option(None, "--folds", help="Comma-separated folds [1,2,3,4,5].")):
        """5-fold cross-validation of the ESC-10 recipe, trained from scratch: accuracy per fold and mean."""
        from avu.events.esc10 import cross_validate

        cfg = _load_config(config)
        chosen = _parse_folds(folds) if folds else (1, 2, 3, 4, 5)
        result = cross_validate(cfg, folds=chosen, log=not as_json)
        print(json.dumps(result))

    @eval_app.command("ave")
    @_clean_errors
    def eval_ave(videos: Path = typer.Option(..., "--videos", help="Folder of AVE videos, named <VideoID>.mp4."),
                 annotations: Optional[Path] = typer.Option(None, "--annotations", help="AVE Annotations.txt "
                                                            "(default: ../shared/data/annotations/ave/)."),
                 split: Optional[Path] = typer.Option(None, "--split", help="Only these videos (e.g. AVE's "
                                                      "testSet.txt, or one video ID a line)."),
                 threshold: float = typer.Option(0.5, "--threshold", help="Probability of the mapped ESC-10 "
                                                 "class that marks a segment as the event."),
                 model: Optional[Path] = typer.Option(None, "--model", help="Event model .safetensors "
                                                      "(default: the shipped esc10)."),
                 as_json: bool = typer.Option(False, "--json", help="Print one JSON object only.")):
        """AVE segment-level accuracy (10 one-second segments a video, background included) on the
        videos whose category is an ESC-10 class; the others are counted as skipped."""
        from avu.eval.ave import evaluate_ave
        from avu.events.detect import DEFAULT_WEIGHTS, EventModel
        from avu.events.prompts import ontology_path

        ann = annotations or ontology_path().parents[1] / "ave" / "Annotations.txt"
        weights = model or DEFAULT_WEIGHTS
        result = evaluate_ave(videos, ann, split=split, model=EventModel.load(weights), threshold=threshold,
                              log=None if as_json else (lambda m: print(m, file=sys.stderr)))
        result = {"model": str(weights), **result}
        if as_json:
            print(json.dumps(result))
            return
        print(f"AVE segment accuracy: {result['accuracy']} over {result['evaluated']} videos "
              f"({result['segments']} segments); all-background baseline {result['all_background_accuracy']}")
        print(f"skipped {result['skipped']}: {result['skipped_by_reason']}")
        print(json.dumps(result, indent=2))


def main() -> None:
    """`python -m avu.cli.events ...`: the `avu` app, with these commands added if it lacks them."""
    from avu.cli import app, eval_app

    if not any(c.name == "train-esc10" for c in app.registered_commands):
        register(app, eval_app)
    app()


__all__ = ["register", "main"]

if __name__ == "__main__":
    main()
