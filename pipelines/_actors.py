"""The ingest job's Ray actors: decoders (stateless work, one open file each), embedders (load
their models once), and the single index writer. Every method is safe to retry: a restarted
actor re-opens what it needs, and the writer's per-video write replaces what a dead one left."""
from __future__ import annotations

import os

import ray

from avu.ingest import Featurizer, IngestConfig, plan_video
from avu.index import IndexStore
from avu.media import ClipReader, Segment


def _limit_threads(n: int) -> None:
    import torch

    torch.set_num_threads(max(1, n))
    os.environ["OMP_NUM_THREADS"] = str(max(1, n))


@ray.remote(max_restarts=-1, max_task_retries=3)
class Decoder:
    """Plans a video (hash, probe, subtitles or ASR) and streams it segment by segment."""

    def __init__(self, cfg: dict, threads: int = 1):
        self.cfg = IngestConfig(**cfg)
        self.threads = threads
        _limit_threads(threads)
        self._reader: ClipReader | None = None

    def pid(self) -> int:
        return os.getpid()

    def plan(self, path: str):
        return plan_video(path, self.cfg)

    def decode(self, path: str, spans: list[tuple[float, float]]) -> list[dict]:
        """Clips (numpy arrays) for these segments; the file stays open for the next call."""
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
        self.featurizer = Featurizer(IngestConfig(**cfg))

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
