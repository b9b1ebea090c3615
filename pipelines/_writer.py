"""The ingest job's one index writer: it commits what the embed actors wrote (their fragment
receipts) and the `videos` rows, so a video becomes visible whole or not at all
(`avu.store._fragments.Committer`); failed rows; compaction. It imports the index store only (no
media stack, no encoders). The actor is threaded: the videos that arrive while a commit runs are
committed together by the next one, so the one writer keeps up with many embed actors. A
restarted writer's commit of a video replaces what a dead one left.

The index travels with each call, so one writer serves ingest after ingest (`pipelines/_pool.py`):
`open(index)` at a job's start gives the index a fresh committer (what a previous job or another
process committed since is seen), and `optimize(index)` at its end lets it go. A restarted writer
opens the index again on its first call."""
from __future__ import annotations

import os
import threading

import ray

from avu.store import IndexStore
from avu.store._fragments import Committer, Receipt

WRITE_THREADS = 64  # videos that may wait at the writer at once (the driver's bound is lower)


@ray.remote(max_restarts=-1, max_task_retries=3, max_concurrency=WRITE_THREADS)
class Writer:
    """The one committer of each index an ingest writes: videos made visible, failed rows, compaction."""

    def __init__(self):
        self._committers: dict[str, Committer] = {}
        self._lock = threading.Lock()  # the calls run in threads

    def pid(self) -> int:
        return os.getpid()

    def open(self, uri: str) -> None:
        """A new job writes `uri`: a fresh committer (the index as it is now)."""
        with self._lock:
            self._committers.pop(uri, None)
        self._committer(uri)

    def _committer(self, uri: str) -> Committer:
        with self._lock:
            if uri not in self._committers:
                self._committers[uri] = Committer(IndexStore(uri, create=True))
            return self._committers[uri]

    def write(self, uri: str, video: dict, receipts: list[Receipt]) -> int:
        """Make the video visible (its fragments, then its `done` row); its segment count."""
        return self._committer(uri).commit(video, receipts)

    def fail(self, uri: str, video: dict, error: str) -> None:
        self._committer(uri).fail(video, error)

    def optimize(self, uri: str) -> None:
        """Compaction at the job's end; the index's committer goes with it."""
        self._committer(uri).optimize()
        with self._lock:
            self._committers.pop(uri, None)
