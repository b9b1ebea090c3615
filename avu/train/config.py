"""`TrainConfig`: one YAML file says what to train, on what, and how (`configs/avshapes.yaml`).

Every field has a comment here and in the YAML files. `model` names a config in
`avu/models/configs/` (or a YAML path); `model_overrides` changes fields of it (e.g. the fusion
variant) so that a table of variants is one config plus overrides. `data` holds the task's
dataset options (for avshapes: `avu.data.avshapes.AvShapesConfig` fields).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

TASKS = ("avshapes", "coco", "lsmdc")


@dataclass
class DistillConfig:
    """Knowledge distillation from a trained teacher checkpoint (off when `teacher` is empty)."""

    teacher: str = ""  # teacher checkpoint folder; "" = no distillation
    soft: float = 1.0  # weight of the soft-label KL between teacher and student similarity distributions
    feature: float = 1.0  # weight of the embedding (feature) matching loss
    attention: float = 0.0  # weight of the attention-map matching loss (attention fusion on both sides)
    temperature: float = 4.0  # softmax temperature of the soft labels (similarities are scaled by `scale` first)
    feature_kind: str = "cosine"  # cosine | mse


@dataclass
class TrainConfig:
    """A training run; see the module docstring."""

    task: str = "avshapes"  # avshapes | coco | lsmdc
    model: str = "avshapes_fused"  # model config name (avu/models/configs) or YAML path
    model_overrides: dict = field(default_factory=dict)  # ModelConfig fields to change, e.g. {fusion: early}
    data: dict = field(default_factory=dict)  # dataset options of the task
    epochs: int = 20  # passes over the training split
    batch_size: int = 64  # pairs per step (per worker under Ray Train)
    lr: float = 2e-3  # peak learning rate (AdamW, linear warm-up then cosine decay)
    weight_decay: float = 1e-4  # AdamW weight decay
    warmup: float = 0.05  # fraction of the steps spent warming up
    loss: str = "mms"  # mms (masked margin softmax) | infonce (learnable temperature)
    margin: float = 0.1  # MMS margin on the cosine similarity
    scale: float = 20.0  # MMS similarity scale (InfoNCE starts from 1/0.07 and learns it)
    tri_av: float = 1.0  # Text-Tri: weight of the audio-visual pair loss (text-visual and text-audio weigh 1)
    adversarial: float = 0.0  # weight of the adversarial cross-modal loss (reconstruction + alignment + GRL); 0 = off
    distill: DistillConfig = field(default_factory=DistillConfig)  # distillation from a teacher
    modality_dropout: float = 0.2  # training: chance a two-stream sample loses one stream (visual or audio, even odds)
    audio_crop: float = 3.0  # seconds of audio in a random crop per training item (0 = the whole clip)
    frame_jitter: bool = True  # random horizontal offset of a few pixels per training clip
    eval_every: int = 5  # evaluate on the validation split every N epochs (and at the end)
    seed: int = 0  # initialisation, shuffling and augmentation seed
    threads: int = 2  # torch CPU threads per process
    amp: str = "auto"  # mixed precision: auto (bfloat16 autocast on GPU), on, off
    device: str = "auto"  # auto (cuda when available) | cpu | cuda
    max_minutes: float = 0.0  # stop after this much training time (0 = no limit)
    out: str = "runs/avshapes/fused"  # output folder: checkpoints (best/, last/), train.jsonl, result.json
    data_cache: str = "runs/cache"  # where tasks cache decoded data (shared by runs and Ray Train workers)

    def __post_init__(self) -> None:
        if isinstance(self.distill, dict):
            self.distill = DistillConfig(**self.distill)
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.loss not in ("mms", "infonce"):
            raise ValueError(f"loss must be 'mms' or 'infonce', got {self.loss!r}")
        if self.epochs < 1 or self.batch_size < 2 or self.lr <= 0 or self.eval_every < 1:
            raise ValueError("epochs >= 1, batch_size >= 2, lr > 0 and eval_every >= 1 are required")
        if not 0.0 <= self.modality_dropout < 1.0:
            raise ValueError(f"modality_dropout must be in [0, 1), got {self.modality_dropout}")
        if self.amp not in ("auto", "on", "off") or self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"amp must be auto/on/off and device auto/cpu/cuda, got {self.amp!r}, {self.device!r}")

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> "TrainConfig":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: training config not found")
        d = yaml.safe_load(path.read_text()) or {}
        if not isinstance(d, dict):
            raise ValueError(f"{path}: a training config is a mapping")
        return cls.from_dict({**d, **overrides}, source=str(path))

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"{source}: unknown keys {unknown} (valid: {sorted(known)})")
        try:
            return cls(**d)
        except TypeError as e:
            raise ValueError(f"{source}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


__all__ = ["TrainConfig", "DistillConfig", "TASKS"]
