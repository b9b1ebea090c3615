"""Index writes that scale with the cluster: rows are written as Lance fragments where they are
produced (`FragmentWriter`, in the embed actors), and a video becomes visible through one small
metadata commit (`Committer`, in the job's one writer), which commits every video waiting at that
moment as one group.

The files of a fragment are invisible until a commit names them, so a producer may write them at
any time and anywhere the index's storage is reachable. The committer keeps the rule of
`avu.store.tables`: for every video of a group, its `videos` row says `indexing` before its segment
and cue fragments are appended, and `done` after, so a reader that skips videos being indexed never
sees part of a video, and a killed job leaves its rows behind an `indexing` row, replaced by the
next run. Fragments written but never committed (a producer's call retried, a killed job) are
files no version names: the next run deletes them before its producers start (`remove_leftovers`).
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import lance
import pyarrow as pa
from lance.fragment import FragmentMetadata, write_fragments

from avu.store.tables import VIDEOS, IndexStore, _quote

ROW_TABLES = ("segments", "cues")  # the tables whose rows are written as fragments


def table_uri(index_uri: str, table: str) -> str:
    """Where LanceDB keeps `table` of the index at `index_uri` (a folder or an object-store URI)."""
    if table not in (*ROW_TABLES, "videos"):
        raise ValueError(f"unknown index table {table!r}")
    return f"{str(index_uri).rstrip('/')}/{table}.lance"


@dataclass(frozen=True)
class Receipt:
    """What a producer hands the committer for one batch of rows of one video: the fragments it
    wrote (Lance `FragmentMetadata` as JSON), or why it could not write them."""

    table: str  # segments | cues
    video_id: str
    rows: int  # rows in the batch
    fragments: tuple[str, ...] = ()  # FragmentMetadata JSON, one per fragment written
    error: str | None = None  # set when the fragments could not be written (a full disk, ...)

    def __post_init__(self):
        if self.table not in ROW_TABLES:
            raise ValueError(f"receipt for unknown table {self.table!r}")
        if self.rows < 0 or (self.error is None and self.rows > 0 and not self.fragments):
            raise ValueError(f"receipt of {self.video_id}: {self.rows} rows need fragments or an error")

    def metadata(self) -> list[FragmentMetadata]:
        return [FragmentMetadata.from_json(f) for f in self.fragments]


class FragmentWriter:
    """Writes rows of the index at `index_uri` as uncommitted fragments (one per call)."""

    def __init__(self, index_uri: str):
        self.uri = str(index_uri)
        self._schemas: dict[str, pa.Schema] = {}  # the table's own schema (an upgraded index may differ)

    def _schema(self, table: str) -> pa.Schema:
        if table not in self._schemas:
            self._schemas[table] = lance.dataset(table_uri(self.uri, table)).schema
        return self._schemas[table]

    def write(self, table: str, video_id: str, rows: list[dict]) -> Receipt:
        """Write `rows` (all of `video_id`) as a fragment of `table`. A storage error (OSError: a
        full disk, permissions) comes back in the receipt, so the committer stops the job the way a
        failed commit does; any other error is the caller's (bad rows)."""
        if not rows:
            return Receipt(table, video_id, 0)
        if any(r.get("video_id") != video_id for r in rows):
            raise ValueError(f"rows of another video in a fragment of {video_id}")
        schema = self._schema(table)
        data = pa.Table.from_pylist(rows, schema=schema)
        try:
            frags = write_fragments(data, table_uri(self.uri, table), schema=schema)
        except OSError as e:
            return Receipt(table, video_id, len(rows), error=f"{type(e).__name__}: {e}")
        return Receipt(table, video_id, len(rows), tuple(json.dumps(f.to_json()) for f in frags))


def remove_leftovers(index_uri: str) -> None:
    """Delete the fragment files no version names (written by producers of a run that died
    before committing them). Only while nothing writes the index: ingest calls it before its
    actors start, never from the writer actor (a restarted writer must not delete the fragments
    its producers are writing). Versions older than a week go too, as LanceDB's `optimize` does."""
    for table in ROW_TABLES:
        try:
            ds = lance.dataset(table_uri(index_uri, table))
        except ValueError:  # not created yet: nothing left over
            continue
        ds.cleanup_old_versions(older_than=timedelta(days=7), delete_unverified=True)


@dataclass
class _Pending:
    """A video waiting at the committer."""

    video: dict  # its videos row (without status)
    receipts: list[Receipt]  # its fragments, every table
    done: bool = False  # set once its group is committed (or failed)
    error: BaseException | None = None  # why it is not visible, raised in its caller


class Committer:
    """The one committer of an index. `commit(video, receipts)` makes a video visible and returns
    its segment count; calls made from several threads while a group commits wait and commit
    together as the next group (the writer actor is threaded for this). Thread safe."""

    def __init__(self, store: IndexStore):
        self.store = store
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()  # guards the queue
        self._commit_lock = threading.Lock()  # one group (or failed row, or compaction) at a time
        # videos that may have rows (they have a videos row): only these are deleted before a write
        self._known = {r["video_id"] for r in store.videos.search().select(["video_id"]).limit(None).to_list()}
        self.groups = 0  # groups committed (for the benchmark)

    # -- public ----------------------------------------------------------------------------------
    def commit(self, video: dict, receipts: list[Receipt]) -> int:
        item = _Pending(video, list(receipts))
        with self._queue_lock:
            self._queue.append(item)
        with self._commit_lock:
            if not item.done:
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._commit_group(group)
        if item.error is not None:
            raise item.error
        return sum(r.rows for r in item.receipts if r.table == "segments")

    def commit_together(self, videos: list[tuple[dict, list[Receipt]]]) -> list[int]:
        """Commit these videos as one group (what `commit` does for videos that wait together);
        their segment counts. Raises the first error after the others are committed."""
        items = [_Pending(v, list(r)) for v, r in videos]
        with self._commit_lock:
            self._commit_group(items)
        for item in items:
            if item.error is not None:
                raise item.error
        return [sum(r.rows for r in item.receipts if r.table == "segments") for item in items]

    def fail(self, video: dict, error: str) -> None:
        """The video's `failed` row (and none of its rows)."""
        with self._commit_lock:
            self._delete([video["video_id"]])
            self._upsert([{**video, "status": "failed", "error": error, "n_segments": 0,
                           "ingested_at": time.time()}])

    def optimize(self) -> dict:
        """Compaction and vector indexes (`IndexStore.optimize`) on the latest versions."""
        with self._commit_lock:
            for t in (self.store.segments, self.store.cues):
                t.checkout_latest()
            return self.store.optimize()

    # -- a group ---------------------------------------------------------------------------------
    def _commit_group(self, group: list[_Pending]) -> None:
        ok = []
        for item in group:
            bad = [r.error for r in item.receipts if r.error]
            vid = item.video["video_id"]
            if bad or any(r.video_id != vid for r in item.receipts):
                why = bad[0] if bad else "a receipt of another video"
                item.error = OSError(f"cannot write the rows of {vid}: {why}")
                item.done = True
            else:
                ok.append(item)
        if ok:
            latest = {item.video["video_id"]: item for item in ok}  # the same video twice: the last wins
            try:
                self._write(list(latest.values()))
            except BaseException as e:  # every video of the group is invisible; each caller sees why
                for item in ok:
                    item.error = e
        for item in ok:
            item.done = True

    def _write(self, group: list[_Pending]) -> None:
        stale = [item.video["video_id"] for item in group if item.video["video_id"] in self._known]
        self._upsert([{**item.video, "status": "indexing", "error": None} for item in group], new_only=not stale)
        self._delete(stale)
        for table in ROW_TABLES:
            frags = [m for item in group for r in item.receipts if r.table == table for m in r.metadata()]
            if frags:
                uri = table_uri(self.store.uri, table)
                lance.LanceDataset.commit(uri, lance.LanceOperation.Append(frags),
                                          read_version=lance.dataset(uri).version)
        now = time.time()
        self._upsert([{**item.video, "status": "done", "error": None, "ingested_at": now,
                       "n_segments": sum(r.rows for r in item.receipts if r.table == "segments")}
                      for item in group])
        self.groups += 1

    def _delete(self, vids: list[str]) -> None:
        """Rows of these videos from an earlier write (a re-index, a killed run): gone. A video
        without a `videos` row has no rows (its row is written before its rows)."""
        stale = sorted(v for v in vids if v in self._known)
        if not stale:
            return
        where = "video_id IN (" + ", ".join(_quote(v) for v in stale) + ")"
        for table in ROW_TABLES:
            lance.dataset(table_uri(self.store.uri, table)).delete(where)

    def _upsert(self, rows: list[dict], *, new_only: bool = False) -> None:
        """Write these `videos` rows; `new_only`: none of them exists yet (a plain append, a third
        of a merge's time)."""
        data = pa.Table.from_pylist([{f.name: r.get(f.name) for f in VIDEOS} for r in rows], schema=VIDEOS)
        if new_only:
            self.store.videos.add(data)
        else:
            self.store.videos.merge_insert("video_id").when_matched_update_all() \
                .when_not_matched_insert_all().execute(data)
        self._known.update(r["video_id"] for r in rows)
