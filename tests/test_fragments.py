"""Index writes as Lance fragments (`avu.store._fragments`): rows written by producers are
invisible until committed; a commit makes whole videos visible (the same rows as the per-video
`IndexStore.write_video`); videos waiting together commit as one group; a failed or killed write
leaves nothing visible and is replaced by the next; fragment files nobody committed are removed."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from avu.store import IndexStore
from avu.store._fragments import Committer, FragmentWriter, Receipt, remove_leftovers, table_uri


def _video(vid: str) -> dict:
    return {"video_id": vid, "path": f"/x/{vid}.mp4", "duration": 8.0, "config_hash": "h"}


def _rows(vid: str, n: int = 4) -> list[dict]:
    return [{"video_id": vid, "seg": i, "start": 2.0 * i, "end": 2.0 * i + 2, "text": f"{vid} {i}"}
            for i in range(n)]


def _cues(vid: str) -> list[dict]:
    return [{"video_id": vid, "idx": 0, "start": 0.0, "end": 1.0, "text": f"cue of {vid}"}]


def _receipts(w: FragmentWriter, vid: str, n: int = 4, batch: int = 2) -> list[Receipt]:
    rows = _rows(vid, n)
    segs = [w.write("segments", vid, rows[i:i + batch]) for i in range(0, n, batch)]
    return [w.write("cues", vid, _cues(vid)), *segs]


def _segs(store: IndexStore) -> list[tuple]:
    return sorted((r["video_id"], r["seg"], r["text"]) for r in
                  store.segments.search().select(["video_id", "seg", "text"]).limit(None).to_list())


def _data_files(index: Path, table: str) -> int:
    return sum(1 for _ in Path(table_uri(str(index), table), "data").glob("*.lance"))


@pytest.fixture
def store(tmp_path) -> IndexStore:
    return IndexStore(tmp_path / "index", create=True)


def test_commit_shows_the_same_rows_as_a_per_video_write(store, tmp_path):
    w, c = FragmentWriter(store.uri), Committer(store)
    receipts = _receipts(w, "v1", n=5)
    assert _segs(IndexStore(store.uri)) == [] and store.done() == {}  # written, not visible
    assert c.commit(_video("v1"), receipts) == 5
    old = IndexStore(tmp_path / "old", create=True)
    old.write_video(_video("v1"), _rows("v1", 5), _cues("v1"))
    again = IndexStore(store.uri)
    assert _segs(again) == _segs(old) and again.cue_rows("v1")[0]["text"] == "cue of v1"
    row = again.video_rows()[0]
    assert (row["status"], row["n_segments"], row["path"]) == ("done", 5, "/x/v1.mp4")


def test_waiting_videos_commit_as_one_group(store):
    w, c = FragmentWriter(store.uri), Committer(store)
    receipts = {f"v{k}": _receipts(w, f"v{k}") for k in range(8)}
    gate = threading.Lock()
    gate.acquire()  # hold the committer: every commit queues behind the first
    real = c._write

    def slow_first(group):
        with gate:
            pass
        real(group)

    c._write = slow_first
    threads = [threading.Thread(target=c.commit, args=(_video(v), r)) for v, r in receipts.items()]
    for t in threads:
        t.start()
    while len(c._queue) < 7:  # one group committing (held), the seven others queued
        threading.Event().wait(0.01)
    gate.release()
    for t in threads:
        t.join(60)
    assert c.groups == 2
    assert sorted(store.done()) == sorted(receipts)
    assert len(_segs(IndexStore(store.uri))) == 8 * 4


def test_the_same_video_twice_in_a_group_is_written_once(store):
    w, c = FragmentWriter(store.uri), Committer(store)
    twice = [(_video("v1"), _receipts(w, "v1", n=4)), (_video("v1"), _receipts(w, "v1", n=2))]
    assert c.commit_together(twice) == [4, 2]
    again = IndexStore(store.uri)
    assert [s[1] for s in _segs(again)] == [0, 1] and len(again.video_rows()) == 1


def test_a_receipt_with_an_error_fails_its_video_only(store):
    w, c = FragmentWriter(store.uri), Committer(store)
    bad = Receipt("segments", "v2", 3, error="OSError: [Errno 28] No space left on device")
    with pytest.raises(OSError, match="cannot write the rows of v2: .*No space"):
        c.commit(_video("v2"), [bad])
    c.commit(_video("v1"), _receipts(w, "v1"))
    assert list(store.done()) == ["v1"] and {r[0] for r in _segs(IndexStore(store.uri))} == {"v1"}


def test_a_storage_error_comes_back_in_the_receipt(store, monkeypatch):
    import avu.store._fragments as fr

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fr, "write_fragments", full)
    r = FragmentWriter(store.uri).write("segments", "v1", _rows("v1"))
    assert r.error and "No space" in r.error and r.fragments == ()
    with pytest.raises(ValueError, match="another video"):
        FragmentWriter(store.uri).write("segments", "v2", _rows("v1"))


def test_a_write_killed_before_done_stays_invisible_and_is_replaced(store):
    w, c = FragmentWriter(store.uri), Committer(store)
    c.commit(_video("v1"), _receipts(w, "v1"))
    real = c._upsert

    def die_at_done(rows, **kw):
        if rows[0]["status"] == "done":
            raise KeyboardInterrupt("killed")  # the process dies after the fragments were appended
        real(rows, **kw)

    c._upsert = die_at_done
    with pytest.raises(KeyboardInterrupt):
        c.commit(_video("v2"), _receipts(w, "v2"))
    reader = IndexStore(store.uri)
    assert list(reader.done()) == ["v1"]
    assert reader.video_rows("video_id = 'v2'")[0]["status"] == "indexing"  # readers skip its rows
    again = Committer(IndexStore(store.uri, create=True))  # the next run
    again.commit(_video("v2"), _receipts(FragmentWriter(store.uri), "v2", n=6))
    segs = _segs(IndexStore(store.uri))
    assert [s[1] for s in segs if s[0] == "v2"] == list(range(6))  # replaced, no duplicates
    assert len(segs) == 4 + 6


def test_recommit_replaces_and_fail_removes(store):
    w, c = FragmentWriter(store.uri), Committer(store)
    c.commit(_video("v1"), _receipts(w, "v1", n=4))
    c.commit(_video("v1"), _receipts(w, "v1", n=2))  # re-indexed (another config)
    assert [s[1] for s in _segs(IndexStore(store.uri))] == [0, 1]
    c.fail(_video("v1"), "MediaError: broken")
    again = IndexStore(store.uri)
    assert _segs(again) == [] and again.video_rows()[0]["status"] == "failed"


def test_uncommitted_fragments_are_removed_by_the_next_run(store, tmp_path):
    w, c = FragmentWriter(store.uri), Committer(store)
    c.commit(_video("v1"), _receipts(w, "v1"))
    committed = _data_files(tmp_path / "index", "segments")
    _receipts(w, "v2")  # a run died before committing these
    assert _data_files(tmp_path / "index", "segments") == committed + 2
    remove_leftovers(store.uri)
    assert _data_files(tmp_path / "index", "segments") == committed
    assert len(_segs(IndexStore(store.uri))) == 4


@pytest.mark.slow
def test_writer_benchmark_commits_every_video(tiny_av):
    from avu.bench._ingest_writer import writer_segments_per_s

    out = writer_segments_per_s(tiny_av, videos=5, segments=12, cues=3, producers=2, group=2)
    assert out["writer_groups"] == 2  # 4 timed videos (the first is not timed), 2 per commit
    for key in ("writer_segments_per_s", "writer_segments_per_cpu_s", "writer_segments_per_s_one_video",
                "writer_table_add_segments_per_s", "fragment_segments_per_s"):
        assert out[key] > 0, key
