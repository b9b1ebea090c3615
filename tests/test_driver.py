"""The ingest driver's state machine with in-process actors (no Ray): the orders of events that
only the cluster tests reached before: replies out of order, a decoder dying mid-video, a stalled
call timing out, a write failing, the writer falling behind."""
from __future__ import annotations

import random

import pytest

from avu.ingest import IngestConfig
from pipelines._driver import Call
from pipelines._jobs import DriverLimits, IndexWriteError
from pipelines.inline import InlineBackend, InlineCall, TrivialDecoder, driver_calls_per_s, inline_driver

SECONDS = 30.0  # 15 segments per video: 2 batches of 8
LIMITS = DriverLimits(batch=8, ahead=1, call_timeout=10.0, max_writes=2)


class ActorDied(RuntimeError):
    """What a call on a dead actor raises."""


class Scripted(InlineBackend):
    """Replies in a chosen order, with a fake clock; `stall(pred)` makes matching calls never
    reply, `fail(pred, error)` makes them raise."""

    def __init__(self, order: str = "fifo", seed: int = 0):
        super().__init__()
        self.order, self.rng, self.now = order, random.Random(seed), 0.0
        self.stalled: list = []
        self.failing: list = []
        self.log: list[str] = []
        self.sent: list[str] = []  # every call made, replied or not ("method:first argument")

    def call(self, actor, method: str, *args) -> InlineCall:
        self.sent.append(f"{method}:{args[0] if args and isinstance(args[0], str) else ''}")
        return super().call(actor, method, *args)

    def clock(self) -> float:
        return self.now

    def stall(self, pred) -> None:
        self.stalled.append(pred)

    def fail(self, pred, error: Exception) -> None:
        self.failing.append((pred, error))

    def blocked(self, ref: InlineCall) -> bool:
        """A stalled call, or one waiting on a stalled call's reply; a killed actor's calls reply (an error)."""
        if ref.ran or ref.actor in self.killed:
            return False
        return any(p(ref) for p in self.stalled) or any(
            isinstance(a, InlineCall) and self.blocked(a) for a in ref.args)

    def pick(self, refs: list[InlineCall]) -> InlineCall | None:
        live = [r for r in refs if not self.blocked(r)]
        if not live:
            return None
        self.now += 0.01
        return {"fifo": live[0], "lifo": live[-1], "random": self.rng.choice(live)}[self.order]

    def idle(self, timeout: float) -> None:
        self.now += timeout

    def run(self, ref: InlineCall) -> None:
        if not ref.ran and ref.actor in self.killed:
            ref.ran, ref.error = True, ActorDied("the actor was killed")
        for pred, error in self.failing:
            if not ref.ran and pred(ref):
                ref.ran, ref.error = True, error
        if not ref.ran:
            self.log.append(f"{ref.method}:{ref.args[0] if ref.args else ''}")
        super().run(ref)


def nth(method: str, n: int = 1, path: str | None = None):
    """A predicate true for the n-th call of `method` (on `path`) seen by it (1-based)."""
    seen: list = []

    def pred(ref: InlineCall) -> bool:
        if ref.method == method and (path is None or ref.args[0] == path):
            if ref not in seen:
                seen.append(ref)
            return seen.index(ref) == n - 1
        return False
    return pred


def drive(files, backend, decoders=2, **kw):
    stats: dict = {}
    driver, writer = inline_driver(files, backend=backend, decoders=decoders, seconds=SECONDS, limits=LIMITS,
                                   stats=stats, clock=backend.clock, **kw)
    results = driver.run()
    return {r.path: r for r in results}, writer, stats, driver


def assert_whole(writer, path: str) -> None:
    """Every segment of the video written exactly once."""
    segs = sorted(r["seg"] for r in writer.written[f"trivial-{path}"])
    assert segs == list(range(int(SECONDS // 2))), path


@pytest.mark.parametrize("order,seed", [("fifo", 0), ("lifo", 0), *[("random", s) for s in range(8)]])
def test_any_reply_order_writes_every_video_whole(order, seed):
    files = [f"v{i}" for i in range(7)]
    results, writer, stats, driver = drive(files, Scripted(order, seed))
    assert sorted(results) == files and {r.status for r in results.values()} == {"done"}
    for f in files:
        assert_whole(writer, f)
        assert results[f].segments == 15
    assert not driver.waiting and not driver.busy and sorted(driver.free) == [0, 1]
    # bounded: per decoder one video; per video one decode and ahead + 1 embeds; plus cues and writes
    assert stats["max_in_flight"] <= 2 * (1 + LIMITS.ahead + 1 + 1 + 1) + LIMITS.max_writes


def test_decoder_dies_mid_video_fails_that_video_only():
    backend = Scripted()
    backend.fail(nth("decode", 2, "v1"), ActorDied("worker died: the actor process exited"))
    results, writer, _, driver = drive(["v0", "v1", "v2", "v3"], backend)
    assert results["v1"].status == "failed" and "worker died" in results["v1"].error
    assert writer.failed == {"trivial-v1": results["v1"].error}
    assert "trivial-v1" not in writer.written  # nothing half-written
    for f in ("v0", "v2", "v3"):
        assert results[f].status == "done"
        assert_whole(writer, f)
    assert sorted(driver.free) == [0, 1]  # the decoder went back to work


class Made:
    """The driver's `new_decoder`, keeping the decoders it made in order (`made`)."""

    def __init__(self):
        self.made: list[TrivialDecoder] = []

    def __call__(self) -> TrivialDecoder:
        self.made.append(TrivialDecoder(IngestConfig(asr="off"), SECONDS))
        return self.made[-1]


def test_stalled_call_times_out_and_its_actor_is_replaced():
    backend = Scripted()
    backend.stall(nth("decode", 1, "v0"))
    new_decoder = Made()
    made = new_decoder.made
    results, writer, _, driver = drive(["v0", "v1", "v2"], backend, new_decoder=new_decoder)
    assert results["v0"].status == "failed"
    assert results["v0"].error.startswith("timed out: decoding segments 0-7 ran longer than 10 s")
    assert len(backend.killed) == 1 and len(made) == 2 + 1  # two at start, one replacement
    assert backend.killed[0] not in driver.decoders and made[-1] in driver.decoders
    assert results["v1"].status == results["v2"].status == "done"


def test_a_replacement_actor_slow_to_start_is_waited_for_not_charged_to_the_next_video():
    backend = Scripted()
    backend.stall(nth("decode", 1, "v0"))
    new_decoder = Made()
    made = new_decoder.made
    # the replacement answers nothing for its first ~50 s (a worker process starting on a busy machine)
    backend.stall(lambda ref: len(made) > 1 and ref.actor is made[1] and backend.now < 60.0)
    results, _, stats, driver = drive(["v0", "v1", "v2"], backend, decoders=1, new_decoder=new_decoder)
    assert results["v0"].error.startswith("timed out: decoding segments 0-7")
    assert results["v1"].status == results["v2"].status == "done"  # 10 s limits, yet not timed out
    assert len(backend.killed) == 1 and stats["replies"]["ready"] == 1 and not driver.starting


def test_stalled_inspect_times_out_before_the_video_is_planned():
    backend = Scripted()
    backend.stall(nth("inspect", 1, "v1"))
    results, writer, _, _ = drive(["v0", "v1"], backend)
    assert results["v1"].error.startswith("timed out: hashing and probing")
    assert results["v1"].video_id.startswith("path-") and results["v0"].status == "done"


def test_a_bad_file_fails_with_its_reason_and_the_rest_go_on():
    backend = Scripted("random", 3)
    backend.fail(nth("plan", 1, "v2"), ValueError("no segment: the duration is zero"))
    results, writer, _, _ = drive([f"v{i}" for i in range(5)], backend)
    assert results["v2"].error == "ValueError: no segment: the duration is zero"
    assert [f for f, r in sorted(results.items()) if r.status == "done"] == ["v0", "v1", "v3", "v4"]


def test_failed_write_stops_the_job():
    backend = Scripted()
    backend.fail(nth("write", 2), OSError(28, "No space left on device"))
    with pytest.raises(IndexWriteError, match="cannot write the index: OSError: .*No space left"):
        drive(["v0", "v1", "v2"], backend)


def test_failed_failure_row_stops_the_job():
    backend = Scripted()
    backend.fail(nth("inspect", 1, "v0"), ValueError("unreadable"))
    backend.fail(nth("fail", 1), PermissionError("read-only index"))
    with pytest.raises(IndexWriteError, match="read-only index"):
        drive(["v0", "v1"], backend)


def test_writer_behind_holds_back_new_videos():
    backend = Scripted()
    backend.stall(lambda ref: ref.method == "write")  # the writer never answers
    files = [f"v{i}" for i in range(6)]
    stats: dict = {}
    driver, writer = inline_driver(files, backend=backend, decoders=2, seconds=SECONDS, limits=LIMITS,
                                   stats=stats, clock=backend.clock)
    for _ in range(200):  # run the loop by hand: it would wait for the writer forever
        driver._start_jobs()
        for ref in backend.wait(list(driver.waiting), 1.0):
            driver._reply(ref)
    # no video starts while max_writes wait; those in flight then finish too: max_writes + decoders - 1
    assert driver.writes == LIMITS.max_writes + 2 - 1
    started = {line.split(":")[1] for line in backend.log if line.startswith("inspect")}
    assert started == {"v0", "v1", "v2"} and list(driver.queue) == files[3:]


def test_already_indexed_video_is_skipped_without_planning():
    backend = Scripted()
    cfg_hash = IngestConfig(asr="off").hash
    results, writer, stats, _ = drive(["v0", "v1"], backend, already={"trivial-v0": cfg_hash, "trivial-v1": "old"})
    assert results["v0"].status == "skipped" and results["v1"].status == "done"
    assert "plan:v0" not in backend.log and "plan:v1" in backend.log
    assert stats["replies"][Call.PLAN.value] == 1


def test_late_replies_of_a_failed_video_are_ignored():
    backend = Scripted("lifo")  # the newest call first: v0's other batches reply after its failure
    backend.fail(nth("embed", 1), RuntimeError("embedder lost its model"))
    results, writer, stats, _ = drive(["v0"], backend, decoders=1)
    assert results["v0"].status == "failed" and "embedder lost its model" in results["v0"].error
    assert writer.written == {} and stats["replies"]["write"] == 0


def test_a_video_failed_elsewhere_is_closed_by_its_decoder():
    """An embed call fails while the decoder still holds the video open: the driver tells the decoder
    to let the file go (a warm decoder would keep it open until its next video otherwise). Every video
    that held a decoder is released once, done or failed (a decoder that raised has closed the file
    already; its `release` finds nothing open)."""
    backend = Scripted()
    backend.fail(nth("embed", 1), RuntimeError("embedder lost its model"))
    backend.fail(nth("decode", 1, "v1"), RuntimeError("corrupt packet"))
    results, _, _, _ = drive(["v0", "v1", "v2"], backend, decoders=1)
    assert [results[f].status for f in ("v0", "v1", "v2")] == ["failed", "failed", "done"]
    assert [c for c in backend.sent if c.startswith("release:")] == ["release:v0", "release:v1", "release:v2"]


def test_driver_calls_per_s_counts_decode_and_embed_replies():
    out = driver_calls_per_s(videos=10, seconds=60.0, repeats=1)
    assert out["driver_calls"] == 10 * 2 * 4  # 30 segments: 4 batches of 8, a decode and an embed each
    assert out["driver_calls_per_s"] > 0
