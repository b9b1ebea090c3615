"""Reliability of ingest: the bad-input corpus, killed actors, a full disk, and the limits.

- The corpus of `avu.bench._badmedia` goes through a real ingest (the same code as
  `avu bench reliability`): every case ends as expected, nothing crashes, no good segment is lost.
- SIGKILL of a decode actor and of an embed actor mid-run (their real processes, found through
  Ray's state API): the job completes and the index equals a clean run's, segment for segment,
  with no duplicates. (A killed driver is in test_ingest.py, a removed worker node in
  test_cluster.py.)
- A full disk while writing: the index lives on a small tmpfs mounted for the test (root only),
  the job stops with `IndexWriteError`, the index stays readable and whole, and a re-run with room
  completes it; the same atomicity is checked everywhere with an injected ENOSPC.
- Limits: a file that stalls is timed out and its decode actor replaced; a decode actor's memory
  guard fails an 8K file without crashing anything; queues stay within their bound.
"""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest

from avu.bench._badmedia import build_corpus, good_clips, write_clip
from avu.bench.reliability import bench_reliability
from avu.store import IndexStore, InvalidIndex
from pipelines.ingest import IndexWriteError, IngestOptions, ray_session, run_ingest
from tests.factory import LEAN
from tests.test_ingest import index_rows

CFG = LEAN  # faults in the pipeline itself: nothing to perceive or say in the generated clips
N_CLIPS, SECONDS = 5, 16


def test_bad_input_corpus():
    r = bench_reliability(good=2, decoders=2, call_timeout=10.0)
    wrong = [d for d in r["cases"] if not d["handled"]]
    assert not wrong, wrong
    assert r["tried"] == len(r["cases"]) - 2 >= 38 and r["handled"] == r["tried"]
    assert r["crashed"] == 0 and r["lost_segments"] == 0 and r["duplicate_segments"] == 0
    assert r["good_indexed"] == 2 and r["job_error"] is None
    stall = next(d for d in r["cases"] if d["case"] == "stall")
    assert stall["status"] == "failed" and "timed out" in stall["error"] and stall["error_class"] == "timeout"
    failed = [d for d in r["cases"] if d["expect"] == "failed"]
    assert len(failed) >= 20 and all(d["error_class"] == d["expected_error"] for d in failed)


@pytest.mark.slow
def test_expected_failures_name_class_and_message(tmp_path):
    """Every expected failure names its error class and a message fragment; a row's class is
    recovered by replaying the decode steps, and an unexpected exception's text is not a media error."""
    from avu.bench._badmedia import Case
    from avu.bench.reliability import _is_media_error, error_class

    cases = build_corpus(tmp_path, stall=False)
    assert all(c.reason and c.error for c in cases if c.expect == "failed")
    empty = next(c for c in cases if c.name == "zero_bytes")
    assert error_class(empty, "empty file (0 bytes)") == "EmptyMedia"
    assert error_class(empty, "not what the file gives") == "?"  # the replay raises another error: not matched
    assert error_class(empty, "TypeError: 'NoneType' object is not subscriptable") == "TypeError"
    assert error_class(empty, "timed out: hashing ran longer than 10 s") == "timeout"
    assert _is_media_error("EmptyMedia") and _is_media_error("MediaError") and not _is_media_error("TypeError")
    with pytest.raises(ValueError, match="names its error class"):
        Case("x", tmp_path / "x.mp4", "failed", reason="boom")
    for p in tmp_path.rglob("*"):  # the unreadable case: make it removable
        if p.is_file() and not p.is_symlink():
            p.chmod(0o644)


# -- faults: one local Ray for this module, one clean index to compare against ----------------------
@pytest.fixture(scope="module")
def local_ray():
    with ray_session(cpus=4):  # as ingest starts it (no runtime_env: actors start from prestarted workers)
        yield


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("faults") / "corpus"
    for k in range(N_CLIPS):
        write_clip(folder / f"clip_{k}.mp4", seconds=SECONDS, w=320, h=240, k=k)
    return folder


@pytest.fixture(scope="module")
def clean(local_ray, corpus, tmp_path_factory) -> Path:
    index = tmp_path_factory.mktemp("clean") / "index"
    stats: dict = {}
    opts = IngestOptions(config=CFG, decoders=1, batch=2, ahead=1)
    results = run_ingest([str(corpus)], str(index), opts, stats=stats)
    assert [r.status for r in results] == ["done"] * N_CLIPS
    # bounded queues: per decoder 2 x (ahead + 1) decode/embed calls, plus the writer's queue
    assert 2 <= stats["max_in_flight"] <= 1 * 2 * (1 + 1) + 4
    return index


def assert_same_as_clean(index: Path, clean: Path) -> None:
    assert index_rows(index) == index_rows(clean)
    store = IndexStore(index)
    rows = store.segments.search().select(["video_id", "seg"]).limit(None).to_list()
    keys = [(r["video_id"], r["seg"]) for r in rows]
    assert len(keys) == len(set(keys)) == N_CLIPS * (SECONDS // 2)  # every segment once, no leftovers


def run_and_kill(corpus: Path, index: Path, which: int) -> list:
    """Ingest in a thread (1 decoder, 1 embedder); once a video is committed, SIGKILL the process of
    actor `which` (0: the decode actor, 1: the embed actor: `stats["pids"]` order)."""
    out: dict = {}
    stats: dict = {}

    def job():
        try:
            out["results"] = run_ingest([str(corpus)], str(index), IngestOptions(config=CFG, decoders=1), stats=stats)
        except BaseException as e:  # surfaced by the assertions below
            out["error"] = e

    t = threading.Thread(target=job)
    t.start()
    killed = None
    try:
        deadline = time.time() + 240
        while time.time() < deadline and t.is_alive() and killed is None:
            try:
                if "pids" in stats and 1 <= len(IndexStore(index).done()) < N_CLIPS:
                    killed = stats["pids"][which]
                    os.kill(killed, signal.SIGKILL)
            except InvalidIndex:
                pass
            time.sleep(0.05)
    finally:
        t.join(300)
    assert killed is not None, "the job ended before the actor could be killed mid-run"
    assert not psutil.pid_exists(killed) or psutil.Process(killed).status() == psutil.STATUS_ZOMBIE
    assert not t.is_alive() and "error" not in out, out.get("error")
    return out["results"]


@pytest.mark.parametrize("which", [0, 1], ids=["decode_actor", "embed_actor"])
def test_sigkill_actor_mid_run(which, local_ray, corpus, clean, tmp_path):
    results = run_and_kill(corpus, tmp_path / "index", which)
    assert [r.status for r in results] == ["done"] * N_CLIPS  # the actor came back; its calls were retried
    assert_same_as_clean(tmp_path / "index", clean)


# -- a full disk -------------------------------------------------------------------------------------
@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root (the injected-ENOSPC test covers the rest)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def test_disk_full_while_writing(local_ray, corpus, clean, small_fs):
    size = _du(clean)
    subprocess.run(["mount", "-o", f"remount,size={size // 2}", str(small_fs)], check=True)
    index = small_fs / "index"
    with pytest.raises(IndexWriteError, match="cannot"):
        run_ingest([str(corpus)], str(index), IngestOptions(config=CFG, decoders=1))
    IndexStore(index)  # readable, and every video it shows is whole
    partial, full = index_rows(index), index_rows(clean)
    assert len(partial) < N_CLIPS and all(partial[v] == full[v] for v in partial)
    subprocess.run(["mount", "-o", f"remount,size={size * 4}", str(small_fs)], check=True)
    results = run_ingest([str(corpus)], str(index), IngestOptions(config=CFG, decoders=1))
    assert {r.status for r in results} <= {"done", "skipped"}
    assert_same_as_clean(index, clean)


def test_injected_enospc_leaves_the_video_invisible(tmp_path, monkeypatch):
    store = IndexStore(tmp_path / "index", create=True)
    video = {"video_id": "v1", "path": "/x/v1.mp4", "duration": 4.0}
    rows = [{"video_id": "v1", "seg": i, "start": 2.0 * i, "end": 2.0 * i + 2} for i in range(2)]

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(type(store.segments), "add", full)
        with pytest.raises(OSError, match="No space"):
            store.write_video(video, rows)
    again = IndexStore(tmp_path / "index")
    assert again.done() == {} and again.segments.count_rows() == 0  # nothing half-visible
    again.write_video(video, rows)  # room again: the same write completes, once
    assert list(again.done()) == ["v1"] and again.segments.count_rows() == 2


# -- limits ------------------------------------------------------------------------------------------
def test_stalled_file_is_timed_out_and_the_rest_indexed(local_ray, tmp_path):
    folder = tmp_path / "in"
    padded = write_clip(folder / "a_padded.mkv", seconds=2)
    with open(padded, "r+b") as f:
        f.truncate(64 << 30)  # sparse: no disk used, but hashing reads 64 GB of zeros
    good = good_clips(folder, 2)
    t0 = time.perf_counter()
    results = {Path(r.path).name: r for r in run_ingest([str(folder)], str(tmp_path / "idx"),
                                                        IngestOptions(config=LEAN, decoders=1, call_timeout=4.0))}
    assert time.perf_counter() - t0 < 120
    assert results["a_padded.mkv"].status == "failed" and "timed out" in results["a_padded.mkv"].error
    assert [results[c.path.name].status for c in good] == ["done", "done"]  # on the replacement actor


def test_memory_guard_fails_one_file_not_the_job(local_ray, tmp_path):
    # 96 MB: an 8K frame (50 MB) and the decoder's reference frames cannot fit, whichever backend
    # decodes (PyAV, the default, fitted in 256 MB where decord did not)
    folder = tmp_path / "in"
    write_clip(folder / "big_8k.mp4", w=7680, h=4320, fps=2, seconds=2, audio=False)
    good = good_clips(folder, 1)
    results = {Path(r.path).name: r for r in run_ingest([str(folder)], str(tmp_path / "idx"),
                                                        IngestOptions(config=LEAN, decoders=1, decode_memory_mb=96))}
    big = results["big_8k.mp4"]
    assert big.status == "failed" and big.error and not big.error.startswith("worker died"), big.error
    assert results[good[0].path.name].status == "done"
    # with room, the same file is indexed: the guard, not the file, failed it
    ok = run_ingest([str(folder / "big_8k.mp4")], str(tmp_path / "idx2"), IngestOptions(config=LEAN, decoders=1))
    assert [r.status for r in ok] == ["done"]
