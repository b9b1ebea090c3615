"""Frame reading: `read_frames` for one call, `VideoFile` to read many windows of one open file.

Two backends share one contract: decord (default; frame index + batched exact seeks) and PyAV
(streaming decode; also used for rotated videos, which decord 0.6 mis-decodes). Both return the
frame *shown* at each wanted time, i.e. the last frame whose pts is at or before it, with that
frame's true pts, as uint8 RGB [T, H, W, 3] in display orientation (a rotated phone video comes out
upright).

`seek="exact"` decodes from the keyframe before each wanted time up to the frame shown then;
`seek="approximate"` returns the keyframe at or before each time instead (much cheaper on long
GOPs, and its pts says honestly which moment it shows).
"""
from __future__ import annotations

import os
from typing import Literal, Sequence

import numpy as np

from avu.media._errors import CorruptMedia, NoVideoStream
from avu.media._types import Frames, MediaInfo
from avu.media.probe import probe

Backend = Literal["decord", "pyav"]
Seek = Literal["exact", "approximate"]
BACKENDS: tuple[str, ...] = ("decord", "pyav")


def default_threads() -> int:
    """Decoder threads: one per core this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _size_hw(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """`size` as (height, width); an int means a square of that side (the models' input)."""
    if size is None:
        return None
    h, w = (size, size) if isinstance(size, int) else size
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    return int(h), int(w)


def sample_times(start: float, end: float, fps: float) -> np.ndarray:
    """Times start, start + 1/fps, ... strictly before `end` (computed without drift)."""
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    n = max(0, int(np.ceil((end - start) * fps - 1e-9)))
    return start + np.arange(n, dtype=np.float64) / fps


class VideoFile:
    """An open video for repeated reads (a clip stream): probe once, open the decoder once.

    >>> with VideoFile("movie.mp4", size=224) as v:
    ...     frames = v.frames(fps=2, start=10, end=12)
    """

    def __init__(self, path: str | os.PathLike, *, size: int | tuple[int, int] | None = None,
                 backend: Backend = "decord", threads: int | None = None,
                 info: MediaInfo | None = None):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.path = str(path)
        self.info = info or probe(path)
        if not self.info.has_video:
            raise NoVideoStream(path, "no video stream")
        hw = _size_hw(size)
        if hw and self.info.rotation in (90, 270):
            hw = (hw[1], hw[0])  # the decoder sees coded frames: ask for the rotated shape
        self._hw, self._threads = hw, threads or default_threads()
        if backend == "decord" and self.info.rotation:
            backend = "pyav"  # decord 0.6 mis-decodes rotated streams (wrong shape, 4 channels)
        self._open(backend)

    def _open(self, backend: str) -> None:
        self.backend = backend
        if backend == "decord":
            from avu.media._decord import DecordVideo

            try:
                self._impl = DecordVideo(self.path, size=self._hw, threads=self._threads,
                                         offset=self.info.video_start)
            except CorruptMedia:  # decord 0.6 cannot index some damaged files (a sample table
                self._open("pyav")  # running past the end): PyAV decodes what is there, or says where it stops
        else:
            from avu.media._pyav import PyAVVideo

            self._impl = PyAVVideo(self.path, size=self._hw, threads=self._threads)

    def _read(self, wanted, seek, start, end):
        if self.backend != "decord":  # (importing decord loads its own FFmpeg: ~60 MB a process)
            return self._impl.read(wanted, seek, start, end)
        from avu.media._decord import DecordUnsupported

        try:
            return self._impl.read(wanted, seek, start, end)
        except DecordUnsupported:  # a decord bug for some output sizes: PyAV gives the same frames
            self._impl.close()
            self._open("pyav")
            return self._impl.read(wanted, seek, start, end)

    def frames(self, *, times: Sequence[float] | None = None, fps: float | None = None,
               start: float = 0.0, end: float | None = None, seek: Seek = "exact") -> Frames:
        """Frames at `times`, or sampled at `fps` over [start, end), or every frame in [start, end)."""
        import torch

        arrays, pts = self.arrays(times=times, fps=fps, start=start, end=end, seek=seek)
        return Frames(data=torch.from_numpy(arrays), pts=torch.from_numpy(pts))

    def arrays(self, *, times: Sequence[float] | None = None, fps: float | None = None,
               start: float = 0.0, end: float | None = None, seek: Seek = "exact") -> tuple[np.ndarray, np.ndarray]:
        """`frames` as numpy (uint8 [T, H, W, 3], float64 [T]) without loading torch, for processes
        that only decode (the ingest decode actors)."""
        if seek not in ("exact", "approximate"):
            raise ValueError(f"seek must be 'exact' or 'approximate', got {seek!r}")
        if times is not None and fps is not None:
            raise ValueError("give either times or fps, not both")
        end = self.info.duration if end is None else min(end, self.info.duration)
        wanted = None
        if fps is not None:
            wanted = sample_times(start, end, fps)
        elif times is not None:
            wanted = np.asarray(times, dtype=np.float64)
            if wanted.ndim != 1 or not np.isfinite(wanted).all() or (wanted < 0).any():
                raise ValueError("times must be a 1-D sequence of finite seconds >= 0")
        if wanted is not None:
            order = np.argsort(wanted, kind="stable")
            arrays, pts = self._read(wanted[order], seek, start, end)
            inverse = np.empty_like(order)
            inverse[order] = np.arange(len(order))
            arrays, pts = _stack(arrays)[inverse], pts[inverse]
        else:
            arrays, pts = self._read(None, seek, start, end)
            arrays = _stack(arrays)
        if self.info.rotation:
            arrays = np.rot90(arrays, k=self.info.rotation // 90, axes=(1, 2))
        return np.ascontiguousarray(arrays), np.asarray(pts, dtype=np.float64)

    def close(self) -> None:
        self._impl.close()

    def __enter__(self) -> "VideoFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    if not arrays:
        return np.zeros((0, 0, 0, 3), dtype=np.uint8)
    return np.concatenate([a if a.ndim == 4 else a[None] for a in arrays], axis=0)


def read_frames(path: str | os.PathLike, *, times: Sequence[float] | None = None,
                fps: float | None = None, size: int | tuple[int, int] | None = None,
                start: float = 0.0, end: float | None = None, backend: Backend = "decord",
                seek: Seek = "exact", threads: int | None = None) -> Frames:
    """Decode frames of `path`: at `times` (seconds), sampled at `fps`, or all in [start, end).

    `size` resizes in the decoder: an int gives size x size, a tuple (height, width). Returns
    `Frames(data=uint8[T,H,W,3], pts=float64[T])`. Raises a `MediaError` subclass naming the
    file and the reason (missing, unreadable, corrupt, no video stream, truncated).
    """
    with VideoFile(path, size=size, backend=backend, threads=threads) as v:
        return v.frames(times=times, fps=fps, start=start, end=end, seek=seek)
