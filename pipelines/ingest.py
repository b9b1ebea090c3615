"""The ingest job: videos -> segment index, on local Ray or a cluster.

    python pipelines/ingest.py PATHS... --index DIR [options]        # or: avu ingest ...
    ray job submit --address ADDR --working-dir . -- python pipelines/ingest.py PATHS... --index DIR

The driver plans each video on a decode actor, then streams it in batches of segments: each batch
is decoded by that actor and embedded by an embed actor (the decoded batch travels through the
object store), and when every batch of a video is embedded the writer commits the video at once.
At most `ahead` batches per video and one video per decoder are in flight, so memory stays
bounded whatever the corpus. A video that fails becomes a `failed` row with its reason; the rest
go on. Videos already indexed with the same config (by content hash) are skipped.
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

from avu.index import IndexStore
from avu.ingest import IngestConfig, discover
from avu.media import MediaError

BATCH = 8  # segments per decode/embed call
AHEAD = 3  # decode/embed batches in flight per video


@dataclass
class Job:
    path: str
    decoder: int
    started: float = field(default_factory=time.perf_counter)
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
               stats: dict | None = None) -> list[Result]:
    """Ingest `paths` into the index at `index`; returns one `Result` per file.

    `decoder_threads`: FFmpeg threads per decode actor (default: the CPUs shared among them).
    `stats`, when given, receives `startup_s` (Ray and actors ready) and `run_s` (first plan to
    last commit), and the actors' process ids (`pids`) for measurements.
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
        decs = [Decoder.options(num_cpus=1).remote(cfg_d, threads) for _ in range(decoders)]
        embs = [Embedder.options(num_cpus=1).remote(cfg_d, 1) for _ in range(embedders)]
        writer = Writer.options(num_cpus=0).remote(index)
        models = ray.get(embs[0].versions.remote())
        stats["pids"] = ray.get([a.pid.remote() for a in (*decs, *embs, writer)])  # all actors are up
        t1 = time.perf_counter()
        stats["startup_s"] = t1 - t0
        results = _drive(files, cfg, decs, embs, writer, already, models, progress, batch, ahead)
        stats["run_s"] = time.perf_counter() - t1
        ray.get(writer.optimize.remote())  # compaction: after the timed part, before we return
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


def _drive(files, cfg, decs, embs, writer, already, models, progress, batch, ahead) -> list[Result]:
    queue = deque(files)
    free = deque(range(len(decs)))
    waiting: dict = {}  # ref -> (kind, job)
    results: list[Result] = []
    next_emb = 0

    def finish(res: Result):
        results.append(res)
        if progress:
            progress(res)

    def fail(job: Job, error: str):
        vid = job.plan.video_id if job.plan else _path_id(job.path)
        row = _video_row(job, cfg, models) if job.plan else {"video_id": vid, "path": job.path}
        ref = writer.fail.remote(row, error)
        job.failed = error
        waiting[ref] = ("failwrite", job)

    def feed(job: Job):
        nonlocal next_emb
        spans = job.plan.spans
        while len(job.pending) < ahead + 1 and job.next_batch * batch < len(spans):
            i0 = job.next_batch * batch
            chunk = spans[i0:i0 + batch]
            clips = decs[job.decoder].decode.remote(job.path, chunk)
            meta = {"video_id": job.plan.video_id, "texts": job.plan.texts[i0:i0 + batch], "seg_offset": i0,
                    "aspect": _aspect(job.plan.info), "text_source": job.plan.text_source,
                    "language": job.plan.language}
            ref = embs[next_emb % len(embs)].embed.remote(clips, meta)
            next_emb += 1
            job.pending.append(ref)
            job.next_batch += 1
            job.batches += 1
            waiting[ref] = ("embed", job)

    while queue or waiting:
        while queue and free:
            job = Job(path=queue.popleft(), decoder=free.popleft())
            waiting[decs[job.decoder].plan.remote(job.path)] = ("plan", job)
        ready, _ = ray.wait(list(waiting), num_returns=1, fetch_local=False)
        for ref in ready:
            kind, job = waiting.pop(ref)
            try:
                value = ray.get(ref)
            except Exception as e:  # noqa: BLE001 - every failure becomes the video's error row
                if kind in ("write", "failwrite"):
                    raise  # the index itself cannot be written: stop, nothing is half-written
                if job.failed is None:
                    free.append(job.decoder)
                    fail(job, _error_text(e))
                continue
            if job.failed is not None and kind in ("embed", "cues"):
                continue  # late batches of a video that already failed
            if kind == "plan":
                job.plan = value
                if already.get(value.video_id) == cfg.hash:
                    free.append(job.decoder)
                    finish(Result(job.path, value.video_id, "skipped", duration=value.info.duration))
                    continue
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
                    free.append(job.decoder)
                    row = _video_row(job, cfg, models)
                    waiting[writer.write.remote(row, job.cue_ref, *job.done_refs)] = ("write", job)
            elif kind == "write":
                finish(Result(job.path, job.plan.video_id, "done", segments=value,
                                   duration=job.plan.info.duration,
                                   seconds=time.perf_counter() - job.started))
            elif kind == "failwrite":
                vid = job.plan.video_id if job.plan else _path_id(job.path)
                finish(Result(job.path, vid, "failed", error=job.failed,
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
