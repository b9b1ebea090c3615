"""Diarization results: `Turn` (one speaker talking from start to end) and `Diarization` (a file's
turns, one voice centroid per speaker, and why there are no speakers when there are none).

Both validate themselves, so a result that reaches the store or a subtitle writer is well formed:
speaker ids are `S1`, `S2`, ... numbered in order of first appearance, every turn's speaker has a
256-d unit-length centroid, and a result without turns says why (`reason`).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

__all__ = ["EMBEDDING_DIM", "Diarization", "Turn"]

EMBEDDING_DIM = 256  # GE2E voice embeddings
_SPEAKER = re.compile(r"S[1-9]\d*")


@dataclass(frozen=True)
class Turn:
    """`speaker` talks from `start` to `end` seconds (file timeline); `confidence` in [0, 1]."""

    speaker: str
    start: float
    end: float
    confidence: float

    def __post_init__(self):
        if not _SPEAKER.fullmatch(self.speaker):
            raise ValueError(f"speaker ids are S1, S2, ...; got {self.speaker!r}")
        if not (math.isfinite(self.start) and math.isfinite(self.end)) or self.start < 0 \
                or self.end <= self.start:
            raise ValueError(f"Turn needs 0 <= start < end, got {self.start}-{self.end}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"Turn confidence must lie in [0, 1], got {self.confidence}")

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict:
        return {"speaker": self.speaker, "start": round(self.start, 3), "end": round(self.end, 3),
                "confidence": round(self.confidence, 3)}


@dataclass(frozen=True, eq=False)
class Diarization:
    """Who speaks when in one file: `turns` in time order and a voice `centroid` per speaker."""

    turns: tuple[Turn, ...]
    centroids: dict[str, np.ndarray] = field(default_factory=dict)  # speaker -> unit 256-d vector
    duration: float = 0.0  # seconds of audio examined
    speech: float = 0.0  # seconds of it that voice activity called speech
    reason: str | None = None  # why there are no speakers (None when there are)

    def __post_init__(self):
        object.__setattr__(self, "turns", tuple(self.turns))
        starts = [t.start for t in self.turns]
        if starts != sorted(starts):
            raise ValueError("Diarization turns must be in time order")
        order = list(dict.fromkeys(t.speaker for t in self.turns))
        if order != [f"S{i}" for i in range(1, len(order) + 1)]:
            raise ValueError(f"speakers must be numbered S1, S2, ... by first appearance; got {order}")
        if set(self.centroids) != set(order):
            raise ValueError(f"one centroid per speaker: speakers {order}, centroids {sorted(self.centroids)}")
        for s, c in self.centroids.items():
            c = np.asarray(c, dtype=np.float32)
            if c.shape != (EMBEDDING_DIM,) or not np.isfinite(c).all() or abs(float(np.linalg.norm(c)) - 1) > 1e-3:
                raise ValueError(f"centroid of {s} must be a finite unit {EMBEDDING_DIM}-d vector")
            self.centroids[s] = c
        if not self.turns and not self.reason:
            raise ValueError("a Diarization without turns must say why (reason)")
        if self.turns and self.reason:
            raise ValueError("reason is only for a Diarization without turns")
        if self.duration < 0 or self.speech < 0:
            raise ValueError("duration and speech must be >= 0")

    @property
    def speakers(self) -> list[str]:
        return list(dict.fromkeys(t.speaker for t in self.turns))

    def talk_time(self) -> dict[str, float]:
        """Seconds each speaker talks, in speaker order."""
        out = {s: 0.0 for s in self.speakers}
        for t in self.turns:
            out[t.speaker] += t.duration
        return out

    def speaker_between(self, start: float, end: float) -> str | None:
        """The speaker who talks most within [start, end), or None when nobody does."""
        talk: dict[str, float] = {}
        for t in self.turns:
            ov = min(t.end, end) - max(t.start, start)
            if ov > 0:
                talk[t.speaker] = talk.get(t.speaker, 0.0) + ov
        if not talk:  # an instant or a span between turns: the nearest turn within 0.5 s
            mid = (start + end) / 2
            near = min(self.turns, key=lambda t: max(t.start - mid, mid - t.end, 0.0), default=None)
            if near is not None and max(near.start - mid, mid - near.end, 0.0) <= 0.5:
                return near.speaker
            return None
        return max(talk, key=talk.get)

    def to_dict(self, *, centroids: bool = False) -> dict:
        d = {"speakers": self.speakers, "talk_time_s": {s: round(v, 2) for s, v in self.talk_time().items()},
             "turns": [t.to_dict() for t in self.turns], "duration_s": round(self.duration, 3),
             "speech_s": round(self.speech, 3), "reason": self.reason}
        if centroids:
            d["centroids"] = {s: [round(float(x), 6) for x in c] for s, c in self.centroids.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Diarization:
        cents = {s: np.asarray(v, dtype=np.float32) for s, v in d.get("centroids", {}).items()}
        cents = {s: c / np.linalg.norm(c) for s, c in cents.items()}
        return cls(turns=tuple(Turn(**t) for t in d["turns"]), centroids=cents,
                   duration=float(d.get("duration_s", 0.0)), speech=float(d.get("speech_s", 0.0)),
                   reason=d.get("reason"))
