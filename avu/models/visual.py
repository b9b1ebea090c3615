"""Visual towers: frames [B, T, 3, H, W] -> a sequence of feature tokens [B, T', C].

Every tower returns tokens, not a pooled vector, so the fusion modules (`avu.models.fusion`)
decide how to pool and can exchange information across modalities and time. Three families:

- `FrameCNN`: a small per-frame 2-D residual CNN plus a temporal convolution (so the order of
  frames, i.e. the direction of a motion, survives pooling). Trained from scratch by our recipes.
- `TorchvisionImage`: any torchvision image classifier (`resnet18`, `efficientnet_b0`, ...) run
  per frame with its classifier removed; `TorchvisionVideo`: torchvision's video ResNets
  (`r3d_18`, `r2plus1d_18`, `mc3_18`), spatially pooled, keeping time.
- `PyTorchVideo`: pytorchvideo's `create_x3d` / `create_resnet` builders, heads removed.

None of them downloads anything: weights come from a local checkpoint the user names
(`avu.models.registry.load_backbone_weights`). An image is a one-frame video (T = 1).
Input pixels are float in [0, 1]; each tower normalises with its own mean/std.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from avu.models.audio import ResBlock2d

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)


@dataclass(frozen=True)
class VisualConfig:
    """Everything needed to rebuild a visual tower (stored in checkpoint JSON)."""

    # frame_cnn | torchvision:<image model> | torchvision_video:<r3d_18...> | x3d | slow_r50
    # | mobilenet_v2_tflite (frozen, cached)
    backbone: str = "frame_cnn"
    width: int = 16  # frame_cnn: channels of the first stage (doubling per stage)
    stages: int = 3  # frame_cnn: residual stages after the stride-2 stem, each with stride 2
    temporal_kernel: int = 3  # frame_cnn: kernel of the temporal convolution over frame features (1 = none)
    stem_stride: int = 2  # frame_cnn: stride of the first convolution (4 = 4x4 patches, much cheaper)
    frame_size: int = 64  # square input side the tower expects (frames are resized to it)
    num_frames: int = 8  # frames sampled per clip
    checkpoint: str = ""  # local backbone weights (safetensors or weights-only torch file); "" = none

    def __post_init__(self) -> None:
        if self.width < 1 or self.stages < 1 or self.frame_size < 8 or self.num_frames < 1:
            raise ValueError(f"invalid visual tower sizes: {self}")
        if self.stem_stride not in (1, 2, 4):
            raise ValueError(f"stem_stride must be 1, 2 or 4, got {self.stem_stride}")
        if self.temporal_kernel < 1 or self.temporal_kernel % 2 == 0:
            raise ValueError(f"temporal_kernel must be a positive odd number, got {self.temporal_kernel}")


def _check_frames(x: torch.Tensor) -> torch.Tensor:
    if x.ndim == 4:  # images [B, 3, H, W] are one-frame videos
        x = x.unsqueeze(1)
    if x.ndim != 5 or x.shape[2] != 3:
        raise ValueError(f"expected frames [B, T, 3, H, W] (or images [B, 3, H, W]), got {tuple(x.shape)}")
    return x.float()


class _Normalize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class FrameCNN(nn.Module):
    """Per-frame residual CNN + temporal convolution: [B, T, 3, H, W] -> [B, T, C]."""

    def __init__(self, cfg: VisualConfig):
        super().__init__()
        self.norm = _Normalize(IMAGENET_MEAN, IMAGENET_STD)
        k = 3 if cfg.stem_stride < 4 else 4  # stride 4: non-overlapping 4x4 patches
        layers: list[nn.Module] = [nn.Conv2d(3, cfg.width, k, stride=cfg.stem_stride, padding=1 if k == 3 else 0,
                                             bias=False), nn.BatchNorm2d(cfg.width), nn.ReLU()]
        c = cfg.width
        for i in range(cfg.stages):
            c_out = cfg.width * 2 ** i
            layers.append(ResBlock2d(c, c_out, stride=2))
            c = c_out
        self.cnn = nn.Sequential(*layers)
        self.temporal = (nn.Conv1d(c, c, cfg.temporal_kernel, padding=cfg.temporal_kernel // 2)
                         if cfg.temporal_kernel > 1 else None)
        self.out_dim = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(_check_frames(x))
        b, t = x.shape[:2]
        h = self.cnn(x.flatten(0, 1)).mean((-2, -1)).view(b, t, -1)  # [B, T, C]
        if self.temporal is not None and t > 1:
            h = h + F.relu(self.temporal(h.transpose(1, 2))).transpose(1, 2)
        return h


class TorchvisionImage(nn.Module):
    """A torchvision image model applied per frame, classifier removed: -> [B, T, C]."""

    def __init__(self, name: str):
        super().__init__()
        import torchvision

        self.net = torchvision.models.get_model(name, weights=None)
        self.out_dim = _strip_classifier(self.net)
        self.norm = _Normalize(IMAGENET_MEAN, IMAGENET_STD)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(_check_frames(x))
        b, t = x.shape[:2]
        return self.net(x.flatten(0, 1)).view(b, t, -1)


class TorchvisionVideo(nn.Module):
    """torchvision's video ResNets (r3d_18, r2plus1d_18, mc3_18): -> [B, T', 512]."""

    def __init__(self, name: str):
        super().__init__()
        import torchvision

        self.net = torchvision.models.get_model(name, weights=None)
        self.out_dim = self.net.fc.in_features
        self.net.fc = nn.Identity()
        self.norm = _Normalize(KINETICS_MEAN, KINETICS_STD)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(_check_frames(x)).transpose(1, 2)  # [B, 3, T, H, W]
        n = self.net
        h = n.layer4(n.layer3(n.layer2(n.layer1(n.stem(x)))))  # [B, C, T', H', W']
        return h.mean((-2, -1)).transpose(1, 2)


class PyTorchVideo(nn.Module):
    """pytorchvideo's X3D (`x3d`) or slow ResNet-50 (`slow_r50`), head removed: -> [B, T', C]."""

    def __init__(self, name: str, cfg: VisualConfig):
        super().__init__()
        if name == "x3d":
            from pytorchvideo.models.x3d import create_x3d

            self.net = create_x3d(input_clip_length=cfg.num_frames, input_crop_size=cfg.frame_size,
                                  model_num_class=400)
        elif name == "slow_r50":
            from pytorchvideo.models.resnet import create_resnet

            self.net = create_resnet(model_num_class=400, model_depth=50)
        else:
            raise ValueError(f"unknown pytorchvideo backbone {name!r} (use x3d or slow_r50)")
        self.blocks = self.net.blocks[:-1]  # the last block is the classification head
        self.out_dim = _last_channels(self.blocks)
        self.norm = _Normalize(KINETICS_MEAN, KINETICS_STD)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(_check_frames(x)).transpose(1, 2)
        for block in self.blocks:
            h = block(h)
        return h.mean((-2, -1)).transpose(1, 2)


def _strip_classifier(net: nn.Module) -> int:
    """Replace a torchvision classifier head by Identity; return the feature size."""
    for attr in ("fc", "head", "heads"):
        head = getattr(net, attr, None)
        if isinstance(head, nn.Linear):
            setattr(net, attr, nn.Identity())
            return head.in_features
    cls = getattr(net, "classifier", None)
    if isinstance(cls, nn.Sequential):
        last = [m for m in cls if isinstance(m, nn.Linear)]
        if last:
            net.classifier = nn.Identity()
            return last[0].in_features
    if isinstance(cls, nn.Linear):
        net.classifier = nn.Identity()
        return cls.in_features
    raise ValueError(f"cannot find the classifier of {type(net).__name__} to remove")


def _last_channels(blocks: nn.Module) -> int:
    convs = [m for m in blocks.modules() if isinstance(m, nn.Conv3d)]
    return convs[-1].out_channels


def create_visual_tower(cfg: VisualConfig) -> nn.Module:
    """Build the tower named by `cfg.backbone` (weights are loaded separately)."""
    from avu.models.pretrained import VISUAL_FEATURES, create_feature_tower

    if cfg.backbone in VISUAL_FEATURES:  # frozen, cached features (avu.models.pretrained)
        return create_feature_tower(cfg.backbone)
    kind, _, name = cfg.backbone.partition(":")
    if kind == "frame_cnn":
        return FrameCNN(cfg)
    if kind == "torchvision" and name:
        return TorchvisionImage(name)
    if kind == "torchvision_video" and name:
        return TorchvisionVideo(name)
    if kind in ("x3d", "slow_r50"):
        return PyTorchVideo(kind, cfg)
    raise ValueError(f"unknown visual backbone {cfg.backbone!r}: use frame_cnn, torchvision:<name>, "
                     "torchvision_video:<r3d_18|r2plus1d_18|mc3_18>, x3d, slow_r50 or mobilenet_v2_tflite")


__all__ = ["VisualConfig", "FrameCNN", "TorchvisionImage", "TorchvisionVideo", "PyTorchVideo",
           "create_visual_tower"]
