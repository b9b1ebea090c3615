"""Resume without a cluster: which of the files are already indexed with this config.

A video is done when the index holds a `done` row with its content hash and the same config hash
(the check the decode actors also make). Hashing needs no Ray, so the driver process hashes the
files that can be done, namely those whose size equals that of a done video of this config (a `stat`, no
read), and reports them as skipped at once; the others go to the cluster. When every file is done,
ingest returns without starting Ray. Hashing in this process is serial (blake2b measured at
130-700 MB/s here, depending on load), so past `HASH_BUDGET_BYTES` of candidates the decode actors
hash them in parallel instead, as they do for every new file.
"""
from __future__ import annotations

import os

from avu.ingest import IngestConfig, content_id
from avu.media import MediaError
from avu.store import IndexStore, InvalidIndex
from pipelines._jobs import Result

HASH_BUDGET_BYTES = 2 << 30  # hash at most this much in the driver (about 3 s at 700 MB/s)


def _done_rows(index: str, cfg: IngestConfig) -> list[dict]:
    """The index's done videos of this config; none when there is no index there yet."""
    try:
        IndexStore.check(index)  # no index yet (or not one): nothing is done; ingest reports why
    except InvalidIndex:
        return []
    store = IndexStore(index)
    return [r for r in store.video_rows("status = 'done'") if r["config_hash"] == cfg.hash]


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def split_done(files: list[str], index: str, cfg: IngestConfig, *,
               budget: int = HASH_BUDGET_BYTES) -> tuple[list[Result], list[str]]:
    """(`skipped` results for files already indexed with `cfg`, the files still to ingest)."""
    rows = _done_rows(index, cfg)
    if not rows:
        return [], list(files)
    sizes = {r["size_bytes"] for r in rows}
    by_id = {r["video_id"]: r for r in rows}
    candidates = {f: s for f in files if (s := _size(f)) in sizes}
    if sum(candidates.values()) > budget:
        return [], list(files)
    skipped, todo = [], []
    for f in files:
        row = None
        if f in candidates:
            try:
                row = by_id.get(content_id(f))
            except (MediaError, OSError):
                row = None  # unreadable now: the decode actor records why
        if row is None:
            todo.append(f)
        else:
            skipped.append(Result(f, row["video_id"], "skipped", duration=row["duration"] or 0.0))
    return skipped, todo
