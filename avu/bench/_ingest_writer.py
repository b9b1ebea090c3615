"""The index writer's capacity for `avu bench ingest`: segments committed per second.

Synthetic rows of the real schema (every column of `segments`, `cues` and `videos` filled by its
type: unit-norm embeddings, real key-frame JPEGs cut from a shared clip, JSON event scores), written
as ingest writes them: one `IndexStore.write_video` (one atomic commit) per video, into a fresh
local index. Compaction is not timed, as in ingest's `run_s`.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from avu.ingest.features import keyframe_jpeg
from avu.media import read_frames
from avu.store import IndexStore
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


def writer_segments_per_s(clip: Path, *, videos: int = 12, segments: int = 300, cues: int = 100,
                          seed: int = 0) -> dict:
    """Commit `videos` synthetic videos of `segments` segments (and `cues` cues) each, one commit
    per video; returns the rate and what was written."""
    rng = np.random.default_rng(seed)
    jpegs = keyframes(clip)
    work = [(f"synthetic{k:04d}", synthetic_rows(SEGMENTS, f"synthetic{k:04d}", segments, rng, jpegs),
             synthetic_rows(CUES, f"synthetic{k:04d}", cues, rng, jpegs, window=2 * segments / cues))
            for k in range(videos)]
    with tempfile.TemporaryDirectory(prefix="avu-bench-writer-") as tmp:
        store = IndexStore(Path(tmp) / "index", create=True)
        t = time.perf_counter()
        for vid, rows, cue_rows in work:
            video = {"video_id": vid, "path": f"/synthetic/{vid}.mp4", "duration": 2.0 * segments,
                     "size_bytes": 1, "has_video": True, "has_audio": True, "config_hash": "synthetic"}
            store.write_video(video, rows, cue_rows)
        seconds = time.perf_counter() - t
        stored = store.segments.count_rows()
    if stored != videos * segments:
        raise RuntimeError(f"writer benchmark: {stored} segment rows stored, expected {videos * segments}")
    return {"writer_segments_per_s": round(videos * segments / seconds, 1), "writer_videos": videos,
            "writer_segments_per_video": segments, "writer_jpeg_bytes": int(np.mean([len(j) for j in jpegs]))}
