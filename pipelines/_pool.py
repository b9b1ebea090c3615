"""Warm actors: the decode, embed and write actors of an ingest, kept for the next ingest of the
same process while its Ray session lasts.

Starting an ingest's actors costs 4-10 s on 2 cores (the embed actor loads torch, MiniLM, the
ESC-10 model and the perception models; the writer loads LanceDB), most of a small ingest's time;
taking them warm, ~0.05 s (`avu bench ingest --json`: `startup_s_cold` 9.09, `startup_s_warm` 0.043).
When the caller keeps Ray up across ingests (`with ray_session(): add_videos(...); add_videos(...)`,
a notebook, the test suite), `ActorPool` keeps the last ingest's actors, each under the key of what
it was built with (the ingest config, thread count, memory guard, frame reader), and the next
ingest takes the ones whose key matches. Idle actors hold their CPUs, so the ones that do not match
are ended before any new actor starts. The actors hold no index: the index travels with each call.

A pool belongs to one Ray session (its node id and GCS address): after Ray restarts, the old
handles are dropped unused. An ingest that raised returns nothing to the pool, and a decode actor
the driver replaced is not returned either. `ray_session` empties the pool before it shuts Ray down.
"""
from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

import ray


def _session() -> tuple[str, str]:
    ctx = ray.get_runtime_context()
    return ctx.get_node_id(), ctx.gcs_address


class ActorPool:
    """Idle actors by key, for one Ray session; thread safe."""

    def __init__(self):
        self._idle: list[tuple[Hashable, Any]] = []
        self._session: tuple[str, str] | None = None
        self._lock = threading.Lock()

    def take(self, wanted: list[Hashable]) -> list[Any | None]:
        """For each key in `wanted`, an idle actor built with it (None where there is none). The
        idle actors not taken are ended, so their CPUs are free for the actors started next."""
        session = _session()
        with self._lock:
            if self._session != session:
                self._idle, self._session = [], session  # another Ray: those handles are gone
            idle, self._idle = self._idle, []
        out: list[Any | None] = []
        for key in wanted:
            i = next((i for i, (k, _) in enumerate(idle) if k == key), None)
            out.append(idle.pop(i)[1] if i is not None else None)
        for _, actor in idle:
            ray.kill(actor, no_restart=True)
        return out

    def give(self, actors: list[tuple[Hashable, Any]]) -> None:
        """Keep these (key, actor) pairs for the next ingest of this Ray session."""
        with self._lock:
            if self._session == _session():
                self._idle.extend(actors)

    def release(self) -> None:
        """End every idle actor (before Ray work of another kind needs their CPUs)."""
        if ray.is_initialized():
            self.take([])

    def drop(self) -> None:
        """Forget every idle actor (Ray is about to shut down, which ends them)."""
        with self._lock:
            self._idle, self._session = [], None


POOL = ActorPool()  # the process's pool (used by `pipelines.ingest`)

__all__ = ["POOL", "ActorPool"]
