"""The ingest job's one index writer: per-video atomic writes, failed rows, compaction. It imports
the index store only (no media stack, no encoders). A restarted writer's per-video write replaces
what a dead one left."""
from __future__ import annotations

import os

import ray

from avu.store import IndexStore


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
