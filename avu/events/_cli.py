"""The sound-event commands of `avu`: `train-esc10` and `eval esc10`.

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

from avu._console import clean_errors as _clean_errors

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "configs" / "esc10.yaml"
DEFAULT_OUT = REPO / "avu" / "models" / "weights"




def _load_config(path: Path):
    from avu.events.esc10 import Esc10Config

    if not path.is_file():
        raise RuntimeError(f"config not found: {path}")
    return Esc10Config.from_yaml(path)


def _command_line() -> str:
    """The command as typed (program name shortened to `avu` when run through the entry point)."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name == "_cli.py":
        return shlex.join(["python", "-m", "avu.events._cli", *argv[1:]])
    if argv and Path(argv[0]).name in ("avu", "__main__.py", "cli.py"):
        argv[0] = "avu"
    return shlex.join(argv)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `avu train-esc10` and `avu eval esc10`."""

    @app.command("train-esc10")
    @_clean_errors
    def train_esc10(config: Path = typer.Option(DEFAULT_CONFIG, "--config", help="Recipe (YAML)."),
                    out: Path = typer.Option(DEFAULT_OUT, "--out", help="Folder for esc10.safetensors + esc10.json."),
                    cv: bool = typer.Option(True, "--cv/--no-cv", help="Run the 5-fold cross-validation first "
                                            "and record it in esc10.json."),
                    quiet: bool = typer.Option(False, "--quiet", help="No progress lines.")):
        """Train the ESC-10 event model from scratch (5-fold CV, then all folds) and write it."""
        from avu.events.esc10 import cross_validate, data_dir, load_esc10, train_all

        cfg = _load_config(config)
        data = load_esc10(data_dir(cfg), n_mels=cfg.n_mels)
        result = cross_validate(cfg, data=data, log=not quiet) if cv else None
        if result is not None and not quiet:
            print(json.dumps(result), flush=True)
        weights = train_all(cfg, out, command=_command_line(), cv=result, data=data, log=not quiet)
        print(json.dumps({"weights": str(weights), "config": str(weights.with_suffix(".json")),
                          "bytes": weights.stat().st_size, "cross_validation": result}))

    @eval_app.command("esc10")
    @_clean_errors
    def eval_esc10(config: Path = typer.Option(DEFAULT_CONFIG, "--config", help="Recipe (YAML)."),
                   as_json: bool = typer.Option(False, "--json", help="Print one JSON object only."),
                   folds: Optional[str] = typer.Option(None, "--folds", help="Comma-separated folds [1,2,3,4,5].")):
        """5-fold cross-validation of the ESC-10 recipe, trained from scratch: accuracy per fold and mean."""
        from avu.events.esc10 import cross_validate

        cfg = _load_config(config)
        chosen = tuple(int(f) for f in folds.split(",")) if folds else (1, 2, 3, 4, 5)
        result = cross_validate(cfg, folds=chosen, log=not as_json)
        print(json.dumps(result))


def main() -> None:
    """`python -m avu.events._cli ...`: the `avu` app, with these commands added if it lacks them."""
    from avu.cli import app, eval_app

    if not any(c.name == "train-esc10" for c in app.registered_commands):
        register(app, eval_app)
    app()


__all__ = ["register", "main"]

if __name__ == "__main__":
    main()
