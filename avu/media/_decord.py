"""decord backend for frame reading: an index of every frame's pts, then batched exact seeks.

decord builds the frame index when it opens a file (demuxing, no decoding), resizes inside the
decoder's scaler, and decodes only what a batch of indices needs. It is the default backend.
"""
from __future__ import annotations

import numpy as np

from avu.media._errors import CorruptMedia

try:
    import decord

    decord.bridge.set_bridge("native")
except ImportError:  # pragma: no cover - decord is a hard dependency, but keep the reason clear
    decord = None

_BATCH = 32  # frames per get_batch call: bounds memory for long reads


class DecordUnsupported(Exception):
    """decord cannot serve this request (a known decord 0.6 bug); the caller falls back to PyAV."""


class DecordVideo:
    """One open video; `read(times, seek)` returns the frames shown at those times."""

    def __init__(self, path: str, *, size: tuple[int, int] | None, threads: int, offset: float = 0.0):
        """`offset`: the video stream's start on the container timeline (decord counts from 0)."""
        if decord is None:
            raise CorruptMedia(path, "backend 'decord' is not installed")
        h, w = size if size else (-1, -1)
        try:
            self._vr = decord.VideoReader(path, ctx=decord.cpu(0), width=w, height=h,
                                          num_threads=threads)
            self.pts = np.asarray(self._vr.get_frame_timestamp(range(len(self._vr)))[:, 0],
                                  dtype=np.float64) + offset
        except decord.DECORDError as e:
            raise CorruptMedia(path, f"decord cannot read the video stream ({str(e).splitlines()[0][:200]})") from None
        if len(self.pts) == 0:
            raise CorruptMedia(path, "video stream has no frames")
        self.path = path
        self._keys = None

    def indices_at(self, times: np.ndarray, seek: str) -> np.ndarray:
        """Index of the frame displayed at each time (the last frame with pts <= t)."""
        idx = np.searchsorted(self.pts, np.asarray(times) + 1e-4, side="right") - 1
        idx = np.clip(idx, 0, len(self.pts) - 1)
        if seek == "approximate":
            if self._keys is None:
                self._keys = np.asarray(self._vr.get_key_indices(), dtype=np.int64)
            k = np.searchsorted(self._keys, idx, side="right") - 1
            idx = self._keys[np.clip(k, 0, len(self._keys) - 1)]
        return idx

    def read_indices(self, idx: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        out = []
        try:
            for i in range(0, len(idx), _BATCH):
                out.append(self._vr.get_batch(idx[i:i + _BATCH].tolist()).asnumpy())
        except decord.DECORDError as e:
            if "from_size == to_size" in str(e):  # decord 0.6 fails on some output widths
                raise DecordUnsupported(str(e)) from None
            reason = str(e).splitlines()[0][:200]
            raise CorruptMedia(self.path, f"decoding failed near frame {int(idx[i])} ({reason})") from None
        return out, self.pts[idx]

    def read(self, times: np.ndarray | None, seek: str, start: float, end: float):
        if times is None:  # every frame in [start, end)
            idx = np.nonzero((self.pts >= start - 1e-4) & (self.pts < end - 1e-4))[0]
        else:
            idx = self.indices_at(times, seek)
            last = self.pts[-1] + (self.pts[-1] - self.pts[-2] if len(self.pts) > 1 else 0.1)
            if len(times) and times.max() > last + 1.0:
                raise CorruptMedia(self.path, f"decoding stops at {self.pts[-1]:.3f}s, before the wanted "
                                   f"{times.max():.3f}s (truncated or corrupt file)")
        return self.read_indices(idx)

    def close(self) -> None:
        self._vr = None
