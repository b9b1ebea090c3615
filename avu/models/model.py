"""The shared AVLnet-style model: visual, audio and text towers, gated embeddings, fusion.

`ModelConfig` (a typed dataclass, one comment per field; `avu/models/configs/*.yaml` hold named ones)
rebuilds an `AVModel` exactly. The model exposes one interface for every task:

    model.encode_video({"video": frames, "audio": mel}, normalize=True)  # either may be None
    model.encode_audio(mel) / model.encode_image(images) / model.encode_text(texts)

so that retrieval in any direction is one matrix product of unit vectors. Frames are float
[B, T, 3, H, W] in [0, 1] (`prepare_frames` turns decoded uint8 [T, H, W, 3] into that); audio
is a log-mel [B, n_mels, T] (`avu.media.audio.log_mel`); text is a list of strings or the
tensor that `model.text.featurize` made from them.

Two retrieval variants from AVLnet (Rouditchenko et al., 2021): `fused` (Text-Fused: text against
the fused audio-visual embedding) and `tri` (Text-Tri: text against the visual and the audio
embeddings separately; the video embedding is their mean, so its dot product with a text is the
mean of the two similarities; needs `fusion: late`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from avu.models.audio import AudioEncoder, AudioEncoderConfig
from avu.models.fusion import create_fusion
from avu.models.gated import GatedEmbeddingUnit
from avu.models.pretrained import create_feature_tower
from avu.models.text_tower import TextConfig, create_text_tower, masked_pool
from avu.models.visual import VisualConfig, create_visual_tower

MODALITIES = ("visual", "audio")


@dataclass(frozen=True)
class ModelConfig:
    """A whole model; `to_dict`/`from_dict` round-trip it through JSON and YAML."""

    name: str = "custom"  # registry name (the YAML file's stem)
    embed_dim: int = 128  # size of the shared embedding space
    modalities: tuple[str, ...] = MODALITIES  # video-side streams the model reads: visual, audio or both
    fusion: str = "attention"  # early | intermediate | late | attention (see avu.models.fusion)
    fusion_options: dict = field(default_factory=dict)  # extra keyword arguments of the fusion module
    retrieval: str = "fused"  # fused (AVLnet Text-Fused) | tri (AVLnet Text-Tri; needs fusion: late)
    dropout: float = 0.0  # dropout inside the text gated embedding unit
    visual: VisualConfig = field(default_factory=VisualConfig)  # the visual tower
    audio: AudioEncoderConfig = field(default_factory=AudioEncoderConfig)  # the audio tower (ResDAVEnet-style)
    text: TextConfig = field(default_factory=TextConfig)  # the text tower

    def __post_init__(self) -> None:
        mods = tuple(self.modalities)
        if not mods or any(m not in MODALITIES for m in mods) or len(set(mods)) != len(mods):
            raise ValueError(f"modalities must be a non-empty subset of {MODALITIES}, got {mods}")
        object.__setattr__(self, "modalities", mods)
        if self.retrieval not in ("fused", "tri"):
            raise ValueError(f"retrieval must be 'fused' or 'tri', got {self.retrieval!r}")
        if self.retrieval == "tri" and (self.fusion != "late" or len(mods) != 2):
            raise ValueError("retrieval 'tri' compares text with each stream: it needs fusion 'late' and "
                             "both modalities")
        if self.embed_dim < 1:
            raise ValueError(f"embed_dim must be positive, got {self.embed_dim}")

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["modalities"] = list(self.modalities)
        d["fusion_options"] = dict(self.fusion_options)
        d["visual"] = asdict(self.visual)
        d["audio"] = self.audio.to_dict()
        d["text"] = {**asdict(self.text), "vocab": list(self.text.vocab)}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)} (valid: {sorted(known)})")
        d = dict(d)
        if "modalities" in d:
            d["modalities"] = tuple(d["modalities"])
        if "visual" in d:
            d["visual"] = VisualConfig(**d["visual"])
        if "audio" in d:
            d["audio"] = AudioEncoderConfig.from_dict(d["audio"])
        if "text" in d:
            t = dict(d["text"])
            if "vocab" in t:
                t["vocab"] = tuple(t["vocab"])
            d["text"] = TextConfig(**t)
        return cls(**d)

    def replace(self, **changes: Any) -> "ModelConfig":
        """A copy with `changes`; a mapping given for visual/audio/text/fusion_options updates those keys only."""
        d = self.to_dict()
        for k, v in changes.items():
            d[k] = {**d[k], **v} if isinstance(v, Mapping) and isinstance(d.get(k), dict) and k != "fusion_options" \
                else v
        return ModelConfig.from_dict(d)


class AudioTower(nn.Module):
    """The ResDAVEnet-style encoder's frame features as tokens: log-mel [B, M, T] -> [B, T', C]."""

    def __init__(self, cfg: AudioEncoderConfig):
        super().__init__()
        self.encoder = AudioEncoder(cfg)
        self.encoder.proj = nn.Identity()  # the model's gated units project instead
        self.encoder.drop = nn.Identity()
        self.out_dim = cfg.width * cfg.stage_mults[-1]

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.encoder.frame_features(mel).transpose(1, 2)


class AVModel(nn.Module):
    """Towers + fusion + gated embedding units; see the module docstring."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.visual = create_visual_tower(cfg.visual) if "visual" in cfg.modalities else None
        self.audio = (None if "audio" not in cfg.modalities else AudioTower(cfg.audio)
                      if cfg.audio.backbone == "resdavenet" else create_feature_tower(cfg.audio.backbone))
        self.text = create_text_tower(cfg.text)
        self.text_geu = GatedEmbeddingUnit(2 * self.text.out_dim, cfg.embed_dim, dropout=cfg.dropout)
        self.fusion = create_fusion(cfg.fusion, visual_dim=self.visual.out_dim if self.visual else 1,
                                    audio_dim=self.audio.out_dim if self.audio else 1, embed_dim=cfg.embed_dim,
                                    **cfg.fusion_options)

    # -- towers ---------------------------------------------------------------------------
    def _streams(self, clip: Mapping[str, Any]) -> dict[str, Any]:
        video, audio = clip.get("video"), clip.get("audio")
        v = self.visual(video) if (self.visual is not None and video is not None) else None
        a = self.audio(audio) if (self.audio is not None and audio is not None) else None
        if v is None and a is None:
            raise ValueError(f"model {self.cfg.name!r} reads {self.cfg.modalities}; the clip has "
                             f"video={'yes' if video is not None else 'no'}, "
                             f"audio={'yes' if audio is not None else 'no'}")
        return {"visual": v, "audio": a, "visual_mask": clip.get("visual_mask") if v is not None else None,
                "audio_mask": clip.get("audio_mask") if a is not None else None}

    def text_features(self, texts: Sequence[str] | torch.Tensor) -> torch.Tensor:
        """Pooled text tower features [B, 2C] (the input of the text gated unit)."""
        if not isinstance(texts, torch.Tensor):
            texts = self.text.featurize(list(texts)).to(self.text_geu_device)
        tokens, mask = self.text(texts)
        return masked_pool(tokens, mask)

    @property
    def text_geu_device(self) -> torch.device:
        return next(self.text_geu.parameters()).device

    # -- the public interface -------------------------------------------------------------
    def encode_text(self, texts: Sequence[str] | torch.Tensor, normalize: bool = True) -> torch.Tensor:
        z = self.text_geu(self.text_features(texts))
        return F.normalize(z, dim=-1) if normalize else z

    def encode_video(self, clip: Mapping[str, Any], normalize: bool = True) -> torch.Tensor:
        """{"video": [B, T, 3, H, W] or None, "audio": [B, M, T] or None} -> [B, embed_dim]."""
        return self.video_embeddings(clip, normalize=normalize)["video"]

    def encode_audio(self, mel: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.encode_video({"video": None, "audio": mel}, normalize=normalize)

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Images [B, 3, H, W] in [0, 1] go through the visual tower as one-frame videos."""
        return self.encode_video({"video": images.unsqueeze(1) if images.ndim == 4 else images, "audio": None},
                                 normalize=normalize)

    def video_embeddings(self, clip: Mapping[str, Any], normalize: bool = True, *,
                         features: bool = False) -> dict[str, Any]:
        """{"video": the retrieval embedding} plus, for Text-Tri, {"visual", "audio"} (unit length);
        with `features`, also {"features": pooled per-stream tower features [B, 2C]} from the same
        tower pass (the targets of the adversarial reconstruction)."""
        s = self._streams(clip)
        out: dict[str, Any] = self._embed(s, normalize)
        if features:
            out["features"] = {k: masked_pool(s[k]) for k in MODALITIES if s[k] is not None}
        return out

    def stream_embeddings(self, clip: Mapping[str, Any], normalize: bool = True) -> dict[str, torch.Tensor]:
        """Visual-only, audio-only and fused retrieval embeddings of a clip, each tower run once
        (what `encode_video` gives with the other stream set to None, and with both)."""
        s = self._streams(clip)
        out = {}
        if s["visual"] is not None:
            out["visual"] = self._embed({**s, "audio": None, "audio_mask": None}, normalize)["video"]
        if s["audio"] is not None:
            out["audio"] = self._embed({**s, "visual": None, "visual_mask": None}, normalize)["video"]
        out["fused"] = self._embed(s, normalize)["video"]
        return out

    def _embed(self, s: dict[str, Any], normalize: bool) -> dict[str, torch.Tensor]:
        if self.cfg.retrieval == "tri":
            parts = self.fusion.embeddings(s["visual"], s["audio"], visual_mask=s["visual_mask"],
                                           audio_mask=s["audio_mask"])
            stack = torch.stack(list(parts.values()))  # [k, B, D]; rows of absent streams are zero
            present = (stack.abs().sum(-1) > 0).sum(0).clamp_min(1).unsqueeze(-1)
            return {"video": stack.sum(0) / present, **parts}
        z = self.fusion(s["visual"], s["audio"], visual_mask=s["visual_mask"], audio_mask=s["audio_mask"])
        return {"video": F.normalize(z, dim=-1) if normalize else z}


def prepare_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """Decoded uint8 frames [T, H, W, 3] (or [B, T, H, W, 3]) -> float [.., T, 3, size, size] in [0, 1]."""
    x = torch.as_tensor(frames)
    batched = x.ndim == 5
    if not batched:
        x = x.unsqueeze(0)
    if x.ndim != 5 or x.shape[-1] != 3:
        raise ValueError(f"expected frames [T, H, W, 3], got {tuple(frames.shape)}")
    b, t = x.shape[:2]
    x = x.permute(0, 1, 4, 2, 3).flatten(0, 1).float() / 255.0
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    x = x.view(b, t, 3, size, size)
    return x if batched else x[0]


def count_parameters(module: nn.Module, trainable: bool = True) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable)


__all__ = ["ModelConfig", "AVModel", "AudioTower", "prepare_frames", "count_parameters", "MODALITIES"]
