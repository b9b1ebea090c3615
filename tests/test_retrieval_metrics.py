"""Retrieval metrics: ranks worked out by hand on small matrices, the pessimistic tie rule, several
true items per query, both directions of a captioned corpus, bad input, and properties checked by
hypothesis against a brute-force sort (ranks in range, R@K monotone in K, invariance to a
consistent permutation of the items, a perfect diagonal)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avu import _retrieval_metrics as RM
from avu import metrics


# -- by hand --------------------------------------------------------------------------------------
def test_ranks_by_hand():
    sim = [[0.9, 0.1, 0.5, 0.3],   # true 0: nothing above 0.9 -> rank 1
           [0.2, 0.4, 0.8, 0.6],   # true 1: 0.8 and 0.6 above 0.4 -> rank 3
           [0.7, 0.6, 0.1, 0.2]]   # true 2: all three others above 0.1 -> rank 4
    assert metrics.ranks(sim, [0, 1, 2]).tolist() == [1, 3, 4]
    m = metrics.retrieval_metrics(sim, [0, 1, 2])
    assert m == pytest.approx({"R@1": 100 / 3, "R@5": 100.0, "R@10": 100.0, "MdR": 3.0, "MnR": 8 / 3,
                               "n_queries": 3})
    assert isinstance(m["R@1"], float) and isinstance(m["MdR"], float) and m["n_queries"] == 3


def test_recalls_and_median_by_hand():
    # 12 items; the true item (index 0) sits at ranks 1, 2, 5, 6, 10 and 11 of the six rows
    base = np.arange(12, 0, -1, dtype=float)  # 12, 11, ..., 1: column k holds the (k+1)-th best score
    rows = []
    for r in (1, 2, 5, 6, 10, 11):
        row = np.delete(base, r - 1)  # the other 11 scores, in order
        rows.append(np.concatenate([[base[r - 1]], row]))  # the true item (column 0) takes the r-th score
    m = metrics.retrieval_metrics(np.array(rows), [0] * 6)
    assert metrics.ranks(np.array(rows), [0] * 6).tolist() == [1, 2, 5, 6, 10, 11]
    # R@1: 1 of 6; R@5: ranks 1, 2, 5; R@10: all but 11; median of (1,2,5,6,10,11) = (5+6)/2
    assert m == pytest.approx({"R@1": 100 / 6, "R@5": 50.0, "R@10": 500 / 6, "MdR": 5.5, "MnR": 35 / 6,
                               "n_queries": 6})
    assert metrics.retrieval_metrics(np.array(rows), [0] * 6, ks=(2, 11))["R@11"] == 100.0


def test_ties_are_pessimistic():
    assert metrics.ranks([[0.5, 0.5, 0.2]], [1]).tolist() == [2]  # item 0, tied, counts above item 1
    assert metrics.ranks([[0.5, 0.5, 0.2]], [0]).tolist() == [2]  # and item 1 above item 0
    assert metrics.ranks([[0.2, 0.5, 0.5]], [2]).tolist() == [2]
    const = np.zeros((4, 4))  # constant scores never look good: every query ranks last
    assert metrics.ranks(const, [0, 1, 2, 3]).tolist() == [4, 4, 4, 4]
    assert metrics.retrieval_metrics(const, [0, 1, 2, 3])["R@1"] == 0.0
    # true items tied with each other do not push each other down: only the non-true item 2 counts
    assert metrics.ranks([[0.5, 0.5, 0.5, 0.1]], [{0, 1}]).tolist() == [2]
    assert metrics.ranks(np.ones((1, 5)), [{0, 1, 2}]).tolist() == [3]  # 5 items - 3 true + 1


def test_several_true_items_rank_by_the_best():
    row = [0.1, 0.9, 0.3, 0.8, 0.2]
    # true {2, 4}: the best is item 2 (0.3); non-true items above it: 0.9 and 0.8 -> rank 3
    assert metrics.ranks([row], [{2, 4}]).tolist() == [3]
    assert metrics.ranks([row], [[4, 2, 2]]).tolist() == [3]  # any iterable, duplicates ignored
    assert metrics.ranks([row], [{1, 4}]).tolist() == [1]
    # a mix of int and set entries, and -inf scores, in one call
    sim = [[-np.inf, 0.0, 1.0], [2.0, -np.inf, -np.inf]]
    assert metrics.ranks(sim, [0, {1, 2}]).tolist() == [3, 2]


def test_inputs_numpy_int_and_torch():
    assert metrics.ranks(np.array([[3, 1, 2]]), np.array([2])).tolist() == [2]
    torch = pytest.importorskip("torch")
    sim = torch.tensor([[0.9, 0.1], [0.3, 0.2]], dtype=torch.bfloat16, requires_grad=True)
    assert metrics.ranks(sim, torch.tensor([0, 1])).tolist() == [1, 2]


def test_blocks_agree_with_one_pass(monkeypatch):
    rng = np.random.default_rng(1)
    sim = rng.integers(0, 4, (37, 9)).astype(float)  # many ties
    one = [int(i) for i in rng.integers(0, 9, 37)]
    many = [set(rng.choice(9, int(rng.integers(1, 4)), replace=False).tolist()) for _ in range(37)]
    expect = metrics.ranks(sim, one), metrics.ranks(sim, many)
    monkeypatch.setattr(RM, "_CHUNK_ELEMS", 20)  # two rows per block
    assert np.array_equal(metrics.ranks(sim, one), expect[0])
    assert np.array_equal(metrics.ranks(sim, many), expect[1])


# -- both directions ------------------------------------------------------------------------------
def test_bidirectional_by_hand():
    sim = [[0.9, 0.1],    # text 0 of item 0: rank 1
           [0.2, 0.75],   # text 1 of item 0: item 1 above -> rank 2
           [0.4, 0.6],    # text 2 of item 1: rank 1
           [0.8, 0.7]]    # text 3 of item 1: item 0 above -> rank 2
    out = metrics.bidirectional_retrieval(sim, [0, 0, 1, 1])
    assert out["t2v"] == pytest.approx({"R@1": 50.0, "R@5": 100.0, "R@10": 100.0, "MdR": 1.5, "MnR": 1.5,
                                        "n_queries": 4})
    # item 0 over texts [0.9, 0.2, 0.4, 0.8], own texts {0, 1}: best 0.9 -> rank 1
    # item 1 over texts [0.1, 0.75, 0.6, 0.7], own {2, 3}: best 0.7, text 1 (0.75) above -> rank 2
    assert out["v2t"] == pytest.approx({"R@1": 50.0, "R@5": 100.0, "R@10": 100.0, "MdR": 1.5, "MnR": 1.5,
                                        "n_queries": 2})


def test_bidirectional_five_captions_each():
    rng = np.random.default_rng(0)
    items = rng.normal(size=(20, 8))
    items /= np.linalg.norm(items, axis=1, keepdims=True)  # unit vectors: the dot product is a cosine
    item_of_text = np.repeat(np.arange(20), 5)
    texts = items[item_of_text] + 0.01 * rng.normal(size=(100, 8))
    out = metrics.bidirectional_retrieval(texts @ items.T, item_of_text)
    assert out["t2v"]["n_queries"] == 100 and out["v2t"]["n_queries"] == 20
    assert out["t2v"]["R@1"] == 100.0 and out["v2t"]["R@1"] == 100.0 and out["v2t"]["MdR"] == 1.0


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("sim, gt, message", [
    ([[0.1, 0.2], [0.3, 0.4]], [0], "gt has 1 entries but sim has 2 queries"),
    ([[0.1, 0.2], [0.3, 0.4]], [0, set()], "gt for query 1 is empty"),
    ([[0.1, 0.2], [0.3, 0.4]], [0, 2], "query 1: item index 2 is out of range for 2 items"),
    ([[0.1, 0.2], [0.3, 0.4]], [{0, -1}, 1], "query 0: item index -1 is out of range"),
    ([[0.1, 0.2], [0.3, 0.4]], [0, True], "query 1: item indices must be integers"),
    ([[0.1, 0.2], [0.3, 0.4]], [0, "1"], "gt for query 1 must be an item index"),
    ([[0.1, 0.2], [0.3, np.nan]], [0, 1], "NaN scores for query 1"),
    ([0.1, 0.2], [0], "2-D queries x items"),
    (np.zeros((0, 3)), [], "at least one query and one item"),
    ([["a", "b"]], [0], "must be numeric"),
])
def test_bad_input_names_the_query(sim, gt, message):
    with pytest.raises(ValueError, match=message):
        metrics.ranks(sim, gt)


def test_bidirectional_bad_input():
    with pytest.raises(ValueError, match="one item per text: 3 texts"):
        metrics.bidirectional_retrieval(np.zeros((3, 2)), [0, 1])
    with pytest.raises(ValueError, match="text 2 points at item 5, out of range for 2 items"):
        metrics.bidirectional_retrieval(np.zeros((3, 2)), [0, 1, 5])
    with pytest.raises(ValueError, match="item 2 has no caption"):
        metrics.bidirectional_retrieval(np.zeros((3, 3)), [0, 1, 1])
    with pytest.raises(ValueError, match="ranks must be finite and 1-based"):
        metrics.metrics_from_ranks([0, 1])


# -- properties -----------------------------------------------------------------------------------
def _brute_ranks(sim: np.ndarray, gt: list[set[int]]) -> list[int]:
    """Sort every row by (score descending, true items last among equals); the first true item's
    position + 1 is the rank."""
    out = []
    for row, true in zip(sim, gt):
        order = sorted(range(row.size), key=lambda j: (-row[j], j in true))
        out.append(1 + next(pos for pos, j in enumerate(order) if j in true))
    return out


@st.composite
def _problems(draw, ties: bool = True):
    n_q, n_items = draw(st.integers(1, 8)), draw(st.integers(1, 10))
    if ties:
        sim = np.array(draw(st.lists(st.integers(-2, 2), min_size=n_q * n_items, max_size=n_q * n_items)),
                       dtype=float).reshape(n_q, n_items)
    else:  # all scores distinct
        sim = np.array(draw(st.permutations(range(n_q * n_items))), dtype=float).reshape(n_q, n_items)
    gt = [draw(st.sets(st.integers(0, n_items - 1), min_size=1, max_size=n_items)) for _ in range(n_q)]
    return sim, gt


@settings(max_examples=150, deadline=None)
@given(_problems())
def test_ranks_match_a_brute_force_sort_and_stay_in_range(problem):
    sim, gt = problem
    r = metrics.ranks(sim, gt)
    assert r.tolist() == _brute_ranks(sim, gt)
    assert np.all(r >= 1) and np.all(r <= sim.shape[1])
    assert np.all(r <= sim.shape[1] - np.array([len(g) for g in gt]) + 1)


@settings(max_examples=100, deadline=None)
@given(_problems())
def test_recall_is_monotone_in_k(problem):
    sim, gt = problem
    ks = tuple(range(1, sim.shape[1] + 1))
    m = metrics.retrieval_metrics(sim, gt, ks=ks)
    recalls = [m[f"R@{k}"] for k in ks]
    assert all(a <= b for a, b in zip(recalls, recalls[1:]))
    assert recalls[-1] == 100.0 and 1.0 <= m["MdR"] <= sim.shape[1]


@settings(max_examples=100, deadline=None)
@given(_problems(ties=False), st.randoms(use_true_random=False))
def test_permuting_items_consistently_changes_nothing(problem, rnd):
    sim, gt = problem
    perm = list(range(sim.shape[1]))
    rnd.shuffle(perm)  # new column c holds old column perm[c]
    new_of_old = {old: new for new, old in enumerate(perm)}
    moved = metrics.retrieval_metrics(sim[:, perm], [{new_of_old[j] for j in g} for g in gt])
    assert moved == metrics.retrieval_metrics(sim, gt)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(0, 2**31 - 1))
def test_perfect_diagonal(n, seed):
    rng = np.random.default_rng(seed)
    sim = rng.uniform(-1, 1, (n, n))
    np.fill_diagonal(sim, 2.0)  # every query's own item scores strictly highest
    m = metrics.retrieval_metrics(sim, list(range(n)))
    assert m["R@1"] == 100.0 and m["MdR"] == 1.0 and m["MnR"] == 1.0
    both = metrics.bidirectional_retrieval(sim, np.arange(n))
    assert both["t2v"]["R@1"] == both["v2t"]["R@1"] == 100.0
