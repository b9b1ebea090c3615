"""Training: one loop for every task (`fit`), its config (`TrainConfig`), the objective and tasks.

`avu train CONFIG` runs `pipelines.train.run_train`, which calls `fit` in this process or in Ray
Train workers. See `avu.train.loop` for what a run writes.
"""
from avu.train.config import DistillConfig, TrainConfig

__all__ = ["TrainConfig", "DistillConfig"]
