"""The index writer's capacity for `avu bench ingest`: segments made visible per second.

Synthetic rows of the real schema (every column of `segments`, `cues` and `videos` filled by its
type: unit-norm embeddings, real key-frame JPEGs cut from a shared clip, JSON event scores), written
the two ways an index has been written, into fresh local indexes:

- the fragment path (ingest's): `producers` worker processes write each video's rows as one
  segments fragment and one cues fragment (`FragmentWriter`, what an embed actor does), then the
  single committer (`Committer`, the writer actor) makes them visible. The producers' time is
  reported apart (`fragment_segments_per_s`, all producers together): they run on every node of a
  cluster, so they scale with it. `writer_segments_per_s` times the committer alone, the one part
  every video goes through: the commits of videos waiting `writer_group` at a time (as the writer
  actor commits the videos that wait while it commits), and `writer_segments_per_s_one_video`
  one video per commit (a writer that never falls behind); the first video's commit (it opens
  the tables) is not timed. `*_cpu_s`: the same segments per CPU second of the committer's
  process (all its threads), the figure that a busy machine distorts least;
- the per-video path (before fragments): one `IndexStore.write_video` (rows sent to the writer,
  one atomic commit per video) for `writer_table_add_segments_per_s`.

Compaction is not timed, as in ingest's `run_s`.
"""
from __future__ import annotations

import json
import multiprocessing
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from avu.ingest.features import keyframe_jpeg
from avu.media import read_frames
from avu.store import IndexStore
from avu.store._fragments import Committer, FragmentWriter
from avu.store.tables import CUES, SEGMENTS

EVENTS = json.dumps({f"class_{i}": 0.1 for i in range(10)})  # the size of an ESC-10 score row


def keyframes(clip: Path, n: int = 16) -> list[bytes]:
    """`n` key-frame JPEGs of `clip`, as ingest makes them (160 px wide)."""
    frames = np.asarray(read_frames(clip, fps=1, size=224).data)
    return [keyframe_jpeg(frames[i % len(frames)], 16 / 9) for i in range(n)]


def _value(f: pa.Field, i: int, rng: np.random.Generator, jpegs: list[bytes]):
    t = f.type
    if pa.types.is_fixed_size_list(t) and pa.types.is_floating(t.value_type):
        v = rng.standard_normal(t.list_size).astype(np.float32)
        return v / np.linalg.norm(v)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return jpegs[i % len(jpegs)]
    if pa.types.is_string(t):
        return EVENTS if f.name.endswith(("scores", "_json")) else f"synthetic {f.name} {i}"
    if pa.types.is_integer(t):
        return i
    if pa.types.is_floating(t):
        return float(rng.random())
    if pa.types.is_boolean(t):
        return True
    return None  # a column of another type stays null


def synthetic_rows(schema: pa.Schema, video_id: str, n: int, rng, jpegs: list[bytes], window: float = 2.0):
    rows = []
    for i in range(n):
        row = {f.name: _value(f, i, rng, jpegs) for f in schema}
        row.update(video_id=video_id, start=i * window, end=(i + 1) * window)
        row["seg" if "seg" in row else "idx"] = i
        rows.append(row)
    return rows


def _video(vid: str, segments: int) -> dict:
    return {"video_id": vid, "path": f"/synthetic/{vid}.mp4", "duration": 2.0 * segments, "size_bytes": 1,
            "has_video": True, "has_audio": True, "config_hash": "synthetic"}


def _work(vids: list[str], segments: int, cues: int, seed: int, jpegs: list[bytes]):
    rng = np.random.default_rng(seed)
    return [(vid, synthetic_rows(SEGMENTS, vid, segments, rng, jpegs),
             synthetic_rows(CUES, vid, cues, rng, jpegs, window=2 * segments / cues)) for vid in vids]


def _produce(args) -> tuple[list, float]:
    """A producer process: build its videos' rows (not timed), write them as fragments (timed)."""
    index, vids, segments, cues, seed, jpegs = args
    work = _work(vids, segments, cues, seed, jpegs)
    writer = FragmentWriter(index)
    t = time.perf_counter()
    out = [(vid, [writer.write("segments", vid, rows), writer.write("cues", vid, cue_rows)])
           for vid, rows, cue_rows in work]
    return out, time.perf_counter() - t


def _fragment_path(root: Path, vids: list[str], segments: int, cues: int, producers: int, group: int,
                   jpegs: list[bytes]) -> tuple[float, float, int]:
    """Producers write, then the committer commits `group` videos at a time: (seconds of the
    slowest producer's writes, wall and CPU seconds of the timed commits (every video but the
    first), groups timed)."""
    store = IndexStore(root, create=True)
    committer = Committer(store)
    shares = [(store.uri, vids[k::producers], segments, cues, k, jpegs) for k in range(producers)]
    with multiprocessing.get_context("spawn").Pool(producers) as pool:  # no fork: LanceDB holds threads
        pool.map(_produce, [(store.uri, [], 0, 0, 0, jpegs)] * producers)  # workers up and imported
        parts = pool.map(_produce, shares)
    produce_s = max(dt for _, dt in parts)  # the producers write side by side; each times its writes
    receipts = [item for part, _ in parts for item in part]
    warm, receipts = receipts[0], receipts[1:]  # the first commit opens the tables: not timed
    committer.commit_together([(_video(warm[0], segments), warm[1])])
    t, cpu = time.perf_counter(), time.process_time()
    for g in range(0, len(receipts), group):
        committer.commit_together([(_video(vid, segments), r) for vid, r in receipts[g:g + group]])
    commit_s, commit_cpu = time.perf_counter() - t, time.process_time() - cpu
    stored = IndexStore(root).segments.count_rows()
    if stored != len(vids) * segments or len(store.done()) != len(vids):
        raise RuntimeError(f"writer benchmark: {stored} segment rows visible, expected {len(vids) * segments}")
    return produce_s, commit_s, commit_cpu, committer.groups - 1


def writer_segments_per_s(clip: Path, *, videos: int = 16, segments: int = 300, cues: int = 100,
                          producers: int = 2, group: int = 4, seed: int = 0) -> dict:
    """Write `videos` synthetic videos of `segments` segments (and `cues` cues) each, the fragment
    way (grouped, and one video per commit) and the per-video way; the rates (see the module)."""
    jpegs = keyframes(clip)
    vids = [f"synthetic{k:04d}" for k in range(videos)]
    n = videos * segments
    timed = n - segments  # the first video's commit is not timed
    with tempfile.TemporaryDirectory(prefix="avu-bench-writer-") as tmp:
        one = _fragment_path(Path(tmp) / "single", vids, segments, cues, producers, 1, jpegs)
        grp = _fragment_path(Path(tmp) / "grouped", vids, segments, cues, producers, group, jpegs)
        store = IndexStore(Path(tmp) / "table_add", create=True)
        work = _work(vids, segments, cues, seed, jpegs)
        t = time.perf_counter()
        for vid, rows, cue_rows in work:
            store.write_video(_video(vid, segments), rows, cue_rows)
        table_add_s = time.perf_counter() - t
        if store.segments.count_rows() != n:
            raise RuntimeError(f"writer benchmark: {store.segments.count_rows()} segment rows stored, expected {n}")
    return {"writer_segments_per_s": round(timed / grp[1], 1), "writer_group": group, "writer_groups": grp[3],
            "writer_segments_per_cpu_s": round(timed / grp[2], 1),
            "writer_segments_per_s_one_video": round(timed / one[1], 1),
            "writer_segments_per_cpu_s_one_video": round(timed / one[2], 1),
            "writer_table_add_segments_per_s": round(n / table_add_s, 1),
            "fragment_segments_per_s": round(n / min(one[0], grp[0]), 1), "fragment_producers": producers,
            "writer_videos": videos, "writer_segments_per_video": segments, "writer_cues_per_video": cues,
            "writer_jpeg_bytes": int(np.mean([len(j) for j in jpegs]))}
