"""`avu eval esc10` (`--model scratch`): 5-fold cross-validation of the ESC-10 recipe, trained from scratch.

For each official fold, the recipe (`configs/esc10.yaml`) trains on the other four folds and is
scored on it (`avu.events.esc10.cross_validate`); the result holds the accuracy per fold and the
mean. `--model scratch-nested` (`run_nested`) makes the recipe choice on validation folds inside
the training folds first (`avu.events.esc10_nested`: 8 trainings per test fold). Other models of
the same protocol are their own modules (`esc10_<model>.py`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from avu._paths import user_config

DEFAULT_CONFIG = user_config("esc10.yaml")
FOLDS = (1, 2, 3, 4, 5)


def _recipe(config: str | Path):
    """The `Esc10Config` at `config` (a clear error when the file is missing)."""
    from avu.events.esc10 import Esc10Config

    path = Path(config)
    if not path.is_file():
        raise RuntimeError(f"config not found: {path}")
    return Esc10Config.from_yaml(path)


def run(*, config: str | Path = DEFAULT_CONFIG, folds: Sequence[int] = FOLDS, log: bool = False) -> dict[str, Any]:
    """Cross-validate the recipe at `config` on `folds` (each held out in turn); `log` prints progress."""
    from avu.events.esc10 import cross_validate

    return cross_validate(_recipe(config), folds=tuple(folds), log=log)


def run_nested(*, config: str | Path = DEFAULT_CONFIG, folds: Sequence[int] = FOLDS,
               log: bool = False) -> dict[str, Any]:
    """The nested protocol (`avu.events.esc10_nested`) with the recipe at `config` as the shipped
    candidate: for each test fold in `folds`, the recipe is chosen on a validation fold inside the
    training folds, then trained on all of them and scored once on the test fold."""
    from avu.events.esc10_nested import nested_cross_validate

    return nested_cross_validate(_recipe(config), folds=tuple(folds), log=log)


__all__ = ["DEFAULT_CONFIG", "FOLDS", "run", "run_nested"]
