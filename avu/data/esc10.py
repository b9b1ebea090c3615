"""ESC-10 (Piczak 2015), the 10-class subset of ESC-50: 400 five-second clips, 40 per class, in 5
official folds (`meta.csv`, ESC-50's columns). `load_esc10` decodes every clip once at 16 kHz and
turns it into log-mels once, so training and evaluation cost only the network.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from avu.media.audio import log_mel, read_audio

SR = 16000
CLIP_SECONDS = 5.0
HOP_MS = 10.0


@dataclass
class Esc10Data:
    """All clips decoded once: log-mels [400, n_mels, 501], targets 0..9, folds 1..5, labels."""

    mels: torch.Tensor
    targets: torch.Tensor
    folds: torch.Tensor
    labels: list[str]
    files: list[str]


def read_meta(root: Path) -> list[dict[str, str]]:
    """ESC-10 rows of meta.csv (ESC-50 columns; `path` or `filename` names the clip)."""
    meta = root / "meta.csv"
    if not meta.is_file():
        raise RuntimeError(f"ESC-10 metadata not found: {meta}")
    with meta.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("esc10", "True").strip().lower() == "true"]
    if not rows:
        raise RuntimeError(f"{meta} lists no ESC-10 clips")
    return rows


def clip_name(row: dict[str, str]) -> str:
    """The audio file name of a `read_meta` row (under `<root>/audio/`)."""
    return (row.get("path") or row["filename"]).split("/")[-1]


def load_esc10(root: Path, *, n_mels: int = 64) -> Esc10Data:
    """Decode every clip at 16 kHz, pad/cut to 5 s, compute log-mels in one batch."""
    rows = read_meta(root)
    cats = sorted({(int(r["target"]), r["category"]) for r in rows})
    labels = [c for _, c in cats]
    index = {c: i for i, c in enumerate(labels)}
    n = int(SR * CLIP_SECONDS)
    waves, targets, folds, files = [], [], [], []
    for r in rows:
        name = clip_name(r)
        w = read_audio(root / "audio" / name, sr=SR).waveform
        waves.append(F.pad(w, (0, max(0, n - w.shape[0])))[:n])
        targets.append(index[r["category"]])
        folds.append(int(r["fold"]))
        files.append(name)
    mels = log_mel(torch.stack(waves), sr=SR, n_mels=n_mels, hop_ms=HOP_MS)
    return Esc10Data(mels, torch.tensor(targets), torch.tensor(folds), labels, files)


def clip_waves(root: Path):
    """The class labels, then per ESC-10 clip `(waveform, target, fold)`: 16 kHz mono float32 numpy,
    padded or cut to exactly 5 s (read lazily, one clip at a time)."""
    import numpy as np

    rows = read_meta(root)
    labels = [c for _, c in sorted({(int(r["target"]), r["category"]) for r in rows})]
    n = int(SR * CLIP_SECONDS)

    def waves():
        for r in rows:
            name = clip_name(r)
            w = read_audio(root / "audio" / name, sr=SR).waveform.numpy()[:n]
            yield np.pad(w, (0, max(0, n - w.shape[0]))), labels.index(r["category"]), int(r["fold"])

    return labels, waves()


__all__ = ["CLIP_SECONDS", "Esc10Data", "HOP_MS", "SR", "clip_name", "clip_waves", "load_esc10", "read_meta"]
