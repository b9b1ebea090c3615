"""The ingest job end to end on local Ray: real clips, bad files mixed in, a killed driver; and the
checks made before Ray starts (inputs, videos already done)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avu.ingest import IngestConfig, IngestInputError, content_id, discover
from avu.media import segments
from avu.store import IndexStore, InvalidIndex
from pipelines.ingest import IngestOptions, add_videos, largest_first, run_ingest
from tests import factory
from tests._perceived_index import perceived_index
from tests.conftest import SHARED_CLIPS

CFG = IngestConfig(asr="off")
OPTS = IngestOptions(config=CFG)
ONE = IngestOptions(config=CFG, decoders=1)
KEY = ("video_id", "seg", "start", "end", "text", "text_source", "audio_db", "motion")


def index_rows(index: Path) -> dict[str, list[tuple]]:
    """video_id -> its segment rows (the comparable columns), in order; only done videos."""
    store = IndexStore(index)
    return {vid: [tuple(r[k] for k in KEY) for r in store.segment_rows(vid)] for vid in store.done()}


def avu_cmd(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "avu", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "COLUMNS": "200"}, **kw)


@pytest.fixture(scope="module")
def shared_index(shared_data, tmp_path_factory) -> Path:
    """The session's index of the shared clips (and a title card), ingested with `CFG`."""
    return perceived_index(shared_data, tmp_path_factory)


@pytest.mark.shared
def test_shared_clips_indexed(shared_index, shared_data):
    store = IndexStore(shared_index)
    videos = {Path(v["path"]).name: v for v in store.video_rows()}
    assert set(videos) == {*SHARED_CLIPS, "title_card.mp4"} and all(v["status"] == "done" for v in videos.values())
    assert {v["config_hash"] for v in videos.values()} == {CFG.hash}
    for name in SHARED_CLIPS:
        v = videos[name]
        assert v["video_id"] == content_id(shared_data / "video" / name)
        rows = store.segment_rows(v["video_id"])
        expected = segments(v["duration"], window=2.0)
        assert [(r["start"], r["end"]) for r in rows] == [(s.start, s.end) for s in expected], name
        assert [r["seg"] for r in rows] == list(range(len(rows)))
        assert all(r["visual_emb"] is None and r["audio_emb"] is None for r in rows)  # no trained model yet
        assert all(r["keyframe_jpeg"][:2] == b"\xff\xd8" for r in rows)  # a JPEG per segment
        assert all(r["audio_db"] is not None for r in rows)
        probs = [json.loads(r["event_scores"]) for r in rows]  # ESC-10 probabilities per segment
        assert all(len(p) == 10 and abs(sum(p.values()) - 1) < 1e-3 for p in probs), name
    manifesto = store.segment_rows(videos["manifesto.mp4"]["video_id"])
    assert manifesto[0]["text"] == "this audiobook is in the public domain"
    assert manifesto[0]["text_source"] == "file:manifesto.srt" and len(manifesto[0]["speech_emb"]) == 384
    spoken = [r for r in manifesto if r["text"]]
    assert len(spoken) >= 40 and all(r["speech_emb"] is not None for r in spoken)
    models = json.loads(videos["manifesto.mp4"]["models_json"])
    assert models["text"].startswith("all-MiniLM-L6-v2") and models["events"].startswith("esc10")


@pytest.mark.shared
def test_rerun_skips_and_changes_nothing(shared_index, shared_data):
    before = index_rows(shared_index)
    stats: dict = {}
    results = run_ingest([str(shared_data / "video")], str(shared_index), OPTS, stats=stats)
    assert {r.status for r in results} == {"skipped"} and len(results) == len(SHARED_CLIPS)  # same config
    assert stats["ray"] is False  # every video found done by its hash in this process: no Ray started
    assert index_rows(shared_index) == before


def test_bad_files_fail_with_reasons_and_good_ones_are_indexed(tmp_path, tiny_av):
    folder = tmp_path / "mixed"
    good = factory.make_corpus(folder, 2, seconds=3)
    shutil.copy(tiny_av, folder / "tiny.mkv")
    (folder / "tiny.srt").write_text("1\n00:00:00,200 --> 00:00:01,000\nhello avu\n")
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "noise.webm").write_bytes(os.urandom(20000))
    (folder / "cut.mp4").write_bytes(good[0].read_bytes()[:3000])
    (folder / "broken.srt").write_bytes(b"\x00\xff" * 50)
    factory.make_video(folder / "broken.mkv", n=15)  # its sidecar is garbage: indexed without text
    p = avu_cmd("ingest", str(folder), "--index", str(tmp_path / "idx"), "--asr", "off", "--speakers", "off",
                "--perception", "off", "--strict")
    out, err = p.communicate(timeout=300)
    assert p.returncode == 1, err  # --strict: some failed
    store = IndexStore(tmp_path / "idx")
    rows = {Path(v["path"]).name: v for v in store.video_rows()}
    assert {n for n, v in rows.items() if v["status"] == "done"} == {"clip_00.mp4", "clip_01.mp4", "tiny.mkv",
                                                                      "broken.mkv"}
    assert rows["empty.mp4"]["error"] == "empty file (0 bytes)"
    assert "not a readable media container" in rows["noise.webm"]["error"]
    assert rows["cut.mp4"]["status"] == "failed" and rows["cut.mp4"]["error"]
    tiny = store.segment_rows(rows["tiny.mkv"]["video_id"])
    assert tiny[0]["text"] == "hello avu" and tiny[0]["text_source"] == "file:tiny.srt"
    assert "broken.srt" in rows["broken.mkv"]["notes_json"]
    assert all(r["text"] is None for r in store.segment_rows(rows["broken.mkv"]["video_id"]))
    assert "empty file (0 bytes)" in out and "failed" in out


def test_killed_driver_resumes_to_a_clean_runs_index(tmp_path):
    corpus = factory.make_corpus(tmp_path / "corpus", 10, seconds=20, w=320, h=240)
    clean = tmp_path / "clean"
    lean = IngestOptions(config=factory.LEAN, decoders=1)  # the pipeline alone: what a kill interrupts
    run_ingest([str(tmp_path / "corpus")], str(clean), lean)
    killed = tmp_path / "killed"
    p = avu_cmd("ingest", str(tmp_path / "corpus"), "--index", str(killed), "--asr", "off", "--speakers", "off",
                "--perception", "off", "--decoders", "1", start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and p.poll() is None:
        try:
            if len(IndexStore(killed).done()) >= 2:  # a reader while the job writes
                break
        except InvalidIndex:
            pass
        time.sleep(0.2)
    assert p.poll() is None, "the job ended before it could be killed"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    partial = len(IndexStore(killed).done())
    assert 2 <= partial < len(corpus)
    os.killpg(p.pid, signal.SIGKILL)  # the dead driver's local Ray processes
    results = run_ingest([str(tmp_path / "corpus")], str(killed), lean)
    assert sum(r.status == "skipped" for r in results) >= partial
    assert index_rows(killed) == index_rows(clean)
    n = IndexStore(killed).segments.count_rows()
    assert n == sum(len(v) for v in index_rows(clean).values())  # no duplicates, no leftovers


def test_foreign_folder_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InvalidIndex, match="not an avu index"):
        IndexStore(tmp_path, create=True)
    with pytest.raises(InvalidIndex, match="no avu index here"):
        IndexStore(tmp_path / "missing")


@pytest.mark.shared
def test_video_without_subtitles_is_transcribed(shared_data, tmp_path):
    folder = tmp_path / "nosubs"
    folder.mkdir()
    (folder / "talk.mp4").symlink_to(shared_data / "video" / "manifesto.mp4")  # its .srt stays behind
    asr_only = IngestConfig(asr="auto", speakers="off", perception=None)  # what this test checks, nothing else
    results = run_ingest([str(folder)], str(tmp_path / "idx"), IngestOptions(config=asr_only))
    assert [r.status for r in results] == ["done"]
    store = IndexStore(tmp_path / "idx")
    (vid,) = store.done()
    rows = store.segment_rows(vid)
    spoken = [r for r in rows if r["text"]]
    assert len(spoken) >= 35 and all(r["text_source"] == "asr:tiny.en" for r in spoken)
    assert all(r["language"] == "en" and r["speech_emb"] is not None for r in spoken)
    first = " ".join(r["text"].lower() for r in rows[:3] if r["text"])
    assert "public domain" in first  # said at 1.6-3.9 s in the reference subtitles


# -- before Ray: inputs and videos already done --------------------------------------------------
def test_missing_path_is_a_usage_error_before_anything_is_created(tmp_path):
    index = tmp_path / "idx"
    with pytest.raises(IngestInputError, match="nope_dir: no such file or folder"):
        run_ingest([str(tmp_path / "nope_dir")], str(index), OPTS)
    assert not index.exists()  # no index, so no failed row either


def test_folder_without_videos_is_a_usage_error(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("not a video")
    with pytest.raises(IngestInputError, match="docs: no video files in this folder"):
        run_ingest([str(tmp_path / "docs")], str(tmp_path / "idx"), OPTS)
    empty_list = tmp_path / "list.txt"
    empty_list.write_text("# nothing yet\n")
    with pytest.raises(IngestInputError, match="list.txt: the list names no video"):
        discover([empty_list])
    with pytest.raises(IngestInputError, match="no input"):
        discover([])
    assert not (tmp_path / "idx").exists()


def test_discover_keeps_a_missing_entry_of_a_list(tmp_path, tiny_av):
    listing = tmp_path / "batch.txt"
    listing.write_text(f"{tiny_av}\ngone.mp4\n")
    assert discover([listing]) == [tiny_av, tmp_path / "gone.mp4"]  # the batch goes on; ingest records why


def test_largest_files_start_first(tmp_path):
    sizes = {"a.mp4": 10, "b.mp4": 300, "c.mp4": 10, "d.mp4": 4000}
    for name, n in sizes.items():
        (tmp_path / name).write_bytes(b"x" * n)
    files = [str(tmp_path / n) for n in [*sizes, "gone.mp4"]]  # a missing file fails later, with its reason
    assert [Path(f).name for f in largest_first(files)] == ["d.mp4", "b.mp4", "a.mp4", "c.mp4", "gone.mp4"]


@pytest.mark.slow
def test_add_videos_then_nothing_to_do_without_ray(tmp_path, tiny_av):
    index = tmp_path / "idx"
    first = add_videos(index, [tiny_av], IngestOptions(config=factory.LEAN, decoders=1))
    assert [(r.status, r.segments) for r in first] == [("done", 1)]
    stats: dict = {}
    again = run_ingest([str(tiny_av)], str(index), IngestOptions(config=factory.LEAN), stats=stats)
    assert [(r.status, r.video_id) for r in again] == [("skipped", first[0].video_id)]
    assert stats["ray"] is False and "pids" not in stats  # no actor was started
    moved = tmp_path / "moved.mkv"
    shutil.copy(tiny_av, moved)  # the same content elsewhere: found by its hash, still no Ray
    assert [r.status for r in run_ingest([str(moved)], str(index), IngestOptions(config=factory.LEAN),
                                         stats=stats)] == ["skipped"]
    assert stats["ray"] is False


@pytest.mark.slow
def test_the_next_ingest_takes_the_warm_actors(tmp_path, tiny_av, tiny_video_only):
    """With Ray kept up across ingests (the suite's shared Ray), an ingest takes the last one's
    actors where their settings match, and each writes its own index; an actor built otherwise is
    ended and a new one started."""
    opts = IngestOptions(config=factory.LEAN, decoders=1)
    first: dict = {}
    second: dict = {}
    run_ingest([str(tiny_av)], str(tmp_path / "a"), opts, stats=first)
    run_ingest([str(tiny_video_only), str(tiny_av)], str(tmp_path / "b"), opts, stats=second)
    assert second["warm_actors"] == 3 and second["pids"] == first["pids"]  # decoder, embedder, writer
    a, b = index_rows(tmp_path / "a"), index_rows(tmp_path / "b")
    assert len(a) == 1 and len(b) == 2 and set(a) < set(b)
    vid = next(iter(a))
    assert a[vid] == b[vid]  # the same rows as the cold ingest wrote
    other: dict = {}
    run_ingest([str(tiny_av)], str(tmp_path / "c"), IngestOptions(config=factory.LEAN, decoders=1,
                                                                    decode_memory_mb=512), stats=other)
    assert other["warm_actors"] == 2  # embedder and writer; the decoder had another memory guard
    assert other["pids"][1:] == first["pids"][1:] and other["pids"][0] != first["pids"][0]
    assert index_rows(tmp_path / "c") == a
