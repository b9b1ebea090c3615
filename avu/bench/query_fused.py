"""`avu bench query` for the fused text search: latency and recall over every default modality.

For each size, a temporary avu index (`IndexStore`) is filled with seeded random unit vectors in
the four MiniLM columns a text query searches (`speech_emb`, `seen_emb`, `heard_emb`,
`read_emb`; null fractions `NULLS`: most segments show no text), one `videos` row per
`SEGMENTS_PER_VIDEO` segments marked as perceived, then `IndexStore.optimize()` builds the ANN
indexes as ingest does. Per size:

- latency: `Index.search(text, k=10)` end to end, as a user waits for it: MiniLM encoding, the
  four column searches (concurrent) and the cue search, fusion, the look-up of what explains
  each hit. p50 / p95 over `queries` different realistic phrases, after one untimed warm-up.
- steps: the same query's steps timed one by one (medians over the queries, ms): MiniLM
  encoding, the four column scans as `Index.search` runs them (concurrently) and one after
  another, each column's scan alone, and the one read of the candidates' rows (`take_rows`).
- recall@10 of the fused ranking against the exact fused ranking: random unit query vectors
  (the same vector for the four modalities, as a text query), `Index.search_vectors`, compared
  with the exact top 10 of `fusion.fuse_arrays` over every row, computed in NumPy chunk by chunk
  while the table is written.

    python -m avu.bench.query_fused 10000 100000 1000000
"""
from __future__ import annotations

import json
import os
import tempfile
import time

import numpy as np
import pyarrow as pa

from avu.bench.query import CHUNK, SEGMENTS_PER_VIDEO, K, _pct, query_texts, unit_vectors
from avu.index.fused import candidates, segment_columns, segment_keys
from avu.index.fusion import TEXT_MODALITIES, fuse_arrays
from avu.models.text import MINILM_DIM
from avu.store.ann import search_params, take_rows
from avu.store.tables import SEGMENTS, IndexStore

NULLS = {"speech": 0.05, "seen": 0.05, "heard": 0.05, "read": 0.8}  # share of segments without a vector


class _ExactFused:
    """Running exact fused top-k keys per query over the chunks as they are written."""

    def __init__(self, queries: np.ndarray, k: int = K):
        self.q, self.k = queries, k
        self.scores = np.full((len(queries), 0), -np.inf)
        self.keys = np.zeros((len(queries), 0), dtype=object)

    def add(self, vectors: dict, valid: dict, keys: np.ndarray) -> None:
        fused = []
        for q in self.q:
            cos = {m: np.where(valid[m], vectors[m] @ q, np.nan) for m in vectors}
            fused.append(fuse_arrays(cos))
        s = np.concatenate([self.scores, np.stack(fused)], axis=1)
        keys_all = np.concatenate([self.keys, np.broadcast_to(keys, (len(self.q), len(keys)))], axis=1)
        top = np.argsort(-s, axis=1, kind="stable")[:, :self.k]
        self.scores = np.take_along_axis(s, top, axis=1)
        self.keys = np.take_along_axis(keys_all, top, axis=1)


def _fill(store: IndexStore, n: int, rng: np.random.Generator, truth: _ExactFused) -> None:
    def batches():
        for lo in range(0, n, CHUNK):
            m = min(CHUNK, n - lo)
            row = np.arange(lo, lo + m)
            vid = np.char.add("v", np.char.zfill((row // SEGMENTS_PER_VIDEO).astype(str), 6))
            seg = (row % SEGMENTS_PER_VIDEO).astype(np.int32)
            vectors = {mo: unit_vectors(rng, m) for mo in TEXT_MODALITIES}
            valid = {mo: rng.random(m) >= NULLS[mo] for mo in TEXT_MODALITIES}
            truth.add(vectors, valid, np.char.add(np.char.add(vid, "/"), seg.astype(str)).astype(object))
            cols = {"video_id": pa.array(vid.tolist(), pa.string()), "seg": pa.array(seg),
                    "start": pa.array(seg * 2.0), "end": pa.array(seg * 2.0 + 2.0)}
            for mo in TEXT_MODALITIES:
                cols[f"{mo}_emb"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors[mo].ravel()), MINILM_DIM,
                                                                      mask=pa.array(~valid[mo]))
            yield pa.RecordBatch.from_arrays([cols.get(f.name, pa.nulls(m, f.type)) for f in SEGMENTS],
                                             schema=SEGMENTS)

    store.segments.add(pa.RecordBatchReader.from_batches(SEGMENTS, batches()))
    models = json.dumps({"text": "all-MiniLM-L6-v2", "perceived": ["heard", "seen", "objects", "read"]})
    videos = [{"video_id": f"v{i:06d}", "path": f"/bench/v{i:06d}.mp4", "status": "done", "duration": 1000.0,
               "text_source": "file:bench", "models_json": models}
              for i in range((n + SEGMENTS_PER_VIDEO - 1) // SEGMENTS_PER_VIDEO)]
    store.videos.add(pa.Table.from_pylist([{f.name: v.get(f.name) for f in store.videos.schema} for v in videos],
                                          schema=store.videos.schema))


def _steps(idx, texts: list[str]) -> tuple[dict, float]:
    """Median ms of each step of a fused text query, timed one by one with the calls `gather` makes
    (`candidates(K)` per column, as `Index.search` asks for at k = K), and the mean ms of encoding."""
    from concurrent.futures import ThreadPoolExecutor

    store = idx.store
    read = segment_columns(store, TEXT_MODALITIES)
    times: dict[str, list[float]] = {"encode": [], "scans": [], "scans_one_by_one": [], "read_rows": []}
    alone: dict[str, list[float]] = {f"{m}_emb": [] for m in TEXT_MODALITIES}

    def scan(m, q):
        return segment_keys(store, m, q, candidates(K))

    with ThreadPoolExecutor(max_workers=len(TEXT_MODALITIES)) as pool:
        for text in texts:
            t0 = time.perf_counter()
            q = idx._encode(text)
            t1 = time.perf_counter()
            found = [f.result() for f in [pool.submit(scan, m, q) for m in TEXT_MODALITIES]]
            t2 = time.perf_counter()
            for m in TEXT_MODALITIES:
                t = time.perf_counter()
                scan(m, q)
                alone[f"{m}_emb"].append((time.perf_counter() - t) * 1e3)
            t3 = time.perf_counter()
            take_rows(store.segments, [r["_rowid"] for rows in found for r in rows], read)
            t4 = time.perf_counter()
            for key, ms in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                times[key].append(ms * 1e3)
    return ({**{f"{key}_ms": _pct(v, 50) for key, v in times.items()},
             "scan_alone_ms": {c: _pct(v, 50) for c, v in alone.items()}}, float(np.mean(times["encode"])))


def bench_size(n: int, *, queries: int, seed: int, workdir: str | None) -> dict:
    from avu.index import open_index

    load_before = os.getloadavg()[0]
    rng = np.random.default_rng([seed, n])
    recall_q = unit_vectors(np.random.default_rng([seed, n, 1]), queries)
    truth = _ExactFused(recall_q)
    with tempfile.TemporaryDirectory(prefix="avu-bench-fused-", dir=workdir) as tmp:
        store = IndexStore(os.path.join(tmp, "index"), create=True)
        t0 = time.perf_counter()
        _fill(store, n, rng, truth)
        write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        built = store.optimize()
        build_s = time.perf_counter() - t0
        idx = open_index(store.uri)
        recalls = []
        for q, want in zip(recall_q, truth.keys):
            hits = idx.search_vectors({m: q for m in TEXT_MODALITIES}, k=K)
            got = {f"{h.video_id}/{int(h.start // 2)}" for h in hits}
            recalls.append(len(got & set(want)) / K)
        texts = query_texts(queries + 1)
        idx.search(texts[-1], k=K)  # warm-up: loads the indexes and the text encoder
        total = []
        for text in texts[:-1]:
            t0 = time.perf_counter()
            hits = idx.search(text, k=K)
            total.append((time.perf_counter() - t0) * 1e3)
            if len(hits) != K:
                raise RuntimeError(f"search returned {len(hits)} hits, wanted {K}")
        steps, encode_ms = _steps(idx, texts[:-1])
    return {"p50_ms": _pct(total, 50), "p95_ms": _pct(total, 95), "steps": steps,
            "recall_at_10": round(float(np.mean(recalls)), 4), "min_recall_at_10": float(np.min(recalls)),
            "indexes": built or "exact", "rows": n, "write_s": round(write_s, 2), "build_s": round(build_s, 2),
            "encode_mean_ms": round(encode_ms, 2), "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def bench_query_fused(sizes=(10_000, 100_000, 1_000_000), *, queries: int = 50, seed: int = 0,
                      workdir: str | None = None) -> dict:
    """`{"sizes": {"10000": {...}, ...}, ...}`: per size p50/p95 ms of `Index.search` (fused over
    speech, seen, heard, read), recall@10 against the exact fused ranking, and the build figures."""
    from avu.bench.decode import machine

    t0 = time.perf_counter()
    out = {"sizes": {}, "k": K, "queries": queries, "seed": seed, "modalities": list(TEXT_MODALITIES),
           "nulls": NULLS, "params": search_params(), "machine": machine()}
    for n in sizes:
        out["sizes"][str(n)] = bench_size(int(n), queries=queries, seed=seed, workdir=workdir)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out


if __name__ == "__main__":
    import sys

    print(json.dumps(bench_query_fused(tuple(int(a) for a in sys.argv[1:]) or (10_000, 100_000, 1_000_000)),
                     indent=2))
