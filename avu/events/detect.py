"""Sound-event detection with the shipped ESC-10 model.

`EventModel.load(path=None)` rebuilds the classifier from `esc10.json` (labels, encoder config,
mel config) and loads `esc10.safetensors` with safetensors (default: the files shipped under
`avu/models/weights/`). `model.scores(waveforms)` maps 16 kHz windows [B, N] (or one [N]) to
class probabilities [B, 10] in the order of `model.labels`.

`detect_events(times_and_scores, ...)` turns per-window scores into events: each class's score
sequence is smoothed with a centred moving average over `smoothing` windows, thresholded, runs
of consecutive windows above the threshold become events (start of the first window, end of the
last), events of one label separated by at most `merge_gap` seconds are merged, and events
shorter than `min_duration` are dropped. Confidence is the mean smoothed score over the event.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from avu.media.audio import log_mel
from avu.models.audio import AudioClassifier, create_audio_encoder

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "models" / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "esc10.safetensors"


class Event(NamedTuple):
    """A detected event: label, start and end seconds, confidence in [0, 1], its kind: "sound"
    (an AudioSet or ESC-10 class), "prompt" (a free-text prompt), "object" (a COCO object on
    screen), "visual" or "audio-visual"; and for objects the most seen at once in one frame."""

    label: str
    start: float
    end: float
    confidence: float
    kind: str = "sound"
    count: int | None = None


class EventModel:
    """A loaded ESC-10 classifier applied to raw 16 kHz audio windows."""

    def __init__(self, model: AudioClassifier, labels: list[str], mel: dict[str, Any], meta: dict[str, Any]):
        self.model = model.eval()
        self.labels = list(labels)
        self.mel = dict(mel)
        self.meta = meta
        self.sr = int(mel["sr"])

    @classmethod
    def load(cls, path: str | Path | None = None) -> "EventModel":
        """Load `esc10.safetensors` (and the `esc10.json` beside it); default: the shipped model."""
        weights = Path(path) if path is not None else DEFAULT_WEIGHTS
        if weights.is_dir():
            weights = weights / "esc10.safetensors"
        config = weights.with_suffix(".json")
        if not weights.is_file() or not config.is_file():
            raise RuntimeError(f"event model not found: need {weights} and {config} (train one with `avu train-esc10`)")
        meta = json.loads(config.read_text())
        m = meta["model"]
        model = AudioClassifier(create_audio_encoder(**m["encoder"]), int(m["n_classes"]),
                                dropout=float(m.get("head_dropout", 0.0)))
        state = load_file(str(weights))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise RuntimeError(f"{weights} does not match {config}: missing {missing[:3]}, unexpected {unexpected[:3]}")
        if len(meta["labels"]) != model.n_classes:
            raise RuntimeError(f"{config}: {len(meta['labels'])} labels for {model.n_classes} classes")
        return cls(model, meta["labels"], meta["mel"], meta)

    def mels(self, waveforms: torch.Tensor) -> torch.Tensor:
        """Log-mels [B, n_mels, T] of waveforms [B, N] computed exactly as in training."""
        return log_mel(waveforms, sr=self.sr, n_mels=int(self.mel["n_mels"]), win_ms=float(self.mel["win_ms"]),
                       hop_ms=float(self.mel["hop_ms"]), eps=float(self.mel.get("eps", 1e-6)))

    @torch.no_grad()
    def scores(self, waveforms: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Class probabilities [B, n_classes] for 16 kHz waveforms [B, N] (or [N])."""
        w = torch.as_tensor(waveforms, dtype=torch.float32)
        if w.ndim == 1:
            w = w.unsqueeze(0)
        if w.ndim != 2 or w.shape[1] < self.sr // 10:
            raise ValueError(f"expected waveforms [B, N] with N >= {self.sr // 10} samples, got {tuple(w.shape)}")
        return F.softmax(self.model(self.mels(w)), dim=-1)

    def __repr__(self) -> str:
        return f"EventModel(labels={self.labels}, sr={self.sr})"


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average along axis 0 over `width` windows (shrinks at the edges)."""
    if width <= 1:
        return x
    half = width // 2
    c = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x]), axis=0)
    n = x.shape[0]
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) + (width - half), 0, n)
    return (c[hi] - c[lo]) / (hi - lo)[:, None]


def detect_events(times_and_scores: Sequence[tuple[float, float, Sequence[float] | Mapping[str, float]]], *,
                  threshold: float = 0.5, min_duration: float = 0.0, smoothing: int = 1,
                  labels: Sequence[str] | None = None, merge_gap: float = 0.0, kind: str = "sound") -> list[Event]:
    """Events `(label, start, end, confidence)` from windows `(start, end, scores)`.

    `scores` is a vector in the order of `labels` (default "0", "1", ...) or a mapping from label
    to score. Windows are sorted by start; two windows are consecutive when the second starts no
    later than `merge_gap` seconds after the first ends. Returned events are sorted by start and
    carry `kind`.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    if smoothing < 1 or min_duration < 0 or merge_gap < 0:
        raise ValueError("need smoothing >= 1, min_duration >= 0 and merge_gap >= 0")
    if not times_and_scores:
        return []
    rows = sorted(times_and_scores, key=lambda r: (float(r[0]), float(r[1])))
    first = rows[0][2]
    if isinstance(first, Mapping):
        names = list(labels) if labels is not None else list(first)
        mat = np.array([[float(r[2].get(n, 0.0)) for n in names] for r in rows])  # type: ignore[union-attr]
    else:
        mat = np.array([np.asarray(r[2], dtype=np.float64) for r in rows])
        names = list(labels) if labels is not None else [str(i) for i in range(mat.shape[1])]
    if mat.ndim != 2 or mat.shape[1] != len(names):
        raise ValueError(f"scores have {mat.shape[-1]} columns for {len(names)} labels")
    starts = np.array([float(r[0]) for r in rows])
    ends = np.array([float(r[1]) for r in rows])
    if np.any(ends <= starts):
        raise ValueError("every window needs start < end")
    smooth = _smooth(mat, smoothing)
    events: list[Event] = []
    for c, name in enumerate(names):
        active = smooth[:, c] >= threshold
        i = 0
        while i < len(rows):
            if not active[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(rows) and active[j + 1] and starts[j + 1] <= ends[j] + merge_gap + 1e-9:
                j += 1
            events.append(Event(name, float(starts[i]), float(ends[i:j + 1].max()),
                                float(smooth[i:j + 1, c].mean()), kind))
            i = j + 1
    keep = [e for e in events if e.end - e.start >= min_duration - 1e-9]
    return sorted(keep, key=lambda e: (e.start, e.end, e.label))


def detect_in_waveform(model: EventModel, waveform: torch.Tensor, *, window: float = 5.0, hop: float = 1.0,
                       threshold: float = 0.5, min_duration: float = 0.0, smoothing: int = 1,
                       batch: int = 32) -> list[Event]:
    """Slide `window`-second windows every `hop` seconds over a 16 kHz waveform [N] and detect events."""
    w = torch.as_tensor(waveform, dtype=torch.float32).flatten()
    win, step = int(round(window * model.sr)), int(round(hop * model.sr))
    if win <= 0 or step <= 0:
        raise ValueError("window and hop must be positive")
    if w.shape[0] < win:
        w = F.pad(w, (0, win - w.shape[0]))
    offsets = list(range(0, w.shape[0] - win + 1, step))
    rows: list[tuple[float, float, Sequence[float]]] = []
    for i in range(0, len(offsets), batch):
        chunk = offsets[i:i + batch]
        p = model.scores(torch.stack([w[o:o + win] for o in chunk])).numpy()
        rows += [(o / model.sr, (o + win) / model.sr, p[k]) for k, o in enumerate(chunk)]
    return detect_events(rows, threshold=threshold, min_duration=min_duration, smoothing=smoothing,
                         labels=model.labels)


__all__ = ["Event", "EventModel", "detect_events", "detect_in_waveform", "DEFAULT_WEIGHTS"]
