"""A small ResDAVEnet-style audio encoder over log-mel spectrograms, and a classifier head.

ResDAVEnet (Harwath et al., 2018/2020) reads a log-mel spectrogram with a first convolution
that spans the frequency axis and then runs stacks of residual 1-D convolutions over time, each
stack halving the frame rate, before pooling over time. This encoder keeps that shape and adds
an optional small 2-D residual stem in front (3x3 convolutions over frequency and time, stride
2 in both), which gives the 1-D stages frequency-local features at little cost. It is sized for
training from scratch on a CPU (a few hundred thousand parameters).

`create_audio_encoder(*, width=..., embed_dim=..., ...)` builds an `AudioEncoder`;
`encoder.encode_audio(mel, normalize=True)` maps log-mels [B, n_mels, T] (or [n_mels, T]) to
embeddings [B, embed_dim] (L2-normalised when `normalize`). `AudioClassifier` puts a linear
head on the embedding (used for ESC-10). `AudioEncoderConfig` is a plain dataclass, so a
checkpoint's JSON rebuilds the exact module.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class AudioEncoderConfig:
    """Everything needed to rebuild an `AudioEncoder` (stored in checkpoint JSON)."""

    n_mels: int = 64  # mel bins of the input log-mel spectrogram
    # resdavenet (this encoder, from scratch) | yamnet (frozen cached embeddings; AVModel only)
    backbone: str = "resdavenet"
    stem_channels: int = 16  # channels of the 2-D residual stem; 0 = pure 1-D ResDAVEnet stem
    stem_stages: int = 1  # 2-D stem stages (each: stride 2 in frequency and time, channels x2 after the first)
    width: int = 64  # channels of the first 1-D stage
    stage_mults: tuple[int, ...] = (1, 2, 2, 4)  # channel multiplier of each 1-D stage (width * m)
    blocks_per_stage: int = 1  # residual blocks in each 1-D stage
    kernel: int = 5  # temporal kernel size of the 1-D convolutions (odd)
    embed_dim: int = 128  # size of the pooled embedding
    dropout: float = 0.1  # dropout before the embedding projection

    def __post_init__(self) -> None:
        if self.n_mels < 4 or self.width < 1 or self.embed_dim < 1 or self.stem_channels < 0:
            raise ValueError(f"invalid audio encoder sizes: {self}")
        if self.stem_stages < 1:
            raise ValueError(f"stem_stages must be >= 1, got {self.stem_stages}")
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise ValueError(f"kernel must be a positive odd number, got {self.kernel}")
        if not self.stage_mults or any(m < 1 for m in self.stage_mults) or self.blocks_per_stage < 1:
            raise ValueError(f"stage_mults and blocks_per_stage must be positive, got {self}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stage_mults"] = list(self.stage_mults)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AudioEncoderConfig":
        d = dict(d)
        if "stage_mults" in d:
            d["stage_mults"] = tuple(int(m) for m in d["stage_mults"])
        return cls(**d)


class ResBlock2d(nn.Module):
    """Two 3x3 convolutions with batch norm and a (strided 1x1) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.short = (nn.Identity() if stride == 1 and c_in == c_out else
                      nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.short(x))


class ResBlock1d(nn.Module):
    """ResDAVEnet's basic block: two temporal convolutions with batch norm, strided shortcut."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.short = (nn.Identity() if stride == 1 and c_in == c_out else
                      nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm1d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.short(x))


class AudioEncoder(nn.Module):
    """Log-mel [B, n_mels, T] -> embedding [B, embed_dim]; see the module docstring."""

    def __init__(self, cfg: AudioEncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.input_norm = nn.BatchNorm1d(cfg.n_mels)  # learns the per-bin mean and scale of log-mels
        if cfg.stem_channels > 0:
            layers: list[nn.Module] = []
            c_in, c, n_freq = 1, cfg.stem_channels, cfg.n_mels
            for _ in range(cfg.stem_stages):
                layers += [ResBlock2d(c_in, c, stride=2), ResBlock2d(c, c)]
                c_in, c, n_freq = c, 2 * c, (n_freq + 1) // 2
            self.stem2d: nn.Module = nn.Sequential(*layers)
            flat = c_in * n_freq
        else:
            self.stem2d = nn.Identity()
            flat = cfg.n_mels
        # ResDAVEnet's first layer: one convolution spanning every frequency row (here: flattened)
        self.stem1d = nn.Sequential(nn.Conv1d(flat, cfg.width, 1, bias=False), nn.BatchNorm1d(cfg.width), nn.ReLU())
        blocks: list[nn.Module] = []
        c_in = cfg.width
        for i, m in enumerate(cfg.stage_mults):
            c_out = cfg.width * m
            for j in range(cfg.blocks_per_stage):
                stride = 2 if (j == 0 and (i > 0 or cfg.stem_channels == 0)) else 1
                blocks.append(ResBlock1d(c_in, c_out, cfg.kernel, stride))
                c_in = c_out
        self.stages = nn.Sequential(*blocks)
        self.drop = nn.Dropout(cfg.dropout)
        self.proj = nn.Linear(2 * c_in, cfg.embed_dim)  # mean- and max-pooled features

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.encode_audio(mel, normalize=False)

    def frame_features(self, mel: torch.Tensor) -> torch.Tensor:
        """Per-frame features before temporal pooling: [B, C, T'] (T' = T / 2^(stem stages + 1-D stages - 1))."""
        if mel.ndim == 2:
            mel = mel.unsqueeze(0)
        if mel.ndim != 3 or mel.shape[1] != self.cfg.n_mels:
            raise ValueError(f"expected log-mel [B, {self.cfg.n_mels}, T], got {tuple(mel.shape)}")
        x = self.input_norm(mel.float())
        if self.cfg.stem_channels > 0:
            x = self.stem2d(x.unsqueeze(1))  # [B, C, F/2^s, T/2^s]
            x = x.flatten(1, 2)
        return self.stages(self.stem1d(x))

    def encode_audio(self, mel: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Embed log-mels [B, n_mels, T] or [n_mels, T] -> [B, embed_dim] (unit length if normalize)."""
        h = self.frame_features(mel)
        pooled = torch.cat([h.mean(-1), h.amax(-1)], dim=1)
        z = self.proj(self.drop(pooled))
        return F.normalize(z, dim=-1) if normalize else z


class AudioClassifier(nn.Module):
    """An `AudioEncoder` plus ReLU, dropout and a linear layer: log-mel -> class logits."""

    def __init__(self, encoder: AudioEncoder, n_classes: int, dropout: float = 0.3):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        self.encoder = encoder
        self.n_classes = n_classes
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(dropout), nn.Linear(encoder.cfg.embed_dim, n_classes))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder.encode_audio(mel, normalize=False))


def create_audio_encoder(*, n_mels: int = 64, stem_channels: int = 16, stem_stages: int = 1, width: int = 64,
                         stage_mults: tuple[int, ...] | list[int] = (1, 2, 2, 4), blocks_per_stage: int = 1,
                         kernel: int = 5, embed_dim: int = 128, dropout: float = 0.1) -> AudioEncoder:
    """Build an `AudioEncoder` from keyword arguments (see `AudioEncoderConfig` for each)."""
    return AudioEncoder(AudioEncoderConfig(n_mels=n_mels, stem_channels=stem_channels, stem_stages=stem_stages,
                                           width=width,
                                           stage_mults=tuple(stage_mults), blocks_per_stage=blocks_per_stage,
                                           kernel=kernel, embed_dim=embed_dim, dropout=dropout))


def count_parameters(module: nn.Module) -> int:
    """Trainable parameter count."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = ["AudioEncoderConfig", "AudioEncoder", "AudioClassifier", "ResBlock1d", "ResBlock2d",
           "create_audio_encoder", "count_parameters"]
