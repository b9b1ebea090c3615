"""The ingest driver: a small state machine over the replies of decode, embed and write calls.

Each video is a `Job` on one decode actor: INSPECT (hash + probe) -> PLAN (segments, subtitles or
ASR) -> for each batch of segments a DECODE on that actor whose clips go straight to an EMBED on an
embed actor (plus one CUES call) -> one WRITE of the whole video: an embed actor writes the video's
rows as fragments (`pack`) and the writer commits them (the WRITE's argument is the pack's reply,
so the engine runs the commit when the fragments are written). A failure at any step becomes a
FAIL_WRITE (the video's `failed` row). The `Driver` holds the queues and counts; `run()` waits for
one reply at a time and hands it to the handler of its call kind.

The driver knows nothing of Ray: it talks to a `Backend` (submit a call, wait, get, kill an actor).
`pipelines/ingest.py` gives it Ray's; `pipelines/inline.py` runs calls in this process (the
state machine's benchmark and tests, where replies can be reordered, stalled or failed at will).

Guards: at most `ahead` + 1 batches per video and one video per decoder are in flight; no video
starts while `max_writes` finished videos wait at the writer (so at most `max_writes` + decoders - 1
wait there, the videos in flight finishing too); a decode-actor call running past its time limit
fails its video and the actor is killed and replaced (the replacement takes work once its READY
reply is in, so its start-up is never charged to the next video); a failed write stops the job
(`IndexWriteError`): what was committed stays whole, and a re-run resumes.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Any, Protocol

from pipelines._jobs import (
    ASR_SECONDS_PER_SECOND,
    SPEECH_LOAD_SECONDS,
    DriverLimits,
    IndexWriteError,
    Job,
    Result,
    Watch,
    video_row,
)


class Call(Enum):
    """What a pending call was; decides which handler its reply goes to."""

    INSPECT = "inspect"  # decode actor: content hash + probe
    PLAN = "plan"  # decode actor: segments and their text
    DECODE = "decode"  # decode actor: a batch of clips (the reply only frees the actor's queue)
    EMBED = "embed"  # embed actor: a batch of segment rows
    CUES = "cues"  # embed actor: the video's cue rows
    WRITE = "write"  # writer: one video committed
    FAIL_WRITE = "fail_write"  # writer: one video's failed row
    READY = "ready"  # a replacement decode actor: started (its first job's clock starts after this)


ON_DECODER = (Call.INSPECT, Call.PLAN, Call.DECODE)
STARTUP_SECONDS = 120.0  # a replacement decode actor gets this long (plus call_timeout) to start


class Backend(Protocol):
    """What the driver needs from the engine that runs the actors."""

    def call(self, actor: Any, method: str, *args: Any) -> Any: ...  # submit; returns a reference

    def wait(self, refs: list, timeout: float) -> list: ...  # references ready now (at most `timeout` s)

    def get(self, ref: Any) -> Any: ...  # the reply, or raises the call's error

    def kill(self, actor: Any) -> None: ...  # end a stalled actor's process

    def error_text(self, error: BaseException) -> str: ...  # one line for a failed row


class Driver:
    """See the module docstring. `run()` returns one `Result` per file, in the order finished."""

    def __init__(self, files: list[str], *, index: str, config, decoders: list, embedders: list, writer: Any,
                 new_decoder: Callable[[], Any], backend: Backend, already: dict[str, str], models: dict,
                 limits: DriverLimits, progress: Callable[[Result], None] | None = None,
                 stats: dict | None = None, clock: Callable[[], float] = time.monotonic):
        self.index, self.cfg, self.decoders, self.embedders, self.writer = index, config, decoders, embedders, writer
        self.new_decoder, self.backend, self.already, self.models = new_decoder, backend, already, models
        self.limits, self.progress, self.clock = limits, progress, clock
        self.stats = {} if stats is None else stats
        self.queue = deque(files)  # paths not started
        self.free = deque(range(len(decoders)))  # decoders with no job and no queued call
        self.waiting: dict[Any, tuple[Call, Job]] = {}  # pending reference -> (kind, job)
        self.busy: dict[int, Job] = {}  # decoder index -> its job
        self.draining: set[int] = set()  # decoders whose job ended while calls of it were still queued
        self.watch = Watch(len(decoders), clock)
        self.results: list[Result] = []
        self.next_embedder = 0  # round robin over the embed actors
        self.writes = 0  # WRITE calls pending
        self.starting: dict[Any, int] = {}  # READY reference of a replacement decode actor -> its index
        self.stats["max_in_flight"] = 0
        self.stats["replies"] = {k.value: 0 for k in Call}  # replies handled, by kind

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> list[Result]:
        while self.queue or self.waiting:
            self._start_jobs()
            in_flight = sum(k is not Call.FAIL_WRITE for k, _ in self.waiting.values())
            self.stats["max_in_flight"] = max(self.stats["max_in_flight"], in_flight)
            ready = self.backend.wait([*self.waiting, *self.starting], 1.0)
            for i, limit, what in list(self.watch.overdue()):
                self._time_out(i, limit, what)
            for ref in ready:
                self._reply(ref)
        return self.results

    def _start_jobs(self) -> None:
        while self.queue and self.free and self.writes < self.limits.max_writes:
            job = Job(path=self.queue.popleft(), decoder=self.free.popleft())
            self.busy[job.decoder] = job
            self._on_decoder(job, Call.INSPECT, self.limits.call_timeout, "hashing and probing", "inspect", job.path)

    def _reply(self, ref) -> None:
        if ref in self.starting:
            self._on_ready(ref)
            return
        if ref not in self.waiting:
            return  # a call of a killed decoder
        kind, job = self.waiting.pop(ref)
        self.stats["replies"][kind.value] += 1
        if kind in ON_DECODER:
            self._returned(job.decoder, ref)
        if kind is Call.DECODE:
            return  # progress only: the clips go straight to an embed actor
        if kind is Call.WRITE:
            self.writes -= 1
        try:
            value = self.backend.get(ref)
        except Exception as e:  # noqa: BLE001 - every failure becomes the video's error row
            self._on_error(kind, job, e)
            return
        if job.failed is not None and kind is not Call.FAIL_WRITE:
            return  # a late reply of a video that already failed
        HANDLERS[kind](self, job, ref, value)

    # -- handlers, one per kind of reply ----------------------------------------------------
    def _on_inspect(self, job: Job, ref, value) -> None:
        job.video_id, job.info = value
        if self.already.get(job.video_id) == self.cfg.hash:
            self._release(job)
            self._finish(Result(job.path, job.video_id, "skipped", duration=job.info.duration))
            return
        speech = job.info.has_audio and "auto" in (self.cfg.asr, self.cfg.speakers)
        extra = SPEECH_LOAD_SECONDS + ASR_SECONDS_PER_SECOND * job.info.duration if speech else 0.0
        limit = self.limits.call_timeout + extra
        self._on_decoder(job, Call.PLAN, limit, "planning (subtitles, speech recognition, speakers)",
                         "plan", job.path, job.video_id, job.info)

    def _on_plan(self, job: Job, ref, plan) -> None:
        job.plan = plan
        job.cue_ref = self._embed_call("cues", plan.video_id, plan.cues, plan.text_source, plan.language)
        job.pending.append(job.cue_ref)
        self.waiting[job.cue_ref] = (Call.CUES, job)
        self._feed(job)

    def _on_embedded(self, job: Job, ref, rows) -> None:
        job.done_refs.append(ref)  # in reply order: each row carries its segment number
        self._on_cues(job, ref, rows)

    def _on_cues(self, job: Job, ref, rows) -> None:
        """(and after each EMBED) When the video's last call is in, hand the whole video to the writer."""
        job.pending.remove(ref)
        self._feed(job)
        if job.pending or job.next_batch * self.limits.batch < len(job.plan.spans):
            return
        self.backend.call(self.decoders[job.decoder], "release", job.path)
        self._release(job)
        row = video_row(job, self.cfg, self.models)
        packed = self._embed_call("pack", self.index, job.plan.video_id, job.cue_ref, *job.done_refs)  # -> fragments
        write = self.backend.call(self.writer, "write", self.index, row, packed)  # runs once `packed` is in
        self.waiting[write] = (Call.WRITE, job)
        self.writes += 1

    def _on_written(self, job: Job, ref, segments: int) -> None:
        self._finish(Result(job.path, job.plan.video_id, "done", segments=segments,
                            duration=job.plan.info.duration, seconds=time.perf_counter() - job.started))

    def _on_fail_written(self, job: Job, ref, value) -> None:
        self._finish(Result(job.path, job.row_id(), "failed", error=job.failed,
                            seconds=time.perf_counter() - job.started))

    def _on_error(self, kind: Call, job: Job, error: Exception) -> None:
        if kind in (Call.WRITE, Call.FAIL_WRITE):  # the index itself cannot be written: stop here
            raise IndexWriteError(f"cannot write the index: {self.backend.error_text(error)} (every video "
                                  "committed is whole and readable; re-run to resume)") from None
        if job.failed is None:
            self._fail(job, self.backend.error_text(error))

    def _on_ready(self, ref) -> None:
        """A replacement decode actor answered: it takes work once its queue is empty. (A start that
        failed is not retried here: the actor's next call fails its one video with the reason.)"""
        i = self.starting.pop(ref)
        self.stats["replies"][Call.READY.value] += 1
        self._returned(i, ref)

    def _time_out(self, i: int, limit: float, what: str) -> None:
        """A decode-actor call ran past its limit: a stalled call cannot be interrupted, so the
        actor's process ends and a new actor takes its place; its video fails. The new actor gets
        work only once it has started, so its start-up is not charged to the next video's calls."""
        job = self.busy.get(i)
        self.backend.kill(self.decoders[i])
        self.decoders[i] = self.new_decoder()
        self.watch.calls[i].clear()
        self.starting = {r: k for r, k in self.starting.items() if k != i}
        ready = self.backend.call(self.decoders[i], "pid")
        self.starting[ready] = i
        self.watch.add(i, ready, STARTUP_SECONDS + self.limits.call_timeout, "starting a replacement decode actor")
        if job is not None and job.failed is None:
            self._fail(job, f"timed out: {what} ran longer than {limit:.0f} s (stalled or pathological file); "
                            "its decode actor was replaced")
        elif i not in self.busy:
            self.draining.add(i)  # free once READY is in

    # -- helpers ----------------------------------------------------------------------------
    def _on_decoder(self, job: Job, kind: Call, limit: float, what: str, method: str, *args) -> Any:
        ref = self.backend.call(self.decoders[job.decoder], method, *args)
        self.waiting[ref] = (kind, job)
        self.watch.add(job.decoder, ref, limit, what)
        return ref

    def _embed_call(self, method: str, *args) -> Any:
        actor = self.embedders[self.next_embedder % len(self.embedders)]
        self.next_embedder += 1
        return self.backend.call(actor, method, *args)

    def _feed(self, job: Job) -> None:
        """Keep up to `ahead` + 1 batches of the video in flight."""
        spans, batch = job.plan.spans, self.limits.batch
        while len(job.pending) < self.limits.ahead + 1 and job.next_batch * batch < len(spans):
            i0 = job.next_batch * batch
            chunk = spans[i0:i0 + batch]
            clips = self._on_decoder(job, Call.DECODE, self.limits.call_timeout,
                                     f"decoding segments {i0}-{i0 + len(chunk) - 1}", "decode", job.path, chunk)
            ref = self._embed_call("embed", clips, job.embed_meta(i0, batch))
            job.pending.append(ref)
            job.next_batch += 1
            self.waiting[ref] = (Call.EMBED, job)

    def _release(self, job: Job) -> None:
        """The job no longer needs its decoder: free it once the calls queued there have returned."""
        i = job.decoder
        if self.busy.get(i) is job:
            del self.busy[i]
            (self.draining.add if self.watch.calls[i] else self.free.append)(i)

    def _returned(self, i: int, ref) -> None:
        self.watch.done(i, ref)
        if i in self.draining and not self.watch.calls[i]:
            self.draining.discard(i)
            self.free.append(i)

    def _fail(self, job: Job, error: str) -> None:
        if self.busy.get(job.decoder) is job:  # an embed or cue call failed: the decoder may hold the file open
            self.backend.call(self.decoders[job.decoder], "release", job.path)
        self._release(job)
        row = video_row(job, self.cfg, self.models) if job.plan else {"video_id": job.row_id(), "path": job.path}
        job.failed = error
        self.waiting[self.backend.call(self.writer, "fail", self.index, row, error)] = (Call.FAIL_WRITE, job)

    def _finish(self, result: Result) -> None:
        self.results.append(result)
        if self.progress:
            self.progress(result)


HANDLERS: dict[Call, Callable[[Driver, Job, Any, Any], None]] = {
    Call.INSPECT: Driver._on_inspect,
    Call.PLAN: Driver._on_plan,
    Call.EMBED: Driver._on_embedded,
    Call.CUES: Driver._on_cues,
    Call.WRITE: Driver._on_written,
    Call.FAIL_WRITE: Driver._on_fail_written,
}
