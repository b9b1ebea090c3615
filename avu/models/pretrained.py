"""Frozen pretrained towers: MobileNetV2 pooled features per frame, YAMNet embeddings per patch.

The extractors are the perception package's TFLite models (`avu.perception.mobilenet`,
`avu.perception.yamnet`); they run outside autograd, once per item, and training tasks cache
their output on disk (`avu.train.tasks._features`). Inside the model a `FeatureTower` only
checks and passes the cached features on as a token sequence: it has no parameters, so nothing
of the extractor is trained and the gated embedding units and the fusion on top learn alone.

    visual.backbone: mobilenet_v2_tflite   # [B, T, 1280], one token per frame
    audio.backbone: yamnet                 # [B, P, 1024], one token per 0.975 s patch (0.48 s hop)
"""
from __future__ import annotations

import torch
from torch import nn

VISUAL_FEATURES = {"mobilenet_v2_tflite": 1280}  # visual backbone name -> feature width
AUDIO_FEATURES = {"yamnet": 1024}  # audio backbone name -> feature width


class FeatureTower(nn.Module):
    """Precomputed features [B, T, dim] (or one token [B, dim]) -> tokens [B, T, dim]; no parameters."""

    def __init__(self, backbone: str, dim: int):
        super().__init__()
        self.backbone, self.out_dim = backbone, int(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim not in (2, 3) or x.shape[-1] != self.out_dim:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"the {self.backbone} tower reads cached {self.out_dim}-d features [B, T, {self.out_dim}] "
                             f"(avu.train.tasks._features), got {shape}; raw frames or log-mels need another backbone")
        x = x.float()
        return (x.unsqueeze(1) if x.ndim == 2 else x).detach()


def create_feature_tower(backbone: str) -> FeatureTower:
    """The frozen tower of a pretrained backbone name (`VISUAL_FEATURES` or `AUDIO_FEATURES`)."""
    dims = {**VISUAL_FEATURES, **AUDIO_FEATURES}
    if backbone not in dims:
        raise ValueError(f"unknown pretrained backbone {backbone!r}; known: {', '.join(dims)}")
    return FeatureTower(backbone, dims[backbone])


def pretrained_backbones(cfg) -> dict[str, str]:
    """{"visual": name, "audio": name} for the streams of a ModelConfig that read cached features."""
    out = {}
    if "visual" in cfg.modalities and cfg.visual.backbone in VISUAL_FEATURES:
        out["visual"] = cfg.visual.backbone
    if "audio" in cfg.modalities and cfg.audio.backbone in AUDIO_FEATURES:
        out["audio"] = cfg.audio.backbone
    return out


__all__ = ["AUDIO_FEATURES", "VISUAL_FEATURES", "FeatureTower", "create_feature_tower", "pretrained_backbones"]
