"""The ingest job's embed actors: each loads the configured encoders once and turns clip batches
(from the decode actors, `pipelines/_decoder.py`) into segment rows for the writer
(`pipelines/_writer.py`). Every method is safe to retry: a restarted actor loads its models again."""
from __future__ import annotations

import os

import ray

from avu.ingest.config import IngestConfig
from avu.ingest.features import Featurizer
from pipelines._process import limit_threads


@ray.remote(max_restarts=-1, max_task_retries=3)
class Embedder:
    """Loads the configured encoders once; turns clip batches into segment rows."""

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
