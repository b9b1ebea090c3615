"""The ingest job: videos -> segment index, on local Ray or a cluster. The one way to add videos.

    python -m pipelines.ingest PATHS... --index DIR [options]          # or: avu ingest ...
    ray job submit --address ADDR --working-dir . -- python pipelines/ingest.py PATHS... --index DIR

From Python, `add_videos(index_dir, paths, opts)` (or `run_ingest`, the same with a progress
callback and timings). Before any cluster starts, the inputs are checked (`discover`: a missing path
or a folder with no video raises `avu.ingest.IngestInputError`, and no index is created) and the
videos already indexed with the same config are found by their content hash in this process
(`pipelines/_resume.py`): a re-run with nothing to do returns without starting Ray.

The rest runs on Ray: the driver (`pipelines/_driver.py`) plans each video on a decode actor, then
streams it in batches of segments, decoded by that actor and embedded by an embed actor; when every
batch of a video is embedded an embed actor writes its rows as Lance fragments and the one writer
commits them with the video's `done` row (videos that wait commit together). A video that fails becomes a
`failed` row with its reason; the rest go on. Limits (in-flight batches, queued writes, call
time-outs, a decode actor's memory guard) are in `IngestOptions`. If the index cannot be written (a
full disk), the job stops with `IndexWriteError`: what was committed stays whole, and a re-run resumes.
Ray's own log messages go to a file (`pipelines._ray.RAY_LOG`), never to the terminal the progress line is drawn on.

When the caller keeps Ray up across ingests (`with ray_session(): ...`), the actors outlive each
ingest and the next one with the same settings takes them warm (`pipelines/_pool.py`): its models
are not loaded again.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import ray

if __name__ == "__main__":  # run as a script (ray job submit): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avu.ingest import IngestConfig, discover
from avu.media.frames import BACKENDS
from avu.store import IndexStore
from avu.store._fragments import remove_leftovers
from pipelines._decoder import VIDEO_BACKEND
from pipelines._driver import Driver
from pipelines._jobs import DriverLimits, IndexWriteError, Result
from pipelines._pool import POOL
from pipelines._ray import RayBackend, ray_session
from pipelines._resume import split_done

__all__ = ["IndexWriteError", "IngestOptions", "Result", "add_videos", "ray_session", "run_ingest"]


@dataclass(frozen=True)
class IngestOptions:
    """How an ingest runs; only `config` changes what the index holds."""

    config: IngestConfig = field(default_factory=IngestConfig)  # what is computed (its hash decides skips)
    decoders: int | None = None  # decode actors; None: one per CPU, at most one per video to ingest
    embedders: int = 1  # embed actors (each loads the encoders once)
    ray_address: str | None = None  # a running Ray cluster to join; None: a local Ray for this run
    batch: int = 8  # segments per decode/embed call
    ahead: int = 3  # decode/embed batches in flight per video, beyond the one being embedded
    decoder_threads: int | None = None  # FFmpeg threads per decode actor; None: the CPUs shared among them
    video_backend: str = VIDEO_BACKEND  # decode actors' frame reader: "pyav" (one forward pass) or "decord"
    call_timeout: float = 300.0  # seconds a decode-actor call may run before its actor is replaced
    decode_memory_mb: int | None = 4096  # a decode actor's memory guard over its start-up size; None: none
    max_writes: int = 4  # no new video starts while this many finished ones wait at the writer

    def __post_init__(self):
        if not isinstance(self.config, IngestConfig):
            raise TypeError(f"IngestOptions.config must be an IngestConfig, got {type(self.config).__name__}")
        if (self.decoders is not None and self.decoders < 1) or self.embedders < 1:
            raise ValueError(f"need at least one decode and one embed actor, got {self.decoders}, {self.embedders}")
        if self.video_backend not in BACKENDS:
            raise ValueError(f"video_backend must be one of {BACKENDS}, got {self.video_backend!r}")
        if self.decoder_threads is not None and self.decoder_threads < 1:
            raise ValueError(f"decoder_threads must be >= 1, got {self.decoder_threads}")
        if self.decode_memory_mb is not None and self.decode_memory_mb < 64:
            raise ValueError(f"decode_memory_mb must be >= 64 (or None), got {self.decode_memory_mb}")
        self.limits()  # validates batch, ahead, call_timeout, max_writes

    def limits(self) -> DriverLimits:
        return DriverLimits(batch=self.batch, ahead=self.ahead, call_timeout=self.call_timeout,
                            max_writes=self.max_writes)


def run_ingest(paths: list, index: str, opts: IngestOptions | None = None, *, progress=None,
               stats: dict | None = None) -> list[Result]:
    """Ingest `paths` (files, folders, .txt lists) into the index at `index`; one `Result` per file.

    Raises `IngestInputError` (before anything starts or is created) when the paths name nothing to
    ingest, `InvalidIndex` for a bad index folder, `IndexWriteError` when the index cannot be
    written. `progress(result)` is called as each file finishes (skipped ones first). `stats`, when
    given, receives `precheck_s` (inputs and done videos checked), `ray` (whether Ray was needed),
    `startup_s` (Ray and actors ready), `run_s` (first plan to last commit), the actors' process
    ids (`pids`), `warm_actors` (how many were taken from the last ingest of this Ray session),
    `max_in_flight` (the most decode, embed and write calls pending at once) and
    `replies` (calls the driver handled).
    """
    opts = opts or IngestOptions()
    stats = {} if stats is None else stats
    t0 = time.perf_counter()
    files = [str(p) for p in discover(paths)]
    skipped, todo = split_done(files, index, opts.config)
    for r in skipped:
        if progress:
            progress(r)
    stats.update(precheck_s=time.perf_counter() - t0, ray=bool(todo), startup_s=0.0, run_s=0.0)
    if not todo:
        return skipped
    IndexStore.check(index, create=True)  # fail fast on a bad index folder, before starting Ray
    todo = largest_first(todo)
    ncpu = os.cpu_count() or 1
    decoders = min(opts.decoders or ncpu, len(todo))
    with ray_session(opts.ray_address, cpus=max(ncpu, decoders + opts.embedders)):
        results = _run_on_ray(todo, index, opts, decoders, progress, stats, t0)
    return skipped + results


def largest_first(files: list[str]) -> list[str]:
    """`files` by size, largest first (ties keep their order): a proxy for decode work, so the job
    ends on short videos and no decode actor idles while another finishes a long one (longest
    processing time first). `avu bench ingest`, 2 decode actors: 0.668 -> 0.749 of the decode limit."""
    def size(path: str) -> int:
        try:
            return os.stat(path).st_size
        except OSError:  # it fails later, with its reason
            return 0
    return sorted(files, key=size, reverse=True)


def _run_on_ray(files, index, opts: IngestOptions, ndec: int, progress, stats: dict, t0: float) -> list[Result]:
    from pipelines._actors import Embedder
    from pipelines._decoder import Decoder
    from pipelines._writer import Writer

    cfg_d = {k: v for k, v in opts.config.to_dict().items() if k != "schema_version"}
    cfg_key = json.dumps(cfg_d, sort_keys=True)
    threads = opts.decoder_threads or max(1, (os.cpu_count() or 1) // ndec)
    dec_key = ("decoder", cfg_key, threads, opts.decode_memory_mb, opts.video_backend)
    keys = [dec_key] * ndec + [("embedder", cfg_key)] * opts.embedders + [("writer",)]

    def new_decoder():
        return Decoder.options(num_cpus=1).remote(cfg_d, threads, opts.decode_memory_mb, opts.video_backend)

    def make(key):
        return {"decoder": new_decoder, "embedder": lambda: Embedder.options(num_cpus=1).remote(cfg_d, 1),
                "writer": lambda: Writer.options(num_cpus=0).remote()}[key[0]]()

    already = IndexStore(index).done()
    remove_leftovers(index)  # fragments a dead run wrote and never committed; before anything writes
    warm = POOL.take(keys)  # the last ingest's actors where they match (`pipelines/_pool.py`)
    stats["warm_actors"] = sum(a is not None for a in warm)
    actors = [a if a is not None else make(k) for k, a in zip(keys, warm)]
    decoders, embedders, writer = actors[:ndec], actors[ndec:-1], actors[-1]
    opened = writer.open.remote(index)
    models = ray.get(embedders[0].versions.remote())
    stats["perception_missing"] = models.get("perception_missing")  # {modality: what file, how to install}
    stats["pids"] = ray.get([a.pid.remote() for a in (*decoders, *embedders, writer)])  # all actors are up
    ray.get(opened)
    t1 = time.perf_counter()
    stats["startup_s"] = t1 - t0
    driver = Driver(files, index=index, config=opts.config, decoders=decoders, embedders=embedders, writer=writer,
                    new_decoder=new_decoder, backend=RayBackend(), already=already, models=models,
                    limits=opts.limits(), progress=progress, stats=stats)
    results = driver.run()
    stats["run_s"] = time.perf_counter() - t1
    try:
        ray.get(writer.optimize.remote(index))  # compaction: after the timed part, before we return
    except ray.exceptions.RayError as e:
        raise IndexWriteError(f"{index}: cannot compact the index ({RayBackend().error_text(e)}); "
                              "every video committed is whole and readable") from None
    POOL.give(list(zip(keys, [*driver.decoders, *embedders, writer])))  # replaced decoders included
    return results


def add_videos(index_dir: str | os.PathLike, paths: list, opts: IngestOptions | None = None) -> list[Result]:
    """Add video files, folders or .txt lists to the index at `index_dir` (created if needed).

    The Python API's way to ingest: it starts a local Ray for the run (or joins
    `opts.ray_address`) unless every video is already indexed with the same config; inside
    `with ray_session():` it uses that Ray, and calls after the first take its actors warm. Returns one
    `Result` per file (`done`, `failed` with its reason, or `skipped`).
    """
    index = os.path.expanduser(str(index_dir))
    return run_ingest([os.fspath(p) for p in paths], index, opts)


def main(argv: list[str] | None = None) -> int:
    """`python -m pipelines.ingest` / `python pipelines/ingest.py` (e.g. under `ray job submit`)."""
    ap = argparse.ArgumentParser(prog="pipelines.ingest", description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", help="video files, folders (recursive) or .txt lists of paths")
    ap.add_argument("--index", required=True, help="index folder (created if needed)")
    ap.add_argument("--config", help="ingest YAML (configs/ingest/default.yaml)")
    ap.add_argument("--asr", choices=("auto", "off"), help="speech recognition for videos without subtitles")
    ap.add_argument("--decoders", type=int, help="decode actors (default: one per CPU)")
    ap.add_argument("--embedders", type=int, default=1, help="embed actors")
    ap.add_argument("--ray-address", help="a Ray cluster to join (default: a local Ray)")
    args = ap.parse_args(argv)
    cfg = IngestConfig.from_yaml(args.config, asr=args.asr) if args.config else IngestConfig(
        **({"asr": args.asr} if args.asr else {}))
    opts = IngestOptions(config=cfg, decoders=args.decoders, embedders=args.embedders, ray_address=args.ray_address)
    try:
        results = run_ingest(args.paths, args.index, opts, progress=_print_result)
    except ValueError as e:  # IngestInputError, a bad config
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 1 if any(r.status == "failed" for r in results) else 0


def _print_result(r: Result) -> None:
    detail = r.error if r.status == "failed" else f"{r.segments} segments, {r.duration:.1f} s"
    print(f"{r.status:8} {r.path}: {detail}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
