"""Models: the encoders that turn segments and queries into embeddings.

Only pretrained parts that ship inside packages are used as-is (MiniLM for text); visual and
audio encoders are trained by avu's own recipes or loaded from a checkpoint the user names.
The registry (`list_models`, `create_model`, `load_checkpoint`, `save_checkpoint`) and the shared
`AVModel` are imported lazily, so importing this package does not import torch.
"""
from avu.models.text import MiniLM, load_minilm

_LAZY = {"list_models": "registry", "create_model": "registry", "load_checkpoint": "registry",
         "save_checkpoint": "registry", "get_model_config": "registry", "load_backbone_weights": "registry",
         "AVModel": "model", "ModelConfig": "model"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"avu.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'avu.models' has no attribute {name!r}")


__all__ = ["MiniLM", "load_minilm", *_LAZY]
