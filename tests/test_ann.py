"""Vector search over the index (`avu.store.ann`): exact below the threshold, a forced IVF_RQ index
with recall against exact search, nulls never returned, `where` as a prefilter that still yields k
rows, a stable order on ties, retraining as the table grows, and the query benchmark's keys."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

lancedb = pytest.importorskip("lancedb")

from avu.store.ann import ANN_THRESHOLD, ann_info, ensure_ann, vector_search  # noqa: E402

DIM = 384
N = 4000
PER_VIDEO = 100
DUPES = 30  # rows sharing one vector, spread over videos and segments

SCHEMA = pa.schema([
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("seg", pa.int32()),
    pa.field("start", pa.float64()),
    pa.field("end", pa.float64()),
    pa.field("text", pa.string()),
    pa.field("speech_emb", pa.list_(pa.float32(), DIM)),
    pa.field("visual_emb", pa.list_(pa.float32(), 256)),
    pa.field("keyframe_jpeg", pa.binary()),
])


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _data(n: int, seed: int, first: int = 0) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Rows `first..first+n`: 5% null vectors, and the first DUPES rows sharing one vector."""
    rng = np.random.default_rng(seed)
    vec = _unit(rng, n)
    valid = rng.random(n) >= 0.05
    if first == 0:
        vec[:DUPES] = vec[0]
        valid[:DUPES] = True
    row = np.arange(first, first + n)
    # the duplicates' video ids run against their row order, so LanceDB's row order is not the answer
    vids = [f"v{(i // PER_VIDEO if i >= DUPES else DUPES - i):04d}" for i in row]
    seg = (row % PER_VIDEO).astype(np.int32)
    table = pa.table({
        "video_id": pa.array(vids, pa.string()), "seg": pa.array(seg), "start": pa.array(seg * 2.0),
        "end": pa.array(seg * 2.0 + 2.0), "text": pa.array([f"line {i}" for i in row]),
        "speech_emb": pa.FixedSizeListArray.from_arrays(pa.array(vec.ravel()), DIM, mask=pa.array(~valid)),
        "visual_emb": pa.nulls(n, pa.list_(pa.float32(), 256)),
        "keyframe_jpeg": pa.array([b"\xff\xd8jpeg"] * n, pa.binary()),
    }, schema=SCHEMA)
    return table, vec, valid


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """The same rows twice: `exact` (no index) and `ann` (a forced index), plus the vectors."""
    db = lancedb.connect(str(tmp_path_factory.mktemp("ann")))
    data, vec, valid = _data(N, seed=7)
    exact = db.create_table("exact", schema=SCHEMA)
    exact.add(data)
    ann = db.create_table("ann", schema=SCHEMA)
    ann.add(data)
    assert ensure_ann(ann, "speech_emb", force=True) == "IVF_RQ"
    keys = [f"{v}/{s}" for v, s in zip(data["video_id"].to_pylist(), data["seg"].to_pylist())]
    return {"exact": exact, "ann": ann, "vec": vec, "valid": valid, "keys": np.array(keys)}


def _keys(rows: list[dict]) -> list[str]:
    return [f"{r['video_id']}/{r['seg']}" for r in rows]


def test_exact_below_threshold_builds_nothing(tables):
    t = tables["exact"]
    assert N < ANN_THRESHOLD
    assert ensure_ann(t, "speech_emb") is None
    assert ann_info(t, "speech_emb") is None and not list(t.list_indices())
    vec, valid, keys = tables["vec"], tables["valid"], tables["keys"]
    q = _unit(np.random.default_rng(1), 1)[0]
    rows = vector_search(t, "speech_emb", q, 10)
    sims = np.where(valid, vec @ q, -np.inf)
    best = np.argsort(-sims, kind="stable")[:10]
    assert _keys(rows) == list(keys[best])
    np.testing.assert_allclose([r["similarity"] for r in rows], sims[best], atol=1e-5)
    # default columns: everything but binary blobs and embedding vectors
    assert set(rows[0]) == {"video_id", "seg", "start", "end", "text", "similarity"}


def test_forced_index_recall(tables):
    info = ann_info(tables["ann"], "speech_emb")
    assert info is not None and info["type"] == "IVF_RQ" and info["unindexed_rows"] == 0
    assert ensure_ann(tables["ann"], "speech_emb", force=False, threshold=1000) is None  # up to date
    recalls = []
    for q in _unit(np.random.default_rng(2), 20):
        approx = set(_keys(vector_search(tables["ann"], "speech_emb", q, 10, columns=["video_id", "seg"])))
        truth = set(_keys(vector_search(tables["ann"], "speech_emb", q, 10, exact=True)))
        recalls.append(len(approx & truth) / 10)
    assert np.mean(recalls) >= 0.9, recalls


@pytest.mark.parametrize("which", ["exact", "ann"])
def test_nulls_never_returned(tables, which):
    t, valid = tables[which], tables["valid"]
    q = _unit(np.random.default_rng(3), 1)[0]
    rows = vector_search(t, "speech_emb", q, N, columns=["video_id", "seg", "speech_emb"])
    assert len(rows) == int(valid.sum())
    assert all(r["speech_emb"] is not None for r in rows)
    assert set(_keys(rows)) == set(tables["keys"][valid])
    sims = [r["similarity"] for r in rows]
    assert sims == sorted(sims, reverse=True)


@pytest.mark.parametrize("which", ["exact", "ann"])
def test_where_is_a_prefilter(tables, which):
    t, valid, keys, vec = tables[which], tables["valid"], tables["keys"], tables["vec"]
    wanted = ("v0033", "v0035")  # 200 of 4000 rows: filtering the global top 10 after the search finds ~0
    where = f"video_id IN ('{wanted[0]}', '{wanted[1]}')"
    match = np.array([k.split("/")[0] in wanted for k in keys]) & valid
    for q in _unit(np.random.default_rng(4), 5):
        rows = vector_search(t, "speech_emb", q, 10, where=where)
        assert len(rows) == 10 and {r["video_id"] for r in rows} <= set(wanted)
        sims = np.where(match, vec @ q, -np.inf)
        assert _keys(rows) == list(keys[np.argsort(-sims, kind="stable")[:10]])
    # fewer matching non-null rows than k: all of them, no nulls, nothing from outside
    one = "video_id = 'v0012' AND seg < 20"
    n_match = sum(1 for k, ok in zip(keys, valid) if ok and k.startswith("v0012/") and int(k[6:]) < 20)
    rows = vector_search(t, "speech_emb", vec[1230], 50, where=one, columns=["video_id", "seg", "speech_emb"])
    assert len(rows) == n_match and all(r["speech_emb"] is not None for r in rows)
    assert vector_search(t, "speech_emb", vec[1230], 10, where="video_id = 'nobody'") == []


@pytest.mark.parametrize("which", ["exact", "ann"])
def test_ties_ordered_by_video_then_segment(tables, which):
    t, keys = tables[which], tables["keys"]
    q = tables["vec"][0]  # the vector shared by the first DUPES rows
    rows = vector_search(t, "speech_emb", q, 12, columns=["video_id", "seg"])
    dupes = sorted(keys[:DUPES], key=lambda k: (k.split("/")[0], int(k.split("/")[1])))
    assert _keys(rows) == dupes[:12]
    assert len({r["similarity"] for r in rows}) == 1 and rows[0]["similarity"] == pytest.approx(1.0, abs=1e-5)
    assert set(rows[0]) == {"video_id", "seg", "similarity"}
    assert vector_search(t, "speech_emb", q, 12, columns=["video_id", "seg"]) == rows


def test_retrains_when_the_table_grows(tmp_path):
    t = lancedb.connect(str(tmp_path)).create_table("segments", schema=SCHEMA)
    t.add(_data(3000, seed=11)[0])
    assert ensure_ann(t, "speech_emb", threshold=5000) is None  # below the threshold
    assert ensure_ann(t, "speech_emb", threshold=1000) == "IVF_RQ"
    t.add(_data(300, seed=12, first=3000)[0])
    t.optimize()  # folds the new rows into the index
    assert ann_info(t, "speech_emb")["unindexed_rows"] == 0
    assert ensure_ann(t, "speech_emb", threshold=1000) is None  # trained on 3000 of 3300 rows
    t.add(_data(1000, seed=13, first=3300)[0])
    assert ensure_ann(t, "speech_emb", threshold=1000) == "IVF_RQ"  # 3000 of 4300 < 80%
    info = ann_info(t, "speech_emb")
    assert info["trained_rows"] == 4300 and info["unindexed_rows"] == 0
    assert len(list(t.list_indices())) == 1


def test_bad_queries(tables):
    t = tables["exact"]
    with pytest.raises(ValueError, match="dimensions"):
        vector_search(t, "speech_emb", np.ones(10, np.float32), 5)
    with pytest.raises(ValueError, match="non-zero"):
        vector_search(t, "speech_emb", np.zeros(DIM, np.float32), 5)
    with pytest.raises(KeyError):
        vector_search(t, "speech_emb", np.ones(DIM, np.float32), 5, columns=["nope"])
    assert vector_search(t, "speech_emb", np.ones(DIM, np.float32), 0) == []
    # an all-null column: nothing to index, nothing found
    assert ensure_ann(t, "visual_emb", force=True) is None
    assert vector_search(t, "visual_emb", np.ones(256, np.float32), 5) == []


def test_bench_query_small(tmp_path):
    from avu.bench.query import bench_query

    out = bench_query(sizes=(2000,), queries=5, workdir=str(tmp_path))
    assert set(out) >= {"sizes", "machine"} and list(out["sizes"]) == ["2000"]
    r = out["sizes"]["2000"]
    assert set(r) >= {"p50_ms", "p95_ms", "recall_at_10", "index", "build_s"}
    assert r["index"] == "exact" and r["recall_at_10"] == 1.0
    assert 0 < r["p50_ms"] <= r["p95_ms"]
    assert list(tmp_path.iterdir()) == []  # the temporary table is gone


def test_bench_query_fused_small(tmp_path):
    """The fused benchmark on 2,000 rows (exact search): the fused ranking of `Index.search_vectors`
    equals the exact one, and each step of a query is timed, each column's scan on its own."""
    from avu.bench.query_fused import bench_query_fused

    out = bench_query_fused(sizes=(2000,), queries=3, workdir=str(tmp_path))
    assert out["modalities"] == ["speech", "seen", "heard", "read"] and list(out["sizes"]) == ["2000"]
    r = out["sizes"]["2000"]
    assert r["indexes"] == "exact" and r["recall_at_10"] == 1.0 and r["rows"] == 2000
    assert 0 < r["p50_ms"] <= r["p95_ms"]
    steps = r["steps"]
    assert set(steps) == {"encode_ms", "scans_ms", "scans_one_by_one_ms", "read_rows_ms", "scan_alone_ms"}
    assert set(steps["scan_alone_ms"]) == {"speech_emb", "seen_emb", "heard_emb", "read_emb"}
    assert all(v > 0 for k, v in steps.items() if k != "scan_alone_ms") and min(steps["scan_alone_ms"].values()) > 0
    assert list(tmp_path.iterdir()) == []  # the temporary index is gone


@pytest.mark.parametrize("table,where", [("ann", None), ("exact", None), ("exact", "video_id IN ('v0003', 'v0007')")])
def test_row_ids_lead_back_to_the_same_rows(tables, table, where):
    """`vector_search(row_ids=True)` on the ANN, flat and NumPy paths; `take_rows` reads those rows
    (vectors as float32 arrays) in one go, the same as the search would have returned them."""
    from avu.store.ann import take_rows

    t = tables[table]
    q = _unit(np.random.default_rng(3), 1)[0]
    cols = ["video_id", "seg", "text", "speech_emb"]
    full = vector_search(t, "speech_emb", q, 12, where=where, columns=cols)
    keyed = vector_search(t, "speech_emb", q, 12, where=where, columns=["video_id", "seg"], row_ids=True)
    assert _keys(keyed) == _keys(full) and all(isinstance(r["_rowid"], int) for r in keyed)
    rows = take_rows(t, [r["_rowid"] for r in keyed] + [keyed[0]["_rowid"]], cols)  # a repeat is read once
    assert len(rows) == len(keyed)
    for want, r in zip(full, (rows[k["_rowid"]] for k in keyed)):
        assert (r["video_id"], r["seg"], r["text"]) == (want["video_id"], want["seg"], want["text"])
        assert r["speech_emb"].dtype == np.float32
        np.testing.assert_array_equal(r["speech_emb"], want["speech_emb"])
    assert take_rows(t, [], cols) == {}


def test_unrefined_candidates_hold_the_exact_best(tables):
    """`refine=False` (candidates ranked on the quantised codes, as the fused search gathers them):
    a list 4x as long still holds the exact top 10."""
    found = []
    for q in _unit(np.random.default_rng(5), 10):
        wide = set(_keys(vector_search(tables["ann"], "speech_emb", q, 40, columns=["video_id", "seg"], refine=False)))
        truth = set(_keys(vector_search(tables["ann"], "speech_emb", q, 10, exact=True)))
        found.append(len(wide & truth) / 10)
    assert np.mean(found) >= 0.99, found
