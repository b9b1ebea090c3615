"""Encoding helpers shared by everything that writes media (avshapes, the bad-media corpus, test
fixtures): push frames or mono samples through a PyAV stream and mux every packet, then flush."""
from __future__ import annotations

from typing import Iterable

import numpy as np


def mux_frames(c, stream, frames: Iterable[np.ndarray], *, pts: Iterable[int] | None = None,
               time_base=None) -> None:
    """Encode RGB frames [H, W, 3] (pts 0, 1, 2... unless given) into `stream` of container `c`."""
    import av

    for i, (img, t) in enumerate(zip(frames, pts if pts is not None else _count())):
        f = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
        f.pts = t
        if time_base is not None:
            f.time_base = time_base
        for p in stream.encode(f):
            c.mux(p)
    for p in stream.encode():
        c.mux(p)


def mux_audio(c, stream, x: np.ndarray, sr: int = 16000, chunk: int = 1024) -> None:
    """Encode mono float samples `x` into audio `stream` of container `c`, `chunk` at a time."""
    import av

    x = np.asarray(x, dtype=np.float32)
    for k in range(0, len(x), chunk):
        fr = av.AudioFrame.from_ndarray(x[None, k:k + chunk], format="flt", layout="mono")
        fr.sample_rate, fr.pts = sr, k
        for p in stream.encode(fr):
            c.mux(p)
    for p in stream.encode():
        c.mux(p)


def _count():
    i = 0
    while True:
        yield i
        i += 1


__all__ = ["mux_frames", "mux_audio"]
