"""Small result types that flow through avu: MediaInfo, Frames, Audio, Segment, Cue.

Frozen dataclasses that validate themselves on construction and print shapes, not contents.
Times are float seconds everywhere; they become hh:mm:ss.mmm only at the edges (CLI, SRT/VTT).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads where frames or audio are made, so `avu probe` stays light
    import torch


def _check_time(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")


@dataclass(frozen=True)
class MediaInfo:
    """What `probe` learns about a file without decoding more than one frame."""

    path: str  # the file as given (not resolved)
    container: str  # demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm"
    duration: float  # seconds: the longest stream, or the container's duration
    size_bytes: int  # file size on disk
    has_video: bool  # a decodable video stream is present
    has_audio: bool  # an audio stream is present
    video_codec: str | None = None  # e.g. "h264", "vp8"; None without video
    width: int | None = None  # coded width in pixels (before rotation)
    height: int | None = None  # coded height in pixels (before rotation)
    fps: float | None = None  # average frame rate
    num_frames: int | None = None  # from the container when it says, else duration * fps rounded
    rotation: int = 0  # degrees to turn coded frames counter-clockwise for display (display matrix)
    video_start: float = 0.0  # pts (s) of the first video packet on the container's timeline
    audio_codec: str | None = None  # e.g. "aac", "vorbis"; None without audio
    sample_rate: int | None = None  # audio samples per second
    channels: int | None = None  # audio channel count (6 for 5.1)

    def __post_init__(self):
        _check_time("duration", self.duration)
        if self.has_video and (not self.width or not self.height or self.width < 1 or self.height < 1):
            raise ValueError(f"{self.path}: video stream without a valid size ({self.width}x{self.height})")
        if self.rotation not in (0, 90, 180, 270):
            raise ValueError(f"rotation must be 0, 90, 180 or 270, got {self.rotation}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, repr=False)
class Frames:
    """Decoded frames: `data` is uint8 [T, H, W, 3] RGB; `pts` holds each frame's true time (s)."""

    data: torch.Tensor
    pts: torch.Tensor  # float64 [T], presentation time of each returned frame

    def __post_init__(self):
        import torch

        d, p = self.data, self.pts
        if d.dtype != torch.uint8 or d.ndim != 4 or d.shape[-1] != 3:
            raise ValueError(f"Frames.data must be uint8 [T,H,W,3], got {d.dtype} {tuple(d.shape)}")
        if p.ndim != 1 or p.shape[0] != d.shape[0]:
            raise ValueError(f"Frames.pts must be [T] with T={d.shape[0]}, got {tuple(p.shape)}")
        if p.numel() and not bool(torch.isfinite(p).all()):
            raise ValueError("Frames.pts must be finite")

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __repr__(self) -> str:
        span = f"{float(self.pts[0]):.3f}-{float(self.pts[-1]):.3f}s" if len(self) else "empty"
        return f"Frames(data=uint8{list(self.data.shape)}, pts={span})"


@dataclass(frozen=True, repr=False)
class Audio:
    """A float32 waveform: [N] when mono, [C, N] otherwise; `start` is the time of sample 0."""

    waveform: torch.Tensor
    sr: int  # samples per second
    start: float = 0.0  # seconds from the start of the file

    def __post_init__(self):
        import torch

        w = self.waveform
        if w.dtype != torch.float32 or w.ndim not in (1, 2):
            raise ValueError(f"Audio.waveform must be float32 [N] or [C,N], got {w.dtype} {tuple(w.shape)}")
        if not isinstance(self.sr, int) or self.sr <= 0:
            raise ValueError(f"Audio.sr must be a positive int, got {self.sr!r}")
        _check_time("Audio.start", self.start)
        if w.numel() and not bool(torch.isfinite(w).all()):
            raise ValueError("Audio.waveform contains NaN or infinity")

    @property
    def num_samples(self) -> int:
        return int(self.waveform.shape[-1])

    @property
    def duration(self) -> float:
        return self.num_samples / self.sr

    @property
    def end(self) -> float:
        return self.start + self.duration

    def __repr__(self) -> str:
        return (f"Audio(waveform=float32{list(self.waveform.shape)}, sr={self.sr}, "
                f"span={self.start:.3f}-{self.end:.3f}s)")


@dataclass(frozen=True)
class Segment:
    """A time window [start, end) of one video, in seconds."""

    start: float
    end: float
    video_id: str | None = field(default=None, compare=True)

    def __post_init__(self):
        _check_time("Segment.start", self.start)
        _check_time("Segment.end", self.end)
        if self.end <= self.start:
            raise ValueError(f"Segment.end ({self.end}) must be after start ({self.start})")

    @property
    def duration(self) -> float:
        return self.end - self.start

    def overlap(self, start: float, end: float) -> float:
        """Seconds shared between this segment and [start, end)."""
        return max(0.0, min(self.end, end) - max(self.start, start))


@dataclass(frozen=True)
class Cue:
    """One subtitle cue: text shown from `start` to `end` seconds."""

    start: float
    end: float
    text: str

    def __post_init__(self):
        _check_time("Cue.start", self.start)
        _check_time("Cue.end", self.end)
        if self.end <= self.start:
            raise ValueError(f"Cue.end ({self.end}) must be after start ({self.start}) for {self.text!r}")
        if not isinstance(self.text, str):
            raise ValueError(f"Cue.text must be str, got {type(self.text).__name__}")
