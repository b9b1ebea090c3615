"""The ingest job's embed actors: each loads the configured encoders once and turns clip batches
(from the decode actors, `pipelines/_decoder.py`) into segment rows; once a video's rows are all
embedded, one of them writes the rows as Lance fragments (`pack`: one per table, invisible until
committed) and hands the writer (`pipelines/_writer.py`) only their receipts, so the index is
written by every embed actor of the cluster, not by one process. Every method is safe to retry: a
restarted actor loads its models again, and a retried `pack` writes new fragments (the unused ones
are never committed, and the next run deletes them)."""
from __future__ import annotations

import os

import ray

from avu.ingest.config import IngestConfig
from avu.ingest.features import Featurizer
from avu.store._fragments import FragmentWriter, Receipt
from pipelines._process import limit_threads


@ray.remote(max_restarts=-1, max_task_retries=3)
class Embedder:
    """Loads the configured encoders once; turns clip batches into segment rows, and a video's
    rows into fragments of the index named in the call."""

    def __init__(self, cfg: dict, threads: int = 1):
        limit_threads(threads)
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

    def pack(self, index: str, video_id: str, cue_rows: list[dict], *row_lists: list[dict]) -> list[Receipt]:
        """A video's rows (every batch embedded) written as one segments and one cues fragment of
        the index at `index` (each call reads the index's schema afresh: the actor outlives a job)."""
        fragments = FragmentWriter(index)
        rows = sorted((r for rows in row_lists for r in rows), key=lambda r: r["seg"])
        return [fragments.write("segments", video_id, rows), fragments.write("cues", video_id, cue_rows)]
