"""`avu eval coco`: image-text retrieval under the COCO / Flickr30k protocol.

Trains the config's model on its image-text task (or loads `checkpoint`) and scores image-to-text
and text-to-image R@K on the train split and on the test split, through the task's `evaluate`
(which runs `avu.metrics.evaluate_image_text`: COCO 1K folds, 5K, or Flickr30k 1K).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from avu.train.config import TrainConfig


def run(cfg: TrainConfig, *, checkpoint: str | Path | None = None,
        log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train `cfg` (unless `checkpoint` is given) and score the model on the train and test splits."""
    from avu.models.registry import load_checkpoint
    from avu.train.tasks import create_task

    trained = None
    if checkpoint is None:
        from avu.train.loop import fit

        if log:
            log(f"training {cfg.model} on {cfg.task} ({cfg.epochs} epochs) -> {cfg.out}")
        trained = fit(cfg)
        model_path = Path(cfg.out) / "best"
    else:
        model_path = Path(checkpoint)
    task = create_task(cfg)
    model = load_checkpoint(model_path)
    out: dict[str, Any] = {"checkpoint": str(model_path), "train_split": task.evaluate(model, "train"),
                           "test": task.evaluate(model, "test")}
    if trained is not None:
        out["train_seconds"] = trained["train_seconds"]
    return out


__all__ = ["run"]
