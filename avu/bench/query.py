"""`avu bench query --speech-only`: query latency and ANN recall on synthetic segment tables of growing size.

For each size, a temporary LanceDB table with the `segments` schema is filled with seeded random
unit vectors in `speech_emb` (5% null, like segments without speech; written in chunks so memory
stays bounded), then `ensure_ann` runs as the product runs it (an index at or above
`ANN_THRESHOLD` vectors, exact search below). Two measurements per size:

- latency: a realistic text query (each one different) encoded by MiniLM plus `vector_search`
  for k=10, timed together as a user waits for them; p50 and p95 in ms over `queries` queries,
  after one untimed warm-up query (the first query loads the index into memory).
- recall@10 of the search the product runs against exact top 10s. Text embeddings of a table of
  random vectors have no meaningful neighbours, so recall uses random unit vectors as queries;
  uniform random vectors are the hard case for an IVF index (no clusters), so real embeddings do
  at least as well. The exact top 10s are computed in NumPy while the table is written, chunk by
  chunk. Below the threshold the product searches exactly, so recall is 1.0 by construction
  (measured anyway).
"""
from __future__ import annotations

import os
import tempfile
import time
from typing import Iterator

import lancedb
import numpy as np
import pyarrow as pa

from avu.bench.decode import machine
from avu.models.text import MINILM_DIM, load_minilm
from avu.store.ann import ANN_THRESHOLD, ensure_ann, search_params, vector_search
from avu.store.tables import SEGMENTS

K = 10
NULL_FRACTION = 0.05
SEGMENTS_PER_VIDEO = 500  # about 17 minutes of 2 s segments
CHUNK = 50_000  # rows generated and written at a time
COLUMNS = ["video_id", "seg", "start", "end", "text"]  # what a query reads back, as the API does

_SUBJECTS = ["the mayor", "a chef", "the goalkeeper", "my grandmother", "the pilot", "a teacher",
             "the band", "two scientists", "the crowd", "a small dog", "the reporter", "our guide"]
_EVENTS = ["explains how to make fresh pasta", "talks about the storm last night", "scores in the final minute",
           "announces the election results", "laughs at a joke about taxes", "describes the northern lights",
           "warns about the slippery road", "sings happy birthday", "argues about the budget",
           "shows the engine of an old car", "reads a letter from the war", "asks for directions to the station"]


def query_texts(n: int) -> list[str]:
    """`n` different, realistic search phrases (subject x event, then numbered variants)."""
    base = [f"{s} {e}" for e in _EVENTS for s in _SUBJECTS]
    return [base[i % len(base)] + ("" if i < len(base) else f" part {i // len(base) + 1}") for i in range(n)]


def unit_vectors(rng: np.random.Generator, n: int, dim: int = MINILM_DIM) -> np.ndarray:
    v = rng.standard_normal((n, dim), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


class _ExactTopK:
    """Running exact top-k keys (video_id, seg) per query over the chunks as they are written."""

    def __init__(self, queries: np.ndarray, k: int = K):
        self.q, self.k = queries, k
        self.scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        self.keys: np.ndarray = np.zeros((len(queries), 0), dtype=object)
        self.n = 0  # non-null vectors seen

    def add(self, vectors: np.ndarray, valid: np.ndarray, keys: np.ndarray) -> None:
        self.n += int(valid.sum())
        s = self.q @ vectors[valid].T
        scores = np.concatenate([self.scores, s], axis=1)
        keys_all = np.concatenate([self.keys, np.broadcast_to(keys[valid], s.shape)], axis=1)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :self.k]
        self.scores = np.take_along_axis(scores, top, axis=1)
        self.keys = np.take_along_axis(keys_all, top, axis=1)

    def sets(self) -> list[set]:
        return [set(row) for row in self.keys]


def _batches(n: int, rng: np.random.Generator, truth: _ExactTopK) -> Iterator[pa.RecordBatch]:
    for lo in range(0, n, CHUNK):
        m = min(CHUNK, n - lo)
        row = np.arange(lo, lo + m)
        vectors = unit_vectors(rng, m)
        valid = rng.random(m) >= NULL_FRACTION
        vid = np.char.add("v", np.char.zfill((row // SEGMENTS_PER_VIDEO).astype(str), 6))
        seg = (row % SEGMENTS_PER_VIDEO).astype(np.int32)
        truth.add(vectors, valid, np.char.add(np.char.add(vid, "/"), seg.astype(str)).astype(object))
        cols = {
            "video_id": pa.array(vid.tolist(), pa.string()),
            "seg": pa.array(seg),
            "start": pa.array(seg * 2.0),
            "end": pa.array(seg * 2.0 + 2.0),
            "speech_emb": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), MINILM_DIM,
                                                            mask=pa.array(~valid)),
        }
        yield pa.RecordBatch.from_arrays([cols.get(f.name, pa.nulls(m, f.type)) for f in SEGMENTS],
                                         schema=SEGMENTS)


def _pct(xs: list[float], q: float) -> float:
    return round(float(np.percentile(xs, q)), 2)


def bench_size(n: int, *, queries: int, seed: int, workdir: str | None, model) -> dict:
    """Build one table of `n` rows and measure it (see the module docstring)."""
    load_before = os.getloadavg()[0]  # another job on the cores moves every figure; say so
    rng = np.random.default_rng([seed, n])
    recall_q = unit_vectors(np.random.default_rng([seed, n, 1]), queries)
    truth = _ExactTopK(recall_q)
    with tempfile.TemporaryDirectory(prefix="avu-bench-query-", dir=workdir) as tmp:
        table = lancedb.connect(tmp).create_table("segments", schema=SEGMENTS)
        t0 = time.perf_counter()
        table.add(pa.RecordBatchReader.from_batches(SEGMENTS, _batches(n, rng, truth)))
        write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        index = ensure_ann(table, "speech_emb")
        build_s = time.perf_counter() - t0

        recalls = []
        for q, want in zip(recall_q, truth.sets()):
            rows = vector_search(table, "speech_emb", q, K, columns=["video_id", "seg"])
            recalls.append(len({f"{r['video_id']}/{r['seg']}" for r in rows} & want) / K)

        texts = query_texts(queries + 1)
        vector_search(table, "speech_emb", model.encode_text(texts[-1:])[0], K, columns=COLUMNS)  # warm-up
        total, encode, search = [], [], []
        for text in texts[:-1]:
            t0 = time.perf_counter()
            q = model.encode_text([text])[0]
            t1 = time.perf_counter()
            rows = vector_search(table, "speech_emb", q, K, columns=COLUMNS)
            t2 = time.perf_counter()
            if len(rows) != K:
                raise RuntimeError(f"search returned {len(rows)} rows, wanted {K}")
            total.append((t2 - t0) * 1e3)
            encode.append((t1 - t0) * 1e3)
            search.append((t2 - t1) * 1e3)
    return {"p50_ms": _pct(total, 50), "p95_ms": _pct(total, 95),
            "recall_at_10": round(float(np.mean(recalls)), 4), "min_recall_at_10": float(np.min(recalls)),
            "index": index or "exact", "build_s": round(build_s, 2),
            "rows": n, "vectors": truth.n, "write_s": round(write_s, 2),
            "encode_p50_ms": _pct(encode, 50), "search_p50_ms": _pct(search, 50), "search_p95_ms": _pct(search, 95),
            "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def bench_query(sizes=(10_000, 100_000, 1_000_000), *, queries: int = 50, seed: int = 0,
                workdir: str | None = None) -> dict:
    """Measure every size and return `{"sizes": {"10000": {...}, ...}, "machine": ...}`.

    Per size: `p50_ms` / `p95_ms` (MiniLM encoding plus a k=10 search), `recall_at_10` (against
    exact search, random-vector queries), `index` ("IVF_RQ", or "exact" below the threshold),
    `build_s` (seconds in `ensure_ann`), the parts (`encode_p50_ms`, `search_p50_ms`, ...) and the
    1-minute load average before and after, since the latency figures are only as quiet as the CPU.
    """
    t0 = time.perf_counter()
    model = load_minilm()
    model.encode_text(["warm up the text encoder"])
    out = {"sizes": {}, "k": K, "queries": queries, "seed": seed, "null_fraction": NULL_FRACTION,
           "ann_threshold": ANN_THRESHOLD, "params": search_params(), "machine": machine()}
    for n in sizes:
        out["sizes"][str(n)] = bench_size(int(n), queries=queries, seed=seed, workdir=workdir, model=model)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(bench_query(tuple(int(a) for a in sys.argv[1:]) or (10_000, 100_000, 1_000_000)), indent=2))
