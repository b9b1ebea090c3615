"""Named model configs and safe checkpoints (open_clip style).

`list_models()` names the YAML files in `avu/models/configs/` (one `ModelConfig` each, a comment
per field); `create_model(name_or_yaml, checkpoint=None, **overrides)` builds the model and,
when given a checkpoint, loads its weights. A checkpoint is a folder (or the `.safetensors`
file in it) holding `model.safetensors` and `model.json` (the full config, vocabulary included,
plus training metadata), so loading never unpickles anything.

`load_backbone_weights(tower, path)` loads a user's pretrained backbone from a local file:
safetensors, or a torch file read with `weights_only=True`; torchvision state dicts,
pytorchvideo's `{"model_state": ...}` and open_clip's `visual.`-prefixed keys are recognised.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file, save_file
from torch import nn

from avu.models.model import AVModel, ModelConfig

CONFIG_DIR = Path(os.environ.get("AVU_MODEL_CONFIGS") or Path(__file__).resolve().parent / "configs")
WEIGHTS_FILE, CONFIG_FILE = "model.safetensors", "model.json"


def list_models() -> list[str]:
    """Names of the model configs in `avu/models/configs/`."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def get_model_config(name_or_path: str | Path) -> ModelConfig:
    """A named config (`list_models()`), or a YAML file path."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = CONFIG_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ValueError(f"unknown model {str(name_or_path)!r}; available: {', '.join(list_models()) or 'none'}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model config not found")
    d = yaml.safe_load(path.read_text()) or {}
    if not isinstance(d, dict):
        raise ValueError(f"{path}: a model config is a mapping, got {type(d).__name__}")
    d.setdefault("name", path.stem)
    try:
        return ModelConfig.from_dict(d)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from None


def create_model(name: str | Path | ModelConfig, checkpoint: str | Path | None = None, **overrides: Any) -> AVModel:
    """Build a model from a name, a YAML path or a config; `checkpoint` loads its weights.

    With a checkpoint, the checkpoint's own config (vocabulary included) builds the model, so
    `name` and `overrides` only pick the recipe when there is none."""
    if checkpoint is not None:
        return load_checkpoint(checkpoint).train()
    cfg = name if isinstance(name, ModelConfig) else get_model_config(name)
    if overrides:
        cfg = cfg.replace(**overrides)
    model = AVModel(cfg)
    if model.visual is not None and cfg.visual.checkpoint:
        load_backbone_weights(model.visual, cfg.visual.checkpoint)
    return model


def save_checkpoint(model: AVModel, folder: str | Path, **meta: Any) -> Path:
    """Write `model.safetensors` + `model.json` into `folder` (atomically per file)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = folder / (WEIGHTS_FILE + ".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, folder / WEIGHTS_FILE)
    doc = {"config": model.cfg.to_dict(), **meta}
    (folder / (CONFIG_FILE + ".tmp")).write_text(json.dumps(doc, indent=1))
    os.replace(folder / (CONFIG_FILE + ".tmp"), folder / CONFIG_FILE)
    return folder


def read_checkpoint(path: str | Path) -> tuple[ModelConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """(config, state dict, metadata) of a checkpoint folder or its .safetensors file."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    weights, config = folder / WEIGHTS_FILE, folder / CONFIG_FILE
    for p in (weights, config):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: checkpoint file missing "
                                    f"(a checkpoint holds {WEIGHTS_FILE} and {CONFIG_FILE})")
    try:
        doc = json.loads(config.read_text())
        cfg = ModelConfig.from_dict(doc["config"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{config}: not a valid avu model config ({e})") from None
    try:
        state = load_file(str(weights))
    except Exception as e:  # safetensors raises its own error types
        raise ValueError(f"{weights}: not a readable safetensors file ({e})") from None
    return cfg, state, {k: v for k, v in doc.items() if k != "config"}


def load_checkpoint(path: str | Path) -> AVModel:
    cfg, state, _ = read_checkpoint(path)
    model = AVModel(cfg)
    model.load_state_dict(state)
    return model.eval()


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: backbone checkpoint not found")
    if path.suffix == ".safetensors":
        return load_file(str(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path}: not a weights-only torch checkpoint ({type(e).__name__}: {e})") from None
    for key in ("model_state", "state_dict", "model"):  # pytorchvideo / lightning / generic wrappers
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path}: expected a state dict of tensors")
    return obj


def load_backbone_weights(tower: nn.Module, path: str | Path, *, strict: bool = False) -> dict[str, list[str]]:
    """Load a local pretrained backbone into a visual tower; returns missing/unexpected keys.

    Keys are matched against the tower's inner network (`tower.net` when present); prefixes
    `module.`, `visual.` (open_clip) and `model.` are removed; classifier weights are ignored.
    Raises when no key matches at all (wrong architecture).
    """
    path = Path(path)
    state = _read_state(path)
    target = getattr(tower, "net", tower)
    own = target.state_dict()
    clean: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        for prefix in ("module.", "visual.", "model."):
            if k.startswith(prefix) and k[len(prefix):] in own:
                k = k[len(prefix):]
        if k in own and own[k].shape == v.shape:
            clean[k] = v
    if not clean:
        raise ValueError(f"{path}: none of its {len(state)} tensors match {type(target).__name__} "
                         f"(first keys: {list(state)[:3]})")
    result = target.load_state_dict(clean, strict=strict)
    return {"missing": list(result.missing_keys), "unexpected": list(result.unexpected_keys),
            "loaded": sorted(clean)}


__all__ = ["list_models", "get_model_config", "create_model", "save_checkpoint", "read_checkpoint",
           "load_checkpoint", "load_backbone_weights", "CONFIG_DIR"]
