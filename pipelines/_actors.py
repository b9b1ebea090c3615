"""The ingest job's Ray actors: decoders (stateless work, one open file each), embedders (load
their models once), and the single index writer. Every method is safe to retry: a restarted
actor re-opens what it needs, and the writer's per-video write replaces what a dead one left.

A decode actor runs under a memory guard: its data segment (heap and private mappings, what a
decoder allocates) may grow by at most `memory_mb` over what it held after start-up
(RLIMIT_DATA), so a file that would exhaust the machine fails alone, as `MediaTooLarge`."""
from __future__ import annotations

import ctypes
import gc
import os

import ray

from avu.ingest import Featurizer, IngestConfig, content_id, plan_video
from avu.store import IndexStore
from avu.media import ClipReader, MediaInfo, MediaTooLarge, Segment, probe


def _limit_threads(n: int) -> None:
    import torch

    torch.set_num_threads(max(1, n))
    os.environ["OMP_NUM_THREADS"] = str(max(1, n))


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _data_bytes() -> int | None:
    """This process's data segment (VmData: what RLIMIT_DATA counts), or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def limit_memory(mb: int) -> int | None:
    """Cap this process's data segment at its current size + `mb` MiB; returns the cap (bytes)."""
    import resource

    used = _data_bytes()
    if used is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = used + (int(mb) << 20)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    return cap


@ray.remote(max_restarts=-1, max_task_retries=3)
class Decoder:
    """Plans a video (hash, probe, subtitles or ASR) and streams it segment by segment."""

    def __init__(self, cfg: dict, threads: int = 1, memory_mb: int | None = None):
        self.cfg = IngestConfig(**cfg)
        self.threads = threads
        _limit_threads(threads)
        import decord  # noqa: F401 - loaded before the memory cap is measured
        self._reader: ClipReader | None = None
        self.memory_mb = memory_mb
        self.memory_cap = limit_memory(memory_mb) if memory_mb else None

    def pid(self) -> int:
        return os.getpid()

    def _guarded(self, path: str, fn):
        try:
            return fn()
        except MemoryError:  # the guard tripped in Python code (FFmpeg's own is MediaTooLarge already)
            self._drop(path)
            raise MediaTooLarge(path, f"decoding needs more than the {self.memory_mb} MB memory limit "
                                      "of a decode actor") from None
        except BaseException:
            self._drop(path)
            raise

    def _drop(self, path: str) -> None:
        """After a failure: close the file and hand freed memory back, so the next video starts
        with the whole budget (the guard counts mapped memory, which free() alone may keep)."""
        self.release(path)
        gc.collect()
        _malloc_trim()

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
                                      threads=self.threads)
        out = []
        for start, end in spans:
            clip = self._reader.read(Segment(start, end))
            for k in ("video", "video_pts", "audio"):
                if clip[k] is not None:
                    clip[k] = clip[k].numpy()
            out.append(clip)
        return out

    def release(self, path: str) -> None:
        if self._reader is not None and self._reader.path == path:
            self._reader.close()
            self._reader = None


@ray.remote(max_restarts=-1, max_task_retries=3)
class Embedder:
    """Loads the configured encoders once; turns clip batches into segment rows."""

    def __init__(self, cfg: dict, threads: int = 1):
        _limit_threads(threads)
        self.featurizer = Featurizer(IngestConfig(**cfg), threads=threads)

    def pid(self) -> int:
        return os.getpid()

    def versions(self) -> dict:
        return self.featurizer.versions

    def cues(self, video_id: str, cues: list, text_source: str | None, language: str | None) -> list[dict]:
        return self.featurizer.cue_rows(video_id, cues, text_source=text_source, language=language)

    def embed(self, clips: list[dict], meta: dict) -> list[dict]:
        return self.featurizer.rows(meta["video_id"], clips, meta["texts"], aspect=meta["aspect"],
                                    seg_offset=meta["seg_offset"], text_source=meta["text_source"],
                                    language=meta["language"])


@ray.remote(max_restarts=-1, max_task_retries=3)
class Writer:
    """The one writer of the index: per-video atomic writes, failed rows, compaction."""

    def __init__(self, uri: str):
        self.store = IndexStore(uri, create=True)

    def pid(self) -> int:
        return os.getpid()

    def write(self, video: dict, cue_rows: list[dict], *row_lists: list[dict]) -> int:
        rows = [r for rows in row_lists for r in rows]
        self.store.write_video(video, rows, cue_rows)
        return len(rows)

    def fail(self, video: dict, error: str) -> None:
        self.store.write_failed(video, error)

    def optimize(self) -> None:
        self.store.optimize()
