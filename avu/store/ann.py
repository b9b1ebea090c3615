"""Nearest-neighbour search over the index's embedding columns: when to build an ANN index, and how
to query one (or search exactly) with nulls, SQL filters and a stable order.

Why these choices (measured on the project's 2-core CPU, LanceDB 0.40, 384-d unit vectors;
`avu.bench.query` measures the result end to end):

- Exact search through LanceDB's flat path reads every raw vector: about 1.2 ms per 1,000 vectors
  (12 ms at 10k, 60 ms at 50k, 1.3 s at 1M). Below `ANN_THRESHOLD` non-null vectors it is fast
  enough and exact; at or above it `ensure_ann` builds an index.
- The index is IVF_RQ with 4-bit RaBitQ codes (192 bytes a vector, held in memory). On uniform
  random vectors (the benchmark's worst case: no clusters for IVF to exploit) probing every
  partition and re-ranking the best k x 3 candidates on the raw vectors gives recall@10 of 0.99
  in 12-13 ms at 1M on a quiet machine. Measured against it at 1M: IVF_SQ, 18 ms for the same
  recall; IVF_PQ with 96 sub-vectors, 33 ms for 0.97; 2-bit RQ, no faster and 0.88 at refine 10;
  HNSW_SQ took 69 s to build at 100k (over 10 min at 1M) and reached 0.32 at ef=200; IVF_FLAT
  reads raw vectors as the flat path does. Probing 90% of the partitions gave 0.96-0.97 and 80%
  gave 0.93, for no measurable saving, so `PROBE_FRACTION` is 1.0; real embeddings are clustered
  and would allow far fewer probes (lower it beyond a few million vectors).
- With every partition probed, the scan costs about 16 ns a vector on the two cores, whatever the
  partitioning (2026-12-01, 1M uniform vectors, top 48 without re-ranking, quiet machine: 1, 8,
  30 and 117 partitions all 15.3-16.5 ms). Fewer bits scan faster but rank worse: of the exact top
  40, the top 48 held 81% at 4 bits (16 ms), 44% at 2 bits (12.7 ms), 16% at 1 bit (7.4 ms). So a
  fused query over four such columns spends 45-60 ms in its scans alone (`avu bench query --fused`).
- Null vectors (segments with no speech) are never indexed, and LanceDB's flat search skips
  them too, so no `column IS NOT NULL` filter is added: as a prefilter it reads the whole vector
  column (135 ms at 100k, 40 times the search). Rows with a null or NaN distance are still
  dropped here, as a guard.
- A `where` is a prefilter (evaluated before the search), so a narrow filter still returns `k`
  rows when `k` rows match. It costs a pass over the filtered columns: at 1M rows about 14 ms for
  `video_id IN` two ids, 45 ms for 2,000 ids. Exact search with a `where` reads only the matching rows' vectors
  and scores them in NumPy: 22 ms for two videos of a 1M-row table, where the flat path takes 1.6 s.
- Order is similarity descending, then the table's tie keys (`video_id`, then `seg` / `idx` /
  `start`), whatever LanceDB's internal row order: when the k-th and the last fetched
  candidates tie, the fetch is widened until the tie group is complete.
"""
from __future__ import annotations

import math
import re
from typing import Any

import lancedb.index
import numpy as np
import pyarrow as pa

ANN_THRESHOLD = 15_000  # non-null vectors from which an index is built (exact search: ~18 ms here)
INDEX_TYPE = "IVF_RQ"
RQ_BITS = 4  # bits per dimension: 4 bits reach recall 0.99 at refine 3, 2 bits need refine 30
ROWS_PER_PARTITION = 8192  # LanceDB's own target partition size
PROBE_FRACTION = 1.0  # of the IVF partitions probed per query (see the module docstring)
REFINE_FACTOR = 3  # candidates re-ranked on the raw vectors = k * REFINE_FACTOR (2: recall 0.975)
HNSW_EF = 200  # candidates per query for an HNSW index built elsewhere
REBUILD_BELOW = 0.8  # retrain when the index was trained on fewer than this share of the rows
TIE_KEYS = ("video_id", "seg", "idx", "start")
_TIE_MARGIN = 8  # extra rows fetched to see whether the k-th result ties with the next
_ALL_PARTITIONS = 1 << 16  # nprobes for an index whose partition count is unknown (LanceDB clamps it)
_NAME = re.compile(r"_ann_p(?P<p>\d+)_n(?P<n>\d+)$")


def num_partitions(n_vectors: int) -> int:
    """IVF partitions for an index over `n_vectors` vectors."""
    return max(1, math.ceil(n_vectors / ROWS_PER_PARTITION))


def _is_vector_index(index_type: str) -> bool:
    t = index_type.lower()
    return t.startswith("ivf") or "hnsw" in t


def _vector_indices(table, column: str) -> list[dict]:
    out = []
    for idx in table.list_indices():
        if list(idx.columns) == [column] and _is_vector_index(str(idx.index_type)):
            stats = table.index_stats(idx.name)
            m = _NAME.search(idx.name)
            indexed = int(stats.num_indexed_rows) if stats else 0
            out.append({"name": idx.name, "type": stats.index_type if stats else str(idx.index_type),
                        "partitions": int(m["p"]) if m else None,
                        "trained_rows": int(m["n"]) if m else indexed,
                        "indexed_rows": indexed, "unindexed_rows": int(stats.num_unindexed_rows) if stats else 0})
    return out


def ann_info(table, column: str) -> dict | None:
    """The vector index on `column`: name, type, partitions and trained / indexed / unindexed rows.

    Of several (a rebuild interrupted before the old one was dropped), the one trained on most rows.
    """
    found = _vector_indices(table, column)
    return max(found, key=lambda i: i["trained_rows"]) if found else None


def ensure_ann(table, column: str, *, threshold: int = ANN_THRESHOLD, force: bool = False) -> str | None:
    """Build a cosine IVF_RQ index on `column` when it is due and return its type, else None.

    Due: `column` holds at least `threshold` non-null vectors and there is no vector index on it,
    or the index was trained on fewer than `REBUILD_BELOW` of today's rows (new rows folded in by
    `table.optimize()` are searched, but the partitions were fitted to the old data). `force`
    builds whenever there is at least one vector. Call it after `optimize()`, which folds rows
    added since the last build into the existing index (unindexed rows are searched by brute force).
    """
    total = table.count_rows()
    if not force:
        if total < threshold:  # cheap: the non-null count cannot be higher
            return None
        info = ann_info(table, column)
        if info is not None and info["trained_rows"] >= REBUILD_BELOW * total:
            return None
    n = table.count_rows(f"{column} IS NOT NULL")  # reads the column: about 1.3 s at 1M rows
    if n == 0 or (not force and n < threshold):
        return None
    p = num_partitions(n)
    config = lancedb.index.IvfRq(distance_type="cosine", num_bits=RQ_BITS, num_partitions=p)
    name = f"{column}_ann_p{p}_n{total}"
    table.create_index(column, config=config, replace=True, name=name)
    for old in _vector_indices(table, column):  # a new name does not replace the old index
        if old["name"] != name:
            table.drop_index(old["name"])
    return INDEX_TYPE


def _query_vector(table, column: str, query: np.ndarray) -> np.ndarray:
    field = table.schema.field(column)  # KeyError for an unknown column
    q = np.asarray(query, dtype=np.float32)
    if q.ndim == 2 and q.shape[0] == 1:
        q = q[0]
    if q.ndim != 1:
        raise ValueError(f"query must be one vector, got shape {q.shape}")
    if pa.types.is_fixed_size_list(field.type) and q.shape[0] != field.type.list_size:
        raise ValueError(f"query has {q.shape[0]} dimensions, {column} has {field.type.list_size}")
    norm = float(np.linalg.norm(q))
    if not math.isfinite(norm) or norm == 0.0:
        raise ValueError("query vector must be finite and non-zero")
    return q / norm


def _default_columns(schema: pa.Schema) -> list[str]:
    """Every column but bulky ones: binary blobs (key frames) and embedding vectors."""
    bulky = (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_list,
             pa.types.is_fixed_size_list, pa.types.is_large_list)
    return [f.name for f in schema if not any(test(f.type) for test in bulky)]


def _order_key(ties: list[str]):
    def key(row: dict) -> tuple:
        return (-row["similarity"], *((row[c] is None, row[c]) for c in ties))
    return key


def _pylist(table_out: pa.Table) -> list[dict]:
    """Rows as dicts; vector columns as float32 NumPy rows (None where null), not lists of floats
    (converting 384 Python floats per vector costs more than the search at a few hundred rows)."""
    vec = [f.name for f in table_out.schema if pa.types.is_fixed_size_list(f.type)]
    rows = table_out.drop_columns(vec).to_pylist() if vec else table_out.to_pylist()
    for name in vec:
        col = table_out[name].combine_chunks()
        if isinstance(col, pa.ChunkedArray):
            col = pa.concat_arrays(col.chunks) if col.num_chunks else pa.array([], col.type)
        dim = col.type.list_size
        flat = col.values.slice(col.offset * dim, len(col) * dim).to_numpy(zero_copy_only=False)
        mat = flat.astype(np.float32, copy=False).reshape(len(col), dim)
        valid = col.is_valid().to_numpy(zero_copy_only=False)
        for i, row in enumerate(rows):
            row[name] = mat[i] if valid[i] else None
    return rows


def _rows(table_out: pa.Table) -> list[dict]:
    """Arrow result with `_distance` -> dicts with `similarity`; null / NaN distances dropped."""
    out = []
    for row in _pylist(table_out):
        d = row.pop("_distance")
        if d is None or math.isnan(d):
            continue
        row["similarity"] = 1.0 - float(d)
        out.append(row)
    return out


def _lance_search(table, column: str, q: np.ndarray, k: int, where: str | None, select: list[str],
                  ties: list[str], info: dict | None, row_ids: bool = False, refine: bool = True) -> list[dict]:
    """LanceDB's search (ANN when `info`, else flat), widened until ties at the cut are complete."""
    limit = k + _TIE_MARGIN
    while True:
        b = (table.search(q, vector_column_name=column, query_type="vector").distance_type("cosine")
             .select([*select, "_distance"]).limit(limit))  # naming _distance: lance's future default
        if row_ids:
            b = b.with_row_id(True)
        if info is None:
            b = b.bypass_vector_index()
        else:
            p = info["partitions"]
            nprobes = max(1, math.ceil(PROBE_FRACTION * p)) if p else _ALL_PARTITIONS
            b = b.minimum_nprobes(nprobes).maximum_nprobes(0)
            if refine:
                b = b.refine_factor(REFINE_FACTOR)
            if "hnsw" in str(info["type"]).lower():
                b = b.ef(max(HNSW_EF, 2 * limit))
        if where:
            b = b.where(where, prefilter=True)
        got = b.to_arrow()
        rows = sorted(_rows(got), key=_order_key(ties))
        if got.num_rows < limit or len(rows) <= k or rows[k - 1]["similarity"] != rows[-1]["similarity"]:
            return rows[:k]
        limit *= 2


def _numpy_search(table, column: str, q: np.ndarray, k: int, where: str, select: list[str],
                  ties: list[str], row_ids: bool = False) -> list[dict]:
    """Exact search over the rows matching `where`: their vectors only, scored in NumPy."""
    cols = list(dict.fromkeys([*select, column]))
    got = table.search().where(where).select(cols).with_row_id(row_ids).limit(None).to_arrow()
    if got.num_rows == 0:
        return []
    emb = got[column].combine_chunks()
    if isinstance(emb, pa.ChunkedArray):  # pyarrow < 14 returns a chunked array for nested types
        emb = pa.concat_arrays(emb.chunks)
    dim = emb.type.list_size
    values = emb.values.slice(emb.offset * dim, len(emb) * dim)
    x = values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(len(emb), dim)
    with np.errstate(invalid="ignore", divide="ignore"):
        sims = (x @ q) / np.linalg.norm(x, axis=1)
    sims[~emb.is_valid().to_numpy(zero_copy_only=False)] = np.nan
    keep = np.flatnonzero(np.isfinite(sims))
    if keep.size > k:  # everything at or above the k-th score, ties included
        kth = np.partition(sims[keep], keep.size - k)[keep.size - k]
        keep = keep[sims[keep] >= kth]
    part = _pylist(got.select([*select, *(["_rowid"] if row_ids else [])]).take(pa.array(keep, type=pa.int64())))
    for row, s in zip(part, sims[keep]):
        row["similarity"] = float(s)
    return sorted(part, key=_order_key(ties))[:k]


def vector_search(table, column: str, query: np.ndarray, k: int, *, where: str | None = None,
                  exact: bool | None = None, columns: list[str] | None = None,
                  row_ids: bool = False, refine: bool = True) -> list[dict]:
    """The `k` rows whose `column` vector is most cosine-similar to `query`, best first.

    Each row holds `columns` (default: every column but binary blobs and embedding vectors; a
    vector column asked for comes as a float32 NumPy array, None where null) and
    `similarity` = 1 - cosine distance, plus `_rowid` when `row_ids` (for `take_rows`). Rows whose
    vector is null never appear. `where` is SQL over the table, applied before the search. The ANN
    index is used when there is one, unless `exact=True`; without one the search is exact
    (`exact=False` does not build one: `ensure_ann` does). `refine=False` skips the ANN's re-ranking
    on the raw vectors (`REFINE_FACTOR`): order and `similarity` then come from the quantised codes,
    for a caller that only gathers candidates and scores them itself (the fused search).
    """
    q = _query_vector(table, column, query)
    if k <= 0:
        return []
    names = set(table.schema.names)
    wanted = list(columns) if columns is not None else _default_columns(table.schema)
    missing = [c for c in wanted if c not in names]
    if missing:
        raise KeyError(f"no column(s) {missing} in table {getattr(table, 'name', '')!r}")
    ties = [c for c in TIE_KEYS if c in names]
    select = list(dict.fromkeys([*wanted, *ties]))
    info = None if exact else ann_info(table, column)
    if info is None and where:
        rows = _numpy_search(table, column, q, k, where, select, ties, row_ids)
    else:
        rows = _lance_search(table, column, q, k, where, select, ties, info, row_ids, refine)
    extra = [c for c in ties if c not in wanted]
    for row in rows:
        for c in extra:
            del row[c]
    return rows


def take_rows(table, row_ids: list[int], columns: list[str]) -> dict[int, dict]:
    """The rows with these `_rowid`s (from `vector_search(..., row_ids=True)`), {row id: row}; vector
    columns as float32 NumPy arrays (None where null). One read for rows found by several searches."""
    ids = list(dict.fromkeys(int(i) for i in row_ids))
    if not ids:
        return {}
    got = table.take_row_ids(ids).select([*columns, "_rowid"]).to_arrow()
    return {row.pop("_rowid"): row for row in _pylist(got)}


def search_params() -> dict[str, Any]:
    """The index and query settings in force, for benchmark records."""
    return {"index_type": INDEX_TYPE, "rq_bits": RQ_BITS, "rows_per_partition": ROWS_PER_PARTITION,
            "probe_fraction": PROBE_FRACTION, "refine_factor": REFINE_FACTOR, "threshold": ANN_THRESHOLD}
