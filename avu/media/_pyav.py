"""PyAV backend for frame reading: streaming decode with forward seeks, no whole-file index.

Frames are decoded in order; a wanted time far ahead of the current position triggers a seek to
the keyframe before it. Resizing uses FFmpeg's swscale (bicubic, as decord and `ffmpeg -vf scale`),
through one scaler per file, and only for the frames wanted.
Threads are slice threads only: with frame threading ("AUTO"/"FRAME"), freeing a decoder that
stopped before the end of the stream could hang forever in `avcodec_free_context` once torch,
torchvision and decord were loaded in the same process (seen: one in three runs of 1000 reads of
a rotated H.264 clip; PyAV issues 1849/1861 report the same). Slower, but it never hangs.
"""
from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from avu.media._errors import CorruptMedia, NoVideoStream
from avu.media.probe import _ffmpeg_reason, first_stream, open_container

_EPS = 1e-4  # seconds: tolerance when comparing a frame's pts with a wanted time
_SEEK_GAP = 2.0  # seconds: seek instead of decoding through gaps longer than this


class _Frame:
    """A decoded frame and its time `t` in seconds on the container timeline."""

    __slots__ = ("frame", "t")

    def __init__(self, frame, t: float):
        self.frame, self.t = frame, t


class _Stream:
    """Forward decoding between exact reads: the frame iterator, the last frame at or before the
    last wanted time (`prev`), a frame decoded past it (`ahead`), and the pending or last seek."""

    def __init__(self, seek_to: float | None):
        self.seek_to, self.last_seek = seek_to, -1.0
        self.it, self.prev, self.ahead = None, None, None

    def restart(self, t: float) -> None:
        self.seek_to, self.it, self.prev, self.ahead = t, None, None, None

    def started(self, it) -> None:
        self.it, self.last_seek, self.seek_to = it, float(self.seek_to), None

    def position(self) -> float:
        f = self.ahead or self.prev
        return f.t if f is not None else self.last_seek

    def frames(self):
        """The frame held back by the last call (if any), then the iterator's. Not `yield from`:
        leaving this loop early must not close the iterator, which the next call goes on with."""
        if self.ahead is not None:
            f, self.ahead = self.ahead, None
            yield f
        for f in self.it:
            yield f


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
        # one scaler for the file: `frame.to_ndarray(width=...)` builds a new swscale context per
        # frame (3.9 ms a 480p frame against 1.35 ms reused, the same pixels)
        self._scaler = VideoReformatter()
        self._c0 = (self._c.start_time or 0) / av.time_base  # times count from the container start
        self._stream: _Stream | None = None  # where forward decoding stands between exact reads
        self._moved = False  # the container left its start: a fresh exact read must seek
        self._cache = (None, None)  # (pts, array) of the last frame taken: converted once if shown again

    def _array(self, f: _Frame) -> np.ndarray:
        if self._size is None:
            return self._scaler.reformat(f.frame, format="rgb24").to_ndarray()
        h, w = self._size
        return self._scaler.reformat(f.frame, width=w, height=h, format="rgb24", interpolation="BICUBIC").to_ndarray()

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
        if times is not None and seek != "approximate":
            return self._read_exact(np.asarray(times, dtype=np.float64))
        out = self._read_range(start, end) if times is None else self._read_keyframes(times)
        self._stream, self._moved = None, True  # the container moved: the next exact read seeks
        return out

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
        """Frames shown at each sorted time: decode forward, seek across long gaps. The decode
        position carries over to the next call, so windows read in time order (a clip stream)
        decode the file once, as `ffmpeg` does, and only the frames wanted are converted."""
        arrays, pts = [], []
        i, n = 0, len(times)
        st = self._stream
        if st is None:  # nothing decoded yet, or the container moved: start at a seek (or at 0)
            st = self._stream = _Stream(seek_to=times[0] if (times[0] > _SEEK_GAP or self._moved) else None)
        elif (st.prev is not None and times[0] < st.prev.t - _EPS) or times[0] - st.position() > _SEEK_GAP:
            st.restart(times[0])  # backward, or far ahead
        self._moved = True

        def take(f):
            if self._cache[0] != f.t:
                self._cache = (f.t, self._array(f))
            arrays.append(self._cache[1])
            pts.append(f.t)

        while i < n:
            if st.seek_to is not None:
                self._seek(float(st.seek_to))
                st.started(self._frames())
            elif st.it is None:  # a fresh container: decode from its start
                st.it = self._frames()
            for f in st.frames():
                while i < n and f.t > times[i] + _EPS:
                    take(st.prev if st.prev is not None else f)  # before the first frame: the first
                    i += 1
                if i >= n:
                    st.ahead = f  # decoded, shown after the last wanted time: the next call starts here
                    break
                st.prev = f
                # seek across a long gap, but only once past the last seek target: a seek lands
                # on the keyframe before its target, which may be far behind it (long GOPs)
                if times[i] - f.t > _SEEK_GAP and f.t >= st.last_seek:
                    st.restart(times[i])
                    break
            else:  # the stream ended: later times show the last frame while it is on screen
                prev = st.prev
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
        """Close the file and drop the decoded frames held for the next read (at 8K, 50 MB each)."""
        if self._stream is not None and self._stream.it is not None:
            self._stream.it.close()
        self._stream, self._cache = None, (None, None)
        self._c.close()
