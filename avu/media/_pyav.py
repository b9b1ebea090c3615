"""PyAV backend for frame reading: streaming decode with forward seeks, no whole-file index.

Frames are decoded in order; a wanted time far ahead of the current position triggers a seek to
the keyframe before it. Resizing uses FFmpeg's swscale (bicubic, as decord and `ffmpeg -vf scale`).
Threads are slice threads only: with frame threading ("AUTO"/"FRAME"), freeing a decoder that
stopped before the end of the stream could hang forever in `avcodec_free_context` once torch,
torchvision and decord were loaded in the same process (seen: one in three runs of 1000 reads of
a rotated H.264 clip; PyAV issues 1849/1861 report the same). Slower, but it never hangs.
"""
from __future__ import annotations

import av
import numpy as np

from avu.media._errors import CorruptMedia, NoVideoStream
from avu.media.probe import _ffmpeg_reason, first_stream, open_container

_EPS = 1e-4  # seconds: tolerance when comparing a frame's pts with a wanted time
_SEEK_GAP = 2.0  # seconds: seek instead of decoding through gaps longer than this


class _Frame:
    """A decoded frame and its time `t` in seconds on the container timeline."""

    __slots__ = ("frame", "t")

    def __init__(self, frame, t: float):
        self.frame, self.t = frame, t


class PyAVVideo:
    """One open video; `read(times, seek)` returns the frames shown at those times."""

    def __init__(self, path: str, *, size: tuple[int, int] | None, threads: int):
        self.path = path
        self._c = open_container(path)
        self._s = first_stream(self._c, "video")
        if self._s is None:
            self._c.close()
            raise NoVideoStream(path, "no video stream")
        self._s.thread_type = "SLICE"  # never FRAME/AUTO: see the module docstring
        self._s.codec_context.thread_count = threads
        self._size = size
        self._c0 = (self._c.start_time or 0) / av.time_base  # times count from the container start

    def _array(self, f: _Frame) -> np.ndarray:
        frame = f.frame
        if self._size is None:
            return frame.to_ndarray(format="rgb24")
        h, w = self._size
        return frame.to_ndarray(format="rgb24", width=w, height=h, interpolation="BICUBIC")

    def _seek(self, t: float) -> None:
        try:
            self._c.seek(max(0, int((t + self._c0) / self._s.time_base)), stream=self._s,
                         backward=True, any_frame=False)
        except av.error.FFmpegError as e:
            raise CorruptMedia(self.path, f"cannot seek to {t:.3f}s ({_ffmpeg_reason(e)})") from None

    def _frames(self):
        """Decoded frames with `.t`: seconds on the container timeline."""
        some = False
        try:
            for f in self._c.decode(self._s):
                if f.time is not None:
                    some = True
                    yield _Frame(f, float(f.time) - self._c0)
        except av.error.EOFError:
            return
        except av.error.InvalidDataError as e:
            if not some:
                raise CorruptMedia(self.path, f"decoding failed ({_ffmpeg_reason(e)})") from None
            return  # the data stops here (a cut file): the reader says so if frames are still wanted
        except av.error.FFmpegError as e:
            raise CorruptMedia(self.path, f"decoding failed ({_ffmpeg_reason(e)})") from None

    def read(self, times: np.ndarray | None, seek: str, start: float, end: float):
        if times is None:
            return self._read_range(start, end)
        if seek == "approximate":
            return self._read_keyframes(times)
        return self._read_exact(np.asarray(times, dtype=np.float64))

    def _read_range(self, start: float, end: float):
        if start > 0:
            self._seek(start)
        arrays, pts = [], []
        for f in self._frames():
            if f.t >= end - _EPS:
                break
            if f.t >= start - _EPS:
                arrays.append(self._array(f))
                pts.append(f.t)
        return arrays, np.asarray(pts, dtype=np.float64)

    def _read_keyframes(self, times: np.ndarray):
        arrays, pts = [], []
        for t in times:
            self._seek(float(t))
            f = next(self._frames(), None)
            if f is None:
                raise CorruptMedia(self.path, f"no frame at or before {t:.3f}s")
            arrays.append(self._array(f))
            pts.append(f.t)
        return arrays, np.asarray(pts, dtype=np.float64)

    def _read_exact(self, times: np.ndarray):
        """Frames shown at each sorted time: decode forward, seek across long gaps."""
        arrays, pts = [], []
        i, n = 0, len(times)
        prev = None  # last decoded frame at or before times[i]
        cache = (None, None)  # (frame, its array): a frame shown at several wanted times converts once

        def take(f):
            nonlocal cache
            if cache[0] is not f:
                cache = (f, self._array(f))
            arrays.append(cache[1])
            pts.append(f.t)

        seek_to = times[0] if times[0] > _SEEK_GAP else None
        last_seek = -1.0
        while i < n:
            if seek_to is not None:
                self._seek(float(seek_to))
                last_seek, seek_to = float(seek_to), None
            for f in self._frames():
                while i < n and f.t > times[i] + _EPS:
                    take(prev if prev is not None else f)  # before the first frame: the first
                    i += 1
                if i >= n:
                    break
                prev = f
                # seek across a long gap, but only once past the last seek target: a seek lands
                # on the keyframe before its target, which may be far behind it (long GOPs)
                if times[i] - f.t > _SEEK_GAP and f.t >= last_seek:
                    seek_to = times[i]
                    break
            else:  # the stream ended: later times show the last frame while it is on screen
                if prev is None:
                    raise CorruptMedia(self.path, f"no frame decodes at or after {times[i]:.3f}s")
                shown = float(prev.frame.duration * prev.frame.time_base) if prev.frame.duration else 0.1
                while i < n:
                    if times[i] > prev.t + shown + 1.0:
                        raise CorruptMedia(self.path, f"decoding stopped at {prev.t:.3f}s, before "
                                           f"the wanted {times[i]:.3f}s (truncated or corrupt file)")
                    take(prev)
                    i += 1
        return arrays, np.asarray(pts, dtype=np.float64)

    def close(self) -> None:
        self._c.close()
