"""The ingest job: videos -> segment index, on local Ray or a cluster.

    python pipelines/ingest.py PATHS... --index DIR [options]        # or: avu ingest ...
    ray job submit --address ADDR --working-dir . -- python pipelines/ingest.py PATHS... --index DIR

The driver plans each video on a decode actor, then streams it in batches of segments: each batch
is decoded by that actor and embedded by an embed actor (the decoded batch travels through the
object store), and when every batch of a video is embedded the writer commits the video at once.
At most `ahead` batches per video and one video per decoder are in flight, so memory stays
bounded whatever the corpus, and at most `max_writes` finished videos wait for the writer. A
video that fails becomes a `failed` row with its reason; the rest go on. Videos already indexed
with the same config (by content hash, known before subtitles or ASR run) are skipped.

Limits: a decode-actor call that runs past its time-out (a stalled or pathological file) fails its
video and the actor process is killed and replaced; each decode actor runs under a memory guard
(`pipelines/_actors.py`). If the index cannot be written (a full disk), the job stops with
`IndexWriteError`: what was committed stays whole and readable, and a re-run resumes.
"""
from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import ray

if __name__ == "__main__":  # run as a script (ray job submit): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avu.store import IndexStore
from avu.ingest import IngestConfig, discover
from avu.media import MediaError

BATCH = 8  # segments per decode/embed call
AHEAD = 3  # decode/embed batches in flight per video
MAX_WRITES = 4  # finished videos queued at the writer; new videos wait beyond that
CALL_TIMEOUT = 300.0  # seconds one decode-actor call may run: hash + probe, or a batch of segments
ASR_SECONDS_PER_SECOND = 1.0  # planning with ASR may take this much longer per second of audio
DECODE_MEMORY_MB = 4096  # a decode actor's data may grow this much over its start-up size


class IndexWriteError(RuntimeError):
    """The index could not be written (disk full, permissions): the job stops; what was committed
    stays whole and readable, and a re-run resumes."""


@dataclass
class Job:
    path: str
    decoder: int
    started: float = field(default_factory=time.perf_counter)
    video_id: str | None = None  # content hash, once inspected
    info: object = None  # MediaInfo, once inspected
    plan: object = None
    next_batch: int = 0
    pending: list = field(default_factory=list)  # embed refs not yet finished
    done_refs: list = field(default_factory=list)  # embed refs finished, in batch order
    cue_ref: object = None  # the cue rows (embedded by an embed actor)
    batches: int = 0
    failed: str | None = None


@dataclass
class Result:
    path: str
    video_id: str
    status: str  # done | failed | skipped
    segments: int = 0
    duration: float = 0.0
    seconds: float = 0.0
    error: str | None = None


def _error_text(e: BaseException) -> str:
    cause = getattr(e, "cause", None) or e
    if isinstance(cause, MediaError):
        return cause.reason
    if isinstance(e, ray.exceptions.RayActorError):
        return f"worker died: {str(e).splitlines()[0][:200]}"
    return f"{type(cause).__name__}: {str(cause).splitlines()[0][:300] if str(cause) else ''}"


def _path_id(path: str) -> str:
    import hashlib

    return "path-" + hashlib.blake2b(os.path.abspath(path).encode(), digest_size=8).hexdigest()


def init_ray(address: str | None, cpus: int) -> bool:
    """Connect to `address`, or start an embedded local Ray; returns True if we started it."""
    if ray.is_initialized():
        return False
    # Ray forks helper processes that exec at once; lancedb's at-fork warning does not apply
    warnings.filterwarnings("ignore", message="lancedb fork support is experimental")
    env = {"env_vars": {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}}
    if address:
        ray.init(address=address, runtime_env=env, log_to_driver=False)
        return False
    # local: a token is generated and kept in ~/.ray/auth_token by Ray itself (token auth is on)
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, runtime_env=env)
    return True


def run_ingest(paths: list[str], index: str, cfg: IngestConfig, *, decoders: int | None = None,
               embedders: int = 1, ray_address: str | None = None, progress=None,
               batch: int = BATCH, ahead: int = AHEAD, decoder_threads: int | None = None,
               stats: dict | None = None, call_timeout: float = CALL_TIMEOUT,
               decode_memory_mb: int | None = DECODE_MEMORY_MB, max_writes: int = MAX_WRITES) -> list[Result]:
    """Ingest `paths` into the index at `index`; returns one `Result` per file.

    `decoder_threads`: FFmpeg threads per decode actor (default: the CPUs shared among them).
    `call_timeout`: a decode-actor call (hash + probe, planning, a batch of segments) running
    longer fails its video ("timed out") and the actor is replaced; planning with ASR gets
    `ASR_SECONDS_PER_SECOND` more per second of video. `decode_memory_mb`: each decode actor's
    memory guard (None: none). `max_writes`: finished videos queued at the writer at most.
    `stats`, when given, receives `startup_s` (Ray and actors ready) and `run_s` (first plan to
    last commit), the actors' process ids (`pids`) and `max_in_flight` (the most decode, embed
    and write calls pending at once).
    """
    stats = {} if stats is None else stats
    t0 = time.perf_counter()
    from pipelines._actors import Decoder, Embedder, Writer

    files = [str(p) for p in discover(paths)]
    IndexStore.check(index, create=True)  # fail fast on a bad index folder, before starting Ray
    ncpu = os.cpu_count() or 1
    decoders = decoders or ncpu
    started_ray = init_ray(ray_address, cpus=max(ncpu, decoders + embedders))
    try:
        already = IndexStore(index).done()  # opened after Ray has forked its processes
        cfg_d = {k: v for k, v in cfg.to_dict().items() if k != "schema_version"}
        threads = decoder_threads or max(1, ncpu // decoders)

        def new_decoder():
            return Decoder.options(num_cpus=1).remote(cfg_d, threads, decode_memory_mb)

        decs = [new_decoder() for _ in range(decoders)]
        embs = [Embedder.options(num_cpus=1).remote(cfg_d, 1) for _ in range(embedders)]
        writer = Writer.options(num_cpus=0).remote(index)
        models = ray.get(embs[0].versions.remote())
        stats["pids"] = ray.get([a.pid.remote() for a in (*decs, *embs, writer)])  # all actors are up
        t1 = time.perf_counter()
        stats["startup_s"] = t1 - t0
        limits = _Limits(call_timeout, max_writes, new_decoder)
        results = _drive(files, cfg, decs, embs, writer, already, models, progress, batch, ahead, limits, stats)
        stats["run_s"] = time.perf_counter() - t1
        try:
            ray.get(writer.optimize.remote())  # compaction: after the timed part, before we return
        except ray.exceptions.RayError as e:
            raise IndexWriteError(f"{index}: cannot compact the index ({_error_text(e)}); "
                                  "every video committed is whole and readable") from None
        return results
    finally:
        if started_ray:
            ray.shutdown()


def _video_row(job: Job, cfg: IngestConfig, models: dict) -> dict:
    p = job.plan
    info = p.info
    return {"video_id": p.video_id, "path": job.path, "duration": info.duration, "size_bytes": info.size_bytes,
            "has_video": info.has_video, "has_audio": info.has_audio, "text_source": p.text_source,
            "info_json": json.dumps(info.to_dict()), "config_hash": cfg.hash,
            "config_json": json.dumps(cfg.to_dict()), "models_json": json.dumps(models),
            "notes_json": json.dumps(p.notes), "seconds": round(time.perf_counter() - job.started, 3)}


@dataclass
class _Limits:
    """The driver's guards: decode-call time-out (with the factory that replaces a killed decode
    actor) and the writer's queue bound."""

    call_timeout: float
    max_writes: int
    new_decoder: object


class _Watch:
    """Per decode actor, its calls in order with their time limits; the head call's clock starts
    when the call before it returns (an actor runs one call at a time)."""

    def __init__(self, n: int):
        self.calls = [deque() for _ in range(n)]  # (ref, limit_s, what)
        self.since = [0.0] * n

    def add(self, i: int, ref, limit: float, what: str) -> None:
        if not self.calls[i]:
            self.since[i] = time.monotonic()
        self.calls[i].append((ref, limit, what))

    def done(self, i: int, ref) -> None:
        q = self.calls[i]
        for k, call in enumerate(q):
            if call[0] == ref:
                del q[k]
                self.since[i] = time.monotonic()
                return

    def overdue(self):
        now = time.monotonic()
        for i, q in enumerate(self.calls):
            if q and now - self.since[i] > q[0][1]:
                yield i, q[0][1], q[0][2]


def _drive(files, cfg, decs, embs, writer, already, models, progress, batch, ahead, limits, stats) -> list[Result]:
    queue = deque(files)
    free = deque(range(len(decs)))
    waiting: dict = {}  # ref -> (kind, job)
    busy: dict = {}  # decoder index -> its job
    draining: set = set()  # decoders whose job ended while calls of it were still queued there
    watch = _Watch(len(decs))
    results: list[Result] = []
    next_emb = 0
    writes = 0
    stats["max_in_flight"] = 0

    def finish(res: Result):
        results.append(res)
        if progress:
            progress(res)

    def release(job: Job):
        """The job no longer needs its decoder: free it once the calls queued there have returned."""
        i = job.decoder
        if busy.get(i) is job:
            del busy[i]
            (draining.add if watch.calls[i] else free.append)(i)

    def returned(i: int, ref):
        watch.done(i, ref)
        if i in draining and not watch.calls[i]:
            draining.discard(i)
            free.append(i)

    def fail(job: Job, error: str):
        release(job)
        vid = job.video_id or _path_id(job.path)
        row = _video_row(job, cfg, models) if job.plan else {"video_id": vid, "path": job.path}
        ref = writer.fail.remote(row, error)
        job.failed = error
        waiting[ref] = ("failwrite", job)

    def on_decoder(job: Job, ref, kind: str, limit: float, what: str):
        waiting[ref] = (kind, job)
        watch.add(job.decoder, ref, limit, what)

    def feed(job: Job):
        nonlocal next_emb
        spans = job.plan.spans
        while len(job.pending) < ahead + 1 and job.next_batch * batch < len(spans):
            i0 = job.next_batch * batch
            chunk = spans[i0:i0 + batch]
            clips = decs[job.decoder].decode.remote(job.path, chunk)
            on_decoder(job, clips, "decoded", limits.call_timeout, f"decoding segments {i0}-{i0 + len(chunk) - 1}")
            meta = {"video_id": job.plan.video_id, "texts": job.plan.texts[i0:i0 + batch], "seg_offset": i0,
                    "aspect": _aspect(job.plan.info), "text_source": job.plan.text_source,
                    "language": job.plan.language}
            ref = embs[next_emb % len(embs)].embed.remote(clips, meta)
            next_emb += 1
            job.pending.append(ref)
            job.next_batch += 1
            job.batches += 1
            waiting[ref] = ("embed", job)

    def time_out(i: int, limit: float, what: str):
        job = busy.get(i)
        ray.kill(decs[i], no_restart=True)  # a stalled call cannot be interrupted: end its process
        decs[i] = limits.new_decoder()
        watch.calls[i].clear()
        if job is not None and job.failed is None:
            fail(job, f"timed out: {what} ran longer than {limit:.0f} s (stalled or pathological file); "
                      "its decode actor was replaced")
        elif i in draining:
            draining.discard(i)
            free.append(i)

    while queue or waiting:
        while queue and free and writes < limits.max_writes:
            job = Job(path=queue.popleft(), decoder=free.popleft())
            busy[job.decoder] = job
            on_decoder(job, decs[job.decoder].inspect.remote(job.path), "inspect", limits.call_timeout,
                       "hashing and probing")
        stats["max_in_flight"] = max(stats["max_in_flight"], sum(k != "failwrite" for k, _ in waiting.values()))
        ready, _ = ray.wait(list(waiting), num_returns=1, fetch_local=False, timeout=1.0)
        for i, limit, what in list(watch.overdue()):
            time_out(i, limit, what)
        for ref in ready:
            if ref not in waiting:
                continue
            kind, job = waiting.pop(ref)
            if kind in ("inspect", "plan", "decoded"):
                returned(job.decoder, ref)
            if kind == "decoded":
                continue  # progress only: the clips go straight to an embed actor
            if kind == "write":
                writes -= 1
            try:
                value = ray.get(ref)
            except Exception as e:  # noqa: BLE001 - every failure becomes the video's error row
                if kind in ("write", "failwrite"):  # the index itself cannot be written: stop here
                    raise IndexWriteError(f"cannot write the index: {_error_text(e)} (every video committed "
                                          "is whole and readable; re-run to resume)") from None
                if job.failed is None:
                    fail(job, _error_text(e))
                continue
            if job.failed is not None and kind != "failwrite":
                continue  # late results of a video that already failed
            if kind == "inspect":
                job.video_id, job.info = value
                if already.get(job.video_id) == cfg.hash:
                    release(job)
                    finish(Result(job.path, job.video_id, "skipped", duration=job.info.duration))
                    continue
                asr = cfg.asr == "auto" and job.info.has_audio
                limit = limits.call_timeout + (ASR_SECONDS_PER_SECOND * job.info.duration if asr else 0.0)
                on_decoder(job, decs[job.decoder].plan.remote(job.path, job.video_id, job.info), "plan", limit,
                           "planning (subtitles or speech recognition)")
            elif kind == "plan":
                job.plan = value
                job.cue_ref = embs[next_emb % len(embs)].cues.remote(value.video_id, value.cues,
                                                                     value.text_source, value.language)
                job.pending.append(job.cue_ref)
                waiting[job.cue_ref] = ("cues", job)
                feed(job)
            elif kind in ("embed", "cues"):
                job.pending.remove(ref)
                if kind == "embed":
                    job.done_refs.append(ref)
                feed(job)
                if not job.pending and job.next_batch * batch >= len(job.plan.spans):
                    decs[job.decoder].release.remote(job.path)
                    release(job)
                    row = _video_row(job, cfg, models)
                    waiting[writer.write.remote(row, job.cue_ref, *job.done_refs)] = ("write", job)
                    writes += 1
            elif kind == "write":
                finish(Result(job.path, job.plan.video_id, "done", segments=value,
                              duration=job.plan.info.duration, seconds=time.perf_counter() - job.started))
            elif kind == "failwrite":
                finish(Result(job.path, job.video_id or _path_id(job.path), "failed", error=job.failed,
                              seconds=time.perf_counter() - job.started))
    return results


def _aspect(info) -> float:
    if not info.has_video:
        return 16 / 9
    w, h = info.width, info.height
    return (h / w) if info.rotation in (90, 270) else (w / h)


def main(argv: list[str] | None = None) -> int:
    """Entry point for `python pipelines/ingest.py` (and `ray job submit -- python ...`)."""
    from avu.cli import app

    return app(["ingest", *(argv if argv is not None else sys.argv[1:])], standalone_mode=True)


if __name__ == "__main__":
    sys.exit(main())
