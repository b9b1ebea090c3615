"""Cached frozen-extractor features for the pretrained towers (`avu.models.pretrained`).

MobileNetV2 (pooled 1280-d per frame) and YAMNet (1024-d per 0.975 s patch) run once per item,
outside autograd, and their output is kept as safetensors under the task's data cache
(`<data_cache>/features/<task>-<key>-<split>-<backbone>.safetensors`, the key hashing the items);
a second run, or a second variant of `avu eval avshapes`, loads the file. Training batches of a
model whose towers are pretrained come from here instead of frames and log-mels
(`clip_batch`, `image_features`). Audio is cropped at training time in whole patches
(`cfg.audio_crop` seconds); frame jitter does not apply to cached features.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from avu.models.pretrained import pretrained_backbones
from avu.perception.yamnet import HOP, PATCH, SR

CLIP_SECONDS = 5.0  # avshapes / LSMDC-style clips are read as 5 s of audio for YAMNet
_EXTRACTORS: dict[str, Any] = {}  # backbone name -> loaded TFLite adapter (one per process)


def extractor(backbone: str):
    """The perception adapter behind a pretrained backbone, loaded from the pinned model files."""
    if backbone not in _EXTRACTORS:
        from avu.perception.files import MODALITY_FILES, find_model

        if backbone == "mobilenet_v2_tflite":
            from avu.perception.mobilenet import MobileNetV2 as cls
            files = MODALITY_FILES["seen"]
        elif backbone == "yamnet":
            from avu.perception.yamnet import YAMNet as cls
            files = MODALITY_FILES["heard"]
        else:
            raise ValueError(f"unknown pretrained backbone {backbone!r}")
        _EXTRACTORS[backbone] = cls(*(find_model(n) for n in files), threads=1)
    return _EXTRACTORS[backbone]


def cached(path: Path, compute: Callable[[], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """`compute()` once, saved to `path` (atomically); later calls load the file."""
    if path.is_file():
        return load_file(str(path))
    tensors = {k: v.contiguous() for k, v in compute().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    save_file(tensors, str(tmp))
    os.replace(tmp, path)
    return tensors


def items_key(names: list[str], extra: str = "") -> str:
    return hashlib.blake2b(("\n".join(names) + "\0" + extra).encode(), digest_size=6).hexdigest()


def frame_features(frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames [N, T, H, W, 3] (or images [N, H, W, 3]) -> MobileNetV2 pooled features [N, T, 1280]."""
    x = frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if x.ndim == 4:
        x = x[:, None]
    model = extractor("mobilenet_v2_tflite")
    n, t = x.shape[:2]
    _, feats = model.run(x.reshape(n * t, *x.shape[2:]))
    return torch.from_numpy(feats).view(n, t, -1)


def audio_features(files: list[str], seconds: float = CLIP_SECONDS) -> torch.Tensor:
    """YAMNet embeddings [N, P, 1024] of each file's first `seconds` (16 kHz mono, zero-padded)."""
    from avu.media.audio import read_audio

    model = extractor("yamnet")
    n_samples = int(round(seconds * SR))
    out = []
    for f in files:
        try:
            wave = read_audio(f, sr=SR).waveform.numpy().reshape(-1)
        except Exception as e:  # name the file, not just the decoder's message
            raise ValueError(f"{f}: audio could not be decoded for YAMNet ({e})") from None
        wave = np.pad(wave, (0, max(0, n_samples - wave.size)))[:n_samples]
        out.append(torch.from_numpy(model.run_wave(wave, SR)[1]))
    return torch.stack(out)


def split_features(task, split: str, backbones: dict[str, str]) -> dict[str, torch.Tensor]:
    """{"visual": [N, T, 1280], "audio": [N, P, 1024]} of a clip split (frames + files), cached."""
    s = task.splits[split]
    key = items_key(list(s.files), f"{tuple(s.frames.shape)}")
    root = Path(task.cfg.data_cache) / "features"
    out = {}
    if "visual" in backbones:
        out["visual"] = cached(root / f"{task.name}-{key}-{split}-{backbones['visual']}.safetensors",
                               lambda: {"features": frame_features(s.frames)})["features"]
    if "audio" in backbones:
        out["audio"] = cached(root / f"{task.name}-{key}-{split}-{backbones['audio']}.safetensors",
                              lambda: {"features": audio_features(list(s.files))})["features"]
    return out


def crop_patches(seconds: float) -> int:
    """YAMNet patches that cover `seconds` of audio (2 s: 4)."""
    return 1 + max(0, int(np.ceil((seconds * SR - PATCH) / HOP)))


def clip_batch(task, model, split: str, idx: torch.Tensor, *, train: bool, g: torch.Generator | None,
               device: Any) -> dict[str, Any] | None:
    """A training/eval batch of cached features for a model with pretrained towers (None otherwise)."""
    backbones = pretrained_backbones(model.cfg)
    if not backbones:
        return None
    feats = split_features(task, split, backbones)
    s = task.splits[split]
    video = audio = None
    if "visual" in model.cfg.modalities:
        if "visual" not in feats:
            raise ValueError(f"model {model.cfg.name!r}: mixing a pretrained audio tower with a from-scratch visual "
                             "tower is not supported (both read cached features or neither)")
        video = feats["visual"][idx]
        t = model.cfg.visual.num_frames
        if t < video.shape[1]:  # evenly spaced subset of the frames, as for raw frames
            video = video[:, torch.linspace(0, video.shape[1] - 1, t).round().long()]
    if "audio" in model.cfg.modalities:
        if "audio" not in feats:
            raise ValueError(f"model {model.cfg.name!r}: mixing a pretrained visual tower with a from-scratch audio "
                             "tower is not supported (both read cached features or neither)")
        audio = feats["audio"][idx]
        k = crop_patches(task.cfg.audio_crop) if task.cfg.audio_crop else audio.shape[1]
        if train and 0 < k < audio.shape[1]:
            starts = torch.randint(0, audio.shape[1] - k + 1, (len(idx),), generator=g)
            audio = torch.stack([a[int(b):int(b) + k] for a, b in zip(audio, starts)])
    text = task.text_rows(model, split, idx)
    return {"video": None if video is None else video.to(device), "audio": None if audio is None else audio.to(device),
            "text": text.to(device), "captions": [s.captions[int(i)] for i in idx]}


def image_features(task, split: str) -> dict[str, torch.Tensor]:
    """MobileNetV2 features of an image split, as is and flipped: {"features", "flipped"} [N, 1280]."""
    s = task.splits[split]
    key = items_key([str(im.path) for im in s.images], f"{tuple(s.frames.shape)}")
    # splits sharing images share it
    path = Path(task.cfg.data_cache) / "features" / f"{task.name}-{key}-mobilenet_v2_tflite.safetensors"
    return cached(path, lambda: {"features": frame_features(s.frames)[:, 0],
                                 "flipped": frame_features(s.frames.flip(2))[:, 0]})


__all__ = ["audio_features", "cached", "clip_batch", "crop_patches", "extractor", "frame_features",
           "image_features", "split_features"]
