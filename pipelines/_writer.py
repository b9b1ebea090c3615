"""The ingest job's one index writer: it commits what the embed actors wrote (their fragment
receipts) and the `videos` rows, so a video becomes visible whole or not at all
(`avu.store._fragments.Committer`); failed rows; compaction. It imports the index store only (no
media stack, no encoders). The actor is threaded: the videos that arrive while a commit runs are
committed together by the next one, so the one writer keeps up with many embed actors. A
restarted writer's commit of a video replaces what a dead one left."""
from __future__ import annotations

import os

import ray

from avu.store import IndexStore
from avu.store._fragments import Committer, Receipt

WRITE_THREADS = 64  # videos that may wait at the writer at once (the driver's bound is lower)


@ray.remote(max_restarts=-1, max_task_retries=3, max_concurrency=WRITE_THREADS)
class Writer:
    """The one committer of the index: videos made visible, failed rows, compaction."""

    def __init__(self, uri: str):
        self.committer = Committer(IndexStore(uri, create=True))

    def pid(self) -> int:
        return os.getpid()

    def write(self, video: dict, receipts: list[Receipt]) -> int:
        """Make the video visible (its fragments, then its `done` row); its segment count."""
        return self.committer.commit(video, receipts)

    def fail(self, video: dict, error: str) -> None:
        self.committer.fail(video, error)

    def optimize(self) -> None:
        self.committer.optimize()
