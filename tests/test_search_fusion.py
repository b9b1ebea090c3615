"""The search fusion rule (`avu.index.fusion`) and fused candidate scoring (`avu.index.fused`) on
small hand-made indexes: weights honoured, every candidate scored in every modality, scores in [0, 1]."""
from __future__ import annotations

import math

import numpy as np
import pytest

from avu.index import fusion
from avu.index.fused import gather, score
from avu.store import IndexStore

DIM = 384


def test_calibration_is_a_monotone_map_to_probabilities():
    for m in ("speech", "seen", "heard", "read"):
        fit = fusion.CALIBRATION["modalities"][m]
        assert fit["a"] > 0 and 0.5 < fit["auc"] <= 1.0, m  # higher cosine, likelier match; measured separation
        xs = [fusion.calibrate(m, c) for c in np.linspace(-1, 1, 41)]
        assert all(0.0 <= x <= 1.0 for x in xs) and xs == sorted(xs), m
        assert fusion.calibrate(m, fit["b"]) == pytest.approx(0.5)
    assert fusion.calibrate("speech", None) is None and fusion.calibrate("seen", float("nan")) is None
    assert fusion.calibrate("visual", 0.7) == pytest.approx(0.7) and fusion.calibrate("visual", -0.2) == 0.0


def test_fuse_is_a_weighted_noisy_or_in_0_1():
    assert fusion.fuse({"speech": 0.5, "seen": 0.5}) == pytest.approx(0.75)
    assert fusion.fuse({"speech": 0.6, "seen": None}) == pytest.approx(0.6)  # nothing there: no evidence
    assert fusion.fuse({"speech": 0.6, "seen": 0.9}, {"seen": 0.0}) == pytest.approx(0.6)  # weight 0: left out
    assert fusion.fuse({"speech": 0.5}, {"speech": 2.0}) == pytest.approx(0.75)  # weight 2: counted twice
    assert fusion.fuse({}) == 0.0 and fusion.fuse({"speech": 1.0, "seen": 0.2}) == 1.0
    rng = np.random.default_rng(0)
    for _ in range(200):  # phrase evidence included: never past 1
        ev = {m: float(p) for m, p in zip(("speech", "seen", "heard", "read", "phrase"), rng.random(5))}
        w = {m: float(x) for m, x in zip(ev, rng.random(5) * 3)}
        assert 0.0 <= fusion.fuse(ev, w) <= 1.0
    # raising one modality's weight never lowers a moment that has evidence there
    base = {"speech": 0.3, "heard": 0.7}
    assert fusion.fuse(base, {"heard": 2.0}) > fusion.fuse(base) > fusion.fuse(base, {"heard": 0.5})
    with pytest.raises(ValueError):
        fusion.fuse({"speech": 1.5})
    with pytest.raises(ValueError, match="unknown"):
        fusion.check_weights({"smell": 1.0}, ["speech"])
    with pytest.raises(ValueError, match=">= 0"):
        fusion.check_weights({"speech": -1.0}, ["speech"])
    with pytest.raises(ValueError, match="weight 0"):
        fusion.check_weights({"speech": 0, "seen": 0}, ["speech", "seen"])


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def _axis(i: int, other: int | None = None, mix: float = 0.0) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[i] = 1.0
    if other is not None:
        v[other] = mix
    return _unit(v)


@pytest.fixture()
def store(tmp_path):
    """Three segments: one matches the query only in `seen`, one only in `speech`, one in both,
    and a fourth that no modality's top-1 list holds but that is close in every modality."""
    s = IndexStore(tmp_path / "idx", create=True)
    q = _axis(0)
    far = _axis(5)
    rows = []
    for seg, (speech, seen, heard, read) in enumerate([
            (far, q, far, None),  # seen only
            (q, far, far, None),  # speech only
            (_axis(0, 5, 0.3), _axis(0, 5, 0.3), far, None),  # both, a little less close
            (_axis(0, 5, 1.0), _axis(0, 5, 1.0), _axis(0, 5, 1.0), _axis(0, 5, 1.0))]):  # middling in all four
        rows.append({"video_id": "v", "seg": seg, "start": 2.0 * seg, "end": 2.0 * seg + 2.0,
                     "text": f"line {seg}", "speech_emb": speech, "seen_emb": seen, "heard_emb": heard,
                     "read_emb": read, "read_text": "SUMMER SALE" if seg == 3 else None})
    s.write_video({"video_id": "v", "path": "/x/v.mp4", "duration": 8.0}, rows)
    return s


def test_every_candidate_is_scored_in_every_modality(store):
    q = _axis(0)
    vectors = {m: q for m in ("speech", "seen", "heard", "read")}
    moments = gather(store, vectors, per_modality=1, where=None)  # top-1 of each modality only
    segs = {m.seg: m for m in moments if m.seg is not None}
    assert set(segs) == {0, 1, 3}  # seg 2 is in no top-1 list; seg 3 is read's only vector
    for mo in segs.values():
        assert set(mo.cos) == {"speech", "seen", "heard", "read"}
        assert mo.cos["speech"] is not None and mo.cos["seen"] is not None and mo.cos["heard"] is not None
    assert segs[0].cos["seen"] == pytest.approx(1.0) and segs[0].cos["speech"] == pytest.approx(0.0, abs=1e-6)
    assert segs[1].cos["speech"] == pytest.approx(1.0) and segs[1].cos["seen"] == pytest.approx(0.0, abs=1e-6)
    assert segs[0].cos["read"] is None  # nothing on screen there
    score(moments, ("speech", "seen", "heard", "read"), {})
    assert all(0.0 <= m.score <= 1.0 for m in moments)


def test_weights_move_the_ranking(store):
    q = _axis(0)
    vectors = {m: q for m in ("speech", "seen")}
    ranked = lambda w: [m.seg for m in sorted(score(gather(store, vectors, per_modality=4, where=None),  # noqa: E731
                                                     ("speech", "seen"), w), key=lambda m: -m.score)
                        if m.seg is not None]
    assert ranked({"speech": 1.0, "seen": 0.0})[0] == 1
    assert ranked({"speech": 0.0, "seen": 1.0})[0] == 0
    both = score(gather(store, vectors, per_modality=4, where=None), ("speech", "seen"), {})
    by_seg = {m.seg: m for m in both if m.seg is not None}
    # agreement: seg 2 is a little less close than 0 and 1 in their own modality but matches in both
    assert by_seg[2].score >= max(by_seg[2].evidence.values())


def test_verbatim_text_on_screen_is_phrase_evidence(store):
    q = _axis(0)
    moments = score(gather(store, {"read": q}, per_modality=4, where=None, verbatim="summer sale"), ("read",), {})
    (mo,) = [m for m in moments if m.seg == 3]
    assert mo.phrase and mo.score == pytest.approx(fusion.fuse({"read": mo.evidence["read"], "phrase": 0.5}))
    assert mo.score <= 1.0 and not math.isnan(mo.score)
