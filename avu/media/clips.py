"""Segments and clips: cut a video's timeline into windows and read each as one clip dict.

`segments(duration, window=, hop=)` returns timed `Segment`s; `read_clip(path, segment)` returns
`{"video", "video_pts", "audio", "sample_rate", "start", "end"}`, with None for a missing stream
(pytorchvideo's clip convention). `iter_clips` streams every segment of one file through a single
open decoder, so reading a long video segment by segment never holds the whole file in memory.
"""
from __future__ import annotations

import math
import os
from typing import Iterator, Literal, Sequence

from avu.media._errors import MediaError
from avu.media._types import Segment
from avu.media.audio import AudioBackend, AudioFile
from avu.media.frames import Backend, VideoFile
from avu.media.probe import probe


def segments(duration: float, *, window: float, hop: float | None = None,
             min_length: float | None = None, video_id: str | None = None) -> list[Segment]:
    """Windows [k*hop, k*hop + window) clipped to `duration`, stopping at the first that reaches it.

    A final window shorter than `min_length` (default: a quarter of `window`) is dropped unless
    it would be the only one, so a 0.05 s tail does not become a segment of its own.
    """
    hop = window if hop is None else hop
    if not (math.isfinite(duration) and duration >= 0):
        raise ValueError(f"duration must be finite and >= 0, got {duration}")
    if window <= 0 or hop <= 0:
        raise ValueError(f"window and hop must be > 0, got window={window}, hop={hop}")
    min_length = window / 4 if min_length is None else min_length
    out: list[Segment] = []
    k = 0
    while True:
        start = round(k * hop, 6)
        if start >= duration:
            break
        end = min(round(min(start + window, duration), 6), duration)  # rounding never passes the end
        if end <= start:  # under a microsecond left (or in all): no segment
            break
        if end - start < min_length and out:
            break
        out.append(Segment(start=start, end=end, video_id=video_id))
        if end >= duration:
            break
        k += 1
    return out


class ClipReader:
    """One open file read segment by segment: `read(segment) -> clip dict`.

    Video frames are sampled at `fps` from each segment's start; audio is mono at `sr`. A file
    without a video (or audio) stream gives `video=None` (or `audio=None`). Reading segments in
    time order decodes forward only; going back re-seeks. `arrays="numpy"` gives numpy arrays in
    place of torch tensors and never loads torch (a process that only decodes saves ~300 MB).
    """

    def __init__(self, path: str | os.PathLike, *, fps: float = 2.0,
                 size: int | tuple[int, int] | None = 224, sr: int = 16000,
                 backend: Backend = "decord", audio_backend: AudioBackend = "pyav",
                 seek: str = "exact", threads: int | None = None, info=None,
                 arrays: Literal["torch", "numpy"] = "torch"):
        if arrays not in ("torch", "numpy"):
            raise ValueError(f"arrays must be 'torch' or 'numpy', got {arrays!r}")
        self.path = str(path)
        self.info = info or probe(path)
        self.fps, self.sr, self.seek, self.arrays = fps, sr, seek, arrays
        self._video = (VideoFile(path, size=size, backend=backend, threads=threads, info=self.info)
                       if self.info.has_video else None)
        try:
            self._audio = (AudioFile(path, sr=sr, mono=True, backend=audio_backend, info=self.info)
                           if self.info.has_audio else None)
        except BaseException:
            self.close()
            raise

    def read(self, seg: Segment) -> dict:
        clip = {"start": seg.start, "end": seg.end, "video": None, "video_pts": None,
                "audio": None, "sample_rate": self.sr if self._audio else None}
        numpy = self.arrays == "numpy"
        if self._video is not None:
            if numpy:
                clip["video"], clip["video_pts"] = self._video.arrays(fps=self.fps, start=seg.start, end=seg.end,
                                                                      seek=self.seek)
            else:
                fr = self._video.frames(fps=self.fps, start=seg.start, end=seg.end, seek=self.seek)
                clip["video"], clip["video_pts"] = fr.data, fr.pts
        if self._audio is not None:
            clip["audio"] = (self._audio.samples(seg.start, seg.end)[0] if numpy
                             else self._audio.read(seg.start, seg.end).waveform)
        return clip

    def close(self) -> None:
        for f in (getattr(self, "_video", None), getattr(self, "_audio", None)):
            if f is not None:
                f.close()

    def __enter__(self) -> "ClipReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def iter_clips(path: str | os.PathLike, segs: Sequence[Segment], **kwargs) -> Iterator[dict]:
    """Yield one clip dict per segment, in order, reading through one open file.

    Keyword arguments are `ClipReader`'s: fps=2.0, size=224, sr=16000, backend="decord",
    audio_backend="pyav", seek="exact", threads=None.
    """
    with ClipReader(path, **kwargs) as reader:
        for seg in segs:
            yield reader.read(seg)


def read_clip(path: str | os.PathLike, segment: Segment, **kwargs) -> dict:
    """Read one segment as a clip dict (see `iter_clips` for the keyword arguments)."""
    for clip in iter_clips(path, [segment], **kwargs):
        return clip
    raise MediaError(path, "no clip read")  # unreachable: iter_clips yields once per segment
