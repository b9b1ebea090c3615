"""The ingest job's decode actor: plans a video (hash, probe, subtitles or ASR) and streams it in
batches of clips (numpy arrays). It imports what decoding needs (the media stack, and the speech
stack only when a video without subtitles is transcribed), never the encoders, the index or torch
(`ClipReader(arrays="numpy")`: ~150 MB resident instead of ~700 MB). Frames come from PyAV by
default (`IngestOptions.video_backend`): a clip stream reads its windows in time order, which
PyAV decodes in one forward pass converting only the sampled frames, for 8% less CPU than decord
on the benchmark's four clips (`stream_cpu_s` of `avu bench decode`); both give the frames at the
same timestamps.

A decode actor runs under a memory guard: its data segment (heap and private mappings, what a
decoder allocates) may grow by at most `memory_mb` over what it held after start-up
(RLIMIT_DATA), so a file that would exhaust the machine fails alone, as `MediaTooLarge`. Every
method is safe to retry: a restarted actor re-opens what it needs."""
from __future__ import annotations

import gc
import os
import traceback

import ray

from avu.ingest.config import IngestConfig
from avu.ingest.discover import content_id
from avu.ingest.plan import plan_video
from avu.media import ClipReader, MediaInfo, MediaTooLarge, Segment, probe
from pipelines._process import limit_memory, limit_threads, malloc_trim

VIDEO_BACKEND = "pyav"  # the decode actors' frame reader (see the module docstring)


@ray.remote(max_restarts=-1, max_task_retries=3)
class Decoder:
    """Plans a video (hash, probe, subtitles or ASR) and streams it segment by segment."""

    def __init__(self, cfg: dict, threads: int = 1, memory_mb: int | None = None, backend: str = VIDEO_BACKEND):
        self.cfg = IngestConfig(**cfg)
        self.threads, self.backend = threads, backend
        limit_threads(threads)
        if backend == "decord":
            import decord  # noqa: F401 - loaded before the memory cap is measured
        self._reader: ClipReader | None = None
        self.memory_mb = memory_mb
        self.memory_cap = limit_memory(memory_mb) if memory_mb else None

    def pid(self) -> int:
        return os.getpid()

    def _guarded(self, path: str, fn):
        try:
            return fn()
        except BaseException as e:
            traceback.clear_frames(e.__traceback__)  # the failed call's locals (decoded frames) can go now
            self._drop(path)
            if isinstance(e, MemoryError):  # the guard tripped in Python code (FFmpeg's own is MediaTooLarge)
                raise MediaTooLarge(path, f"decoding needs more than the {self.memory_mb} MB memory limit "
                                          "of a decode actor") from None
            raise

    def _drop(self, path: str) -> None:
        """After a failure: close the file and hand freed memory back, so the next video starts
        with the whole budget (the guard counts mapped memory, which free() alone may keep)."""
        self.release(path)
        gc.collect()
        malloc_trim()

    def inspect(self, path: str) -> tuple[str, MediaInfo]:
        """The content id (hash) and probe info: enough to skip a video already indexed."""
        return self._guarded(path, lambda: (content_id(path), probe(path)))

    def plan(self, path: str, video_id: str | None = None, info: MediaInfo | None = None):
        return self._guarded(path, lambda: plan_video(path, self.cfg, video_id=video_id, info=info))

    def decode(self, path: str, spans: list[tuple[float, float]]) -> list[dict]:
        """Clips (numpy arrays) for these segments; the file stays open for the next call."""
        return self._guarded(path, lambda: self._decode(path, spans))

    def _decode(self, path: str, spans: list[tuple[float, float]]) -> list[dict]:
        if self._reader is None or self._reader.path != path:
            if self._reader is not None:
                self._reader.close()
            self._reader = None
            self._reader = ClipReader(path, fps=self.cfg.fps, size=self.cfg.size, sr=self.cfg.sample_rate,
                                      threads=self.threads, arrays="numpy", backend=self.backend)
        return [self._reader.read(Segment(start, end)) for start, end in spans]

    def release(self, path: str) -> None:
        if self._reader is not None and self._reader.path == path:
            self._reader.close()
            self._reader = None
