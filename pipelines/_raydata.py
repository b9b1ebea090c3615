"""The ingest job on Ray Data's streaming executor, kept as the measured alternative to the
hand-written driver (`pipelines/_driver.py`); `avu.bench.ingest.bench_raydata` runs both on the
same files, and `docs/scaling.md` has the figures and why the driver stays.

    from_items(paths) -> flat_map(_Decode, actor pool): per video, hash + probe + plan, then one
    record per batch of segments (the clips as Python objects: Ray Data serialises them itself)
    -> map_batches(_Embed, actor pool): rows, written as a Lance fragment by the embed actor (the
    video's cues with its first batch) -> this process: receipts gathered per video; a video is
    committed (`Committer`) once all its batches are in, so videos still appear one at a time, whole.

What it cannot do that the driver does: a stage has no per-call time limit (a stalled file holds
its decode actor until the whole dataset ends), and no memory guard that fails one file; a
decode error must be caught inside the stage (it would fail the dataset), and the executor, not
the job, decides how many batches of a video are in flight. Without ASR, like the benchmark.
"""
from __future__ import annotations

import math
import time

import numpy as np
import ray

from avu.ingest.config import IngestConfig
from avu.store import IndexStore
from avu.store._fragments import Committer, FragmentWriter, remove_leftovers
from pipelines._decoder import VIDEO_BACKEND
from pipelines._jobs import Job, Result, describe_error, video_row
from pipelines._pool import POOL


class _Decode:
    """flat_map stage: one video in, one record per batch of `batch` clips out."""

    def __init__(self, cfg: dict, batch: int, threads: int = 1, backend: str = VIDEO_BACKEND):
        from pipelines._process import limit_threads

        self.cfg, self.batch, self.threads, self.backend = IngestConfig(**cfg), batch, threads, backend
        limit_threads(threads)

    def __call__(self, item: dict):
        from avu.ingest.discover import content_id
        from avu.ingest.plan import plan_video
        from avu.media import ClipReader, Segment, probe

        job = Job(path=item["path"], decoder=0)
        try:
            job.video_id = content_id(job.path)
            job.plan = plan_video(job.path, self.cfg, video_id=job.video_id, info=probe(job.path))
            spans, n = job.plan.spans, math.ceil(len(job.plan.spans) / self.batch)
            video = video_row(job, self.cfg, {})
            reader = ClipReader(job.path, fps=self.cfg.fps, size=self.cfg.size, sr=self.cfg.sample_rate,
                                threads=self.threads, arrays="numpy", backend=self.backend)
            try:
                for b in range(n):
                    part = spans[b * self.batch:(b + 1) * self.batch]
                    clips = [reader.read(Segment(start, end)) for start, end in part]
                    meta = {**job.embed_meta(b * self.batch, self.batch), "cues": job.plan.cues if b == 0 else None}
                    yield {"video_id": job.video_id, "path": job.path, "batches": n, "error": "",
                           "video": video, "clips": (clips, meta)}
            finally:
                reader.close()
        except Exception as e:  # noqa: BLE001 - the video fails, the dataset goes on
            yield {"video_id": job.row_id(), "path": job.path, "batches": 0, "error": describe_error(e),
                   "video": {"video_id": job.row_id(), "path": job.path}, "clips": None}


class _Embed:
    """map_batches stage (one record per call): rows embedded and written as fragments."""

    def __init__(self, cfg: dict, index: str):
        from avu.ingest.features import Featurizer
        from pipelines._process import limit_threads

        limit_threads(1)
        self.featurizer = Featurizer(IngestConfig(**cfg), threads=1)
        self.fragments = FragmentWriter(index)

    def __call__(self, batch: dict) -> dict:
        out = []
        for vid, clips_meta, error in zip(batch["video_id"], batch["clips"], batch["error"]):
            receipts = []
            if not error:
                clips, meta = clips_meta
                rows = self.featurizer.rows(vid, clips, meta["texts"], aspect=meta["aspect"],
                                            seg_offset=meta["seg_offset"], text_source=meta["text_source"],
                                            language=meta["language"])
                receipts.append(self.fragments.write("segments", vid, rows))
                if meta["cues"]:
                    cues = self.featurizer.cue_rows(vid, meta["cues"], text_source=meta["text_source"],
                                                    language=meta["language"])
                    receipts.append(self.fragments.write("cues", vid, cues))
            out.append(receipts)
        return {"video_id": batch["video_id"], "path": batch["path"], "batches": batch["batches"],
                "error": batch["error"], "video": batch["video"], "receipts": np.array(out, dtype=object)}


def run_raydata(files: list[str], index: str, cfg: IngestConfig, *, decoders: int, embedders: int = 1,
                batch: int = 8, stats: dict | None = None) -> list[Result]:
    """Ingest `files` into `index` on Ray Data (Ray already initialised); one `Result` per file."""
    from ray.data import ActorPoolStrategy, DataContext

    stats = {} if stats is None else stats
    POOL.release()  # the idle actors of an earlier ingest hold CPUs this pipeline's actors need
    DataContext.get_current().enable_progress_bars = False
    store = IndexStore(index, create=True)
    remove_leftovers(store.uri)
    committer = Committer(store)
    cfg_d = {k: v for k, v in cfg.to_dict().items() if k != "schema_version"}
    t0 = time.perf_counter()
    ds = ray.data.from_items([{"path": str(f)} for f in files], override_num_blocks=len(files))
    ds = ds.flat_map(_Decode, fn_constructor_args=(cfg_d, batch), compute=ActorPoolStrategy(size=decoders),
                     num_cpus=1)
    ds = ds.map_batches(_Embed, fn_constructor_args=(cfg_d, store.uri), batch_size=1, batch_format="numpy",
                        compute=ActorPoolStrategy(size=embedders), num_cpus=1)
    got: dict[str, list] = {}  # path -> receipts so far (two paths may hold the same video)
    results = []
    for rec in ds.iter_rows():
        vid, video = rec["video_id"], rec["video"]
        if rec["error"]:
            committer.fail(video, rec["error"])
            results.append(Result(rec["path"], vid, "failed", error=rec["error"]))
            continue
        got.setdefault(rec["path"], []).extend(rec["receipts"])
        if sum(r.table == "segments" for r in got[rec["path"]]) == rec["batches"]:
            n = committer.commit(video, got.pop(rec["path"]))
            results.append(Result(rec["path"], vid, "done", segments=n, duration=video["duration"]))
    stats["run_s"] = time.perf_counter() - t0
    committer.optimize()
    return results
