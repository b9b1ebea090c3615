"""Summarization: the exact knapsack, kernel shots, the TVSum/SumMe metrics, Otani et al.'s human
baseline on the real TVSum annotations, and summaries of an index built from the shared clips
(budget, coverage, spoken lines, query focus, contact sheet, rendered mp4, the commands)."""
from __future__ import annotations

import importlib
import itertools
import json
import math

import h5py
import numpy as np
import pytest
from PIL import Image
from scipy import stats
from typer.testing import CliRunner

from avu import metrics
from avu.cli import app as avu_app
from avu.store.tables import IndexStore

S = importlib.import_module("avu.summaries.summarize")  # the module (the package exports the function)
R = importlib.import_module("avu.summaries.render")


# -- knapsack -------------------------------------------------------------------------------------
def _brute_force(values, weights, capacity) -> float:
    best = 0.0
    for r in range(len(values) + 1):
        for subset in itertools.combinations(range(len(values)), r):
            if sum(weights[i] for i in subset) <= capacity:
                best = max(best, sum(values[i] for i in subset))
    return best


def test_knapsack_is_exact_on_random_instances():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 10))
        values = list(rng.uniform(-0.2, 1.0, n))
        weights = [int(w) for w in rng.integers(0, 12, n)]
        capacity = int(rng.integers(0, 30))
        chosen = metrics.knapsack_select(values, weights, capacity)
        assert chosen == sorted(set(chosen))
        assert sum(weights[i] for i in chosen) <= capacity
        assert sum(values[i] for i in chosen) == pytest.approx(_brute_force(values, weights, capacity), abs=1e-9)


def test_knapsack_edges_and_validation():
    assert metrics.knapsack_select([], [], 5) == []
    assert metrics.knapsack_select([1.0, 2.0], [3, 4], 0) == []
    assert metrics.knapsack_select([1.0, 2.0], [3, 4], 4) == [1]
    assert metrics.knapsack_select([5.0, 0.0, -1.0], [1, 1, 1], 3) == [0]  # never takes worthless items
    with pytest.raises(ValueError):
        metrics.knapsack_select([1.0], [1.5], 3)
    with pytest.raises(ValueError):
        metrics.knapsack_select([1.0, 2.0], [1], 3)


def test_summary_from_scores_follows_the_protocol():
    scores = [0.1] * 10 + [0.9] * 5 + [0.2] * 5  # three shots; 15% of 20 frames = 3 frames
    assert metrics.summary_from_scores(scores, [10, 15]).sum() == 0  # no shot is that short
    picked = metrics.summary_from_scores(scores, [10, 15], budget=0.3)  # 6 frames: the 5-frame shot
    assert picked.tolist() == [0] * 10 + [1] * 5 + [0] * 5


# -- shots ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_change_points_recovered_on_piecewise_constant_features(kernel):
    lengths = [10, 15, 8, 12]
    for seed in range(10):
        rng = np.random.default_rng(seed)
        means = rng.normal(size=(4, 5)) * 2
        clean = np.vstack([np.repeat(means[i:i + 1], n, axis=0) for i, n in enumerate(lengths)])
        noisy = clean + rng.normal(size=clean.shape) * 0.2
        for x in (clean, noisy):
            assert S.kernel_change_points(x, kernel=kernel) == [10, 25, 33]
        assert S.kernel_change_points(rng.normal(size=(60, 5)), kernel=kernel) == []  # noise: one shot
    assert S.kernel_change_points(np.zeros((1, 3)), kernel=kernel) == []


def test_long_shots_split_at_segment_boundaries():
    bounds = [float(t) for t in range(0, 20, 2)]
    parts = S._split_long([(0.0, 20.0)], 7.0, bounds)
    assert parts[0][0] == 0.0 and parts[-1][1] == 20.0 and all(b - a <= 7.0 for a, b in parts)
    assert all(a in bounds for a, _ in parts) and len(parts) == 4  # 3 parts cannot cut at 2 s steps
    assert S._split_long([(0.0, 6.0), (6.0, 8.0)], 7.0, bounds) == [(0.0, 6.0), (6.0, 8.0)]
    assert S._split_long([(0.0, 2.0)], 0.5, [0.0]) == [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0)]
    # never over the limit, and equal parts only when they are not under `shortest`: 2.5 s under a
    # 1.2 s limit would be three 0.83 s parts, so 1.2 s parts and what is left (never selected)
    assert np.allclose(S._split_long([(0.0, 2.5)], 1.2, [0.0], shortest=1.0), [(0.0, 1.2), (1.2, 2.4), (2.4, 2.5)])
    assert np.allclose(S._split_long([(0.0, 3.3)], 1.2, [0.0], shortest=1.0), [(0.0, 1.1), (1.1, 2.2), (2.2, 3.3)])
    assert S._split_long([(0.0, 1.5)], 1.0, [0.0], shortest=1.0) == [(0.0, 1.0), (1.0, 1.5)]
    # cuts at segment boundaries only where every part is long enough: 6-6.2 would not be
    assert S._split_long([(0.0, 6.2)], 6.0, [0.0, 6.0], shortest=1.0) == [(0.0, 3.1), (3.1, 6.2)]
    assert S._split_long([(0.0, 6.5)], 6.0, [0.0, 2.0, 4.0, 6.0], shortest=1.0) == [(0.0, 4.0), (4.0, 6.5)]


def _short_clips(folder, durations) -> IndexStore:
    """An index of videos of these durations in 2 s segments (loudness varies, nothing else)."""
    import pyarrow as pa

    from avu.store.tables import SEGMENTS

    store = IndexStore(str(folder), create=True)
    segs = [{"video_id": f"v{i}", "seg": j, "start": 2.0 * j, "end": min(2.0 * j + 2.0, d), "audio_db": -20.0 - 5 * j}
            for i, d in enumerate(durations) for j in range(math.ceil(d / 2))]
    store.segments.add(pa.Table.from_pylist([{f.name: r.get(f.name) for f in SEGMENTS} for r in segs], schema=SEGMENTS))
    videos = [{"video_id": f"v{i}", "path": f"/clips/v{i}.mp4", "status": "done", "duration": d}
              for i, d in enumerate(durations)]
    store.videos.add(pa.Table.from_pylist([{f.name: v.get(f.name) for f in store.videos.schema} for v in videos],
                                          schema=store.videos.schema))
    return store


def test_smallest_budget_holds_one_shortest_shot(tmp_path):
    for duration, want in ((5.3, 0.19), (6.0, 0.17), (100.0, 0.01), (0.5, 1.0), (6.6667, 0.15), (1.54, 0.65)):
        got = S.smallest_budget(duration)
        assert got == want and got * duration >= min(S.MIN_SHOT, duration) - 1e-9, duration
    with pytest.raises(ValueError, match="positive"):
        S.smallest_budget(0.0)
    durations = (0.6, 1.0, 1.2, 1.54, 2.0, 2.5, 2.95, 3.0, 4.1, 5.3, 6.0, 6.7)
    store = _short_clips(tmp_path / "idx", durations)
    for i, d in enumerate(durations):  # at that budget a summary selects a shot, and none under 1 s
        budget = S.smallest_budget(d)
        s = S.summarize(store, f"v{i}", budget=budget)
        assert s.selected and all(x.duration >= min(S.MIN_SHOT, d) - 1e-9 for x in s.selected), (d, s.shots)
        assert s.selected_seconds <= s.budget_seconds + 1e-9 and s.shots[-1].end == pytest.approx(d)
        if budget > 0.01:  # a point less is refused, naming the budget that fits
            with pytest.raises(S.BudgetTooShort, match=f"a budget of {budget:g}{' or more' * (budget < 1)} fits one"):
                S.summarize(store, f"v{i}", budget=budget - 0.01)


def test_summary_text_ends_each_sentence_once():
    from avu.media import Cue

    shots = [S.Shot(0.0, 2.0, 0.9, True), S.Shot(2.0, 4.0, 0.5, True)]
    lines = [Cue(0.0, 1.0, "beauty's rose might never die,"), Cue(2.5, 3.5, "and so it ends!")]
    assert S.summary_text(shots, lines) == "Beauty's rose might never die. And so it ends!"


# -- F-score and rank correlation -------------------------------------------------------------------
def test_f_score_hand_cases():
    assert metrics.overlap_f_score([1, 1, 0, 0], [0, 1, 1, 0]) == (0.5, 0.5, 0.5)
    p, r, f = metrics.overlap_f_score([1, 1, 1, 1], [1, 0, 0, 0])
    assert (p, r) == (0.25, 1.0) and f == pytest.approx(0.4)
    assert metrics.overlap_f_score([0, 0], [1, 1]) == (0.0, 0.0, 0.0)
    users = [[1, 1, 0, 0], [0, 0, 1, 1]]
    assert metrics.summary_f_score([1, 1, 0, 0], users, aggregate="avg") == 0.5  # TVSum: mean of 1 and 0
    assert metrics.summary_f_score([1, 1, 0, 0], users, aggregate="max") == 1.0  # SumMe: the best user
    with pytest.raises(ValueError):
        metrics.summary_f_score([1, 0], users)


def test_rank_correlation_hand_cases():
    assert metrics.kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert metrics.spearman_rho([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # 4 concordant and 2 discordant pairs of 6: tau = 1/3; rho = 1 - 6 * (1+1+1+1) / (4 * 15) = 0.6
    assert metrics.kendall_tau([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(1 / 3)
    assert metrics.spearman_rho([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(0.6)
    r = metrics.rank_correlation([1, 2, 3, 4], [[1, 2, 3, 4], [4, 3, 2, 1]])
    assert r["kendall_tau"] == pytest.approx(0.0) and r["spearman_rho"] == pytest.approx(0.0)
    with pytest.raises(ValueError):
        metrics.rank_correlation([1, 2, 3], [[1, 2, 3, 4]])
    assert metrics.to_frames([1.0, 2.0], 5).tolist() == [1.0, 1.0, 1.0, 2.0, 2.0]


def test_kendall_tau_table_matches_scipy_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(2, 80))
        a, b = rng.integers(1, 6, n), rng.integers(0, int(rng.integers(1, 4)), n)
        ours, ref = metrics.kendall_tau(a, b), stats.kendalltau(a, b).statistic
        assert (np.isnan(ours) and np.isnan(ref)) or ours == pytest.approx(ref, abs=1e-12)
    x, y = rng.normal(size=500), rng.normal(size=500)  # many levels: scipy's path
    assert metrics.kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)


# -- TVSum ----------------------------------------------------------------------------------------
def _write_tvsum_like(path, videos) -> None:
    """A file in the layout of ydata-tvsum50.mat: group tvsum50, fields [N, 1] of object references."""
    def put(f, name, data):
        return f.create_dataset(f"#refs#/{name}", data=data).ref

    with h5py.File(path, "w") as f:
        g = f.create_group("tvsum50")
        fields = {k: [] for k in ("video", "category", "title", "length", "nframes", "user_anno", "gt_score")}
        for i, (vid, anno) in enumerate(videos):
            anno = np.asarray(anno, dtype=np.float64)
            code = lambda s: np.array([[ord(c)] for c in s], dtype=np.uint16)  # noqa: E731
            fields["video"].append(put(f, f"v{i}", code(vid)))
            fields["category"].append(put(f, f"c{i}", code("VT")))
            fields["title"].append(put(f, f"t{i}", code("title")))
            fields["length"].append(put(f, f"l{i}", np.array([[anno.shape[1] / 30.0]])))
            fields["nframes"].append(put(f, f"n{i}", np.array([[float(anno.shape[1])]])))
            fields["user_anno"].append(put(f, f"u{i}", anno))
            fields["gt_score"].append(put(f, f"g{i}", anno.mean(axis=0)[None, :]))
        for k, refs in fields.items():
            g.create_dataset(k, data=np.array(refs, dtype=h5py.ref_dtype).reshape(-1, 1))


def test_tvsum_loader_and_leave_one_out_on_a_small_file(tmp_path):
    anno = [[1, 2, 3, 4, 5, 5], [1, 2, 3, 4, 5, 5], [5, 5, 4, 3, 2, 1]]  # two agree, one reverses
    _write_tvsum_like(tmp_path / "tiny.mat", [("abc", anno)])
    (v,) = metrics.load_tvsum(tmp_path / "tiny.mat")
    assert (v.video, v.category, v.nframes, v.user_anno.shape) == ("abc", "VT", 6, (3, 6))
    r = metrics.tvsum_human_leave_one_out(tmp_path / "tiny.mat")
    tau_rev = stats.kendalltau(anno[0], anno[2]).statistic
    rho_rev = stats.spearmanr(anno[0], anno[2]).statistic
    # 6 ordered pairs: 2 of (1, 1) and 4 of the reversed value
    assert r["kendall_tau"] == pytest.approx((2 + 4 * tau_rev) / 6)
    assert r["spearman_rho"] == pytest.approx((2 + 4 * rho_rev) / 6)


@pytest.mark.shared
def test_tvsum_human_leave_one_out_reproduces_otani_2019(shared_data):
    """The paper prints three decimals (.177, .204), so the same procedure on the same file must
    agree to within half a unit of the third decimal."""
    r = metrics.tvsum_human_leave_one_out(shared_data / "annotations" / "tvsum" / "ydata-tvsum50.mat")
    assert r["videos"] == 50 and r["annotators"] == 20
    assert abs(r["kendall_tau"] - 0.177) <= 0.0005, r["kendall_tau"]
    assert abs(r["spearman_rho"] - 0.204) <= 0.0005, r["spearman_rho"]
    assert all(p["annotators"] == 20 for p in r["per_video"])


# -- summaries of a real index ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def index(shared_data, tmp_path_factory):
    from tests._perceived_index import perceived_index

    return IndexStore(perceived_index(shared_data, tmp_path_factory))  # the session's index of the shared clips


def _manifesto_cues(shared_data):
    from avu.media import read_subtitles

    return read_subtitles(shared_data / "video" / "manifesto.srt")


@pytest.mark.shared
def test_summaries_respect_the_budget_and_cover_the_video(index):
    videos = index.video_rows("status = 'done'")
    assert len(videos) == 7  # the six shared clips and the session's title card (no audio, no speech)
    refused = 0
    for v in videos:
        budget = 0.15
        if budget * v["duration"] < S.MIN_SHOT:  # a 5 s clip: 0.75 s would be slivers
            with pytest.raises(ValueError, match=r"shorter than the shortest shot a summary cuts \(1 s\); a budget"):
                S.summarize(index, v["video_id"])
            refused += 1
            budget = math.ceil(100 * S.MIN_SHOT / v["duration"]) / 100  # the budget the message names
        s = S.summarize(index, v["video_id"], budget=budget)
        n = len(index.segment_rows(v["video_id"], columns=["start"]))
        assert s.duration == pytest.approx(v["duration"], abs=1e-6)
        assert s.budget_seconds == pytest.approx(budget * s.duration)
        assert 0 < s.selected_seconds <= s.budget_seconds + 1e-9, v["path"]
        assert all(sh.duration >= S.MIN_SHOT - 1e-9 for sh in s.selected), (v["path"], s.selected)
        assert s.shots[0].start == 0.0 and s.shots[-1].end == pytest.approx(s.duration)
        assert all(a.end == b.start for a, b in zip(s.shots, s.shots[1:])), "gap or overlap between shots"
        assert all(0.0 <= x <= 1.0 for x in s.importance) and len(s.importance) == n
        assert all(0.0 <= sh.score <= 1.0 for sh in s.shots)
        half = S.summarize(index, v["video_id"], budget=2 * budget)
        assert s.selected_seconds <= half.selected_seconds <= half.budget_seconds + 1e-9
    assert refused >= 1  # the shared 5 s clips


@pytest.mark.shared
def test_manifesto_summary_has_spoken_lines(index, shared_data):
    s = S.summarize(index, str(shared_data / "video" / "manifesto.mp4"))  # a path, not an id
    assert s.lines and s.text
    said = {c.text for c in _manifesto_cues(shared_data)}
    assert all(c.text in said for c in s.lines)
    assert [c.start for c in s.lines] == sorted(c.start for c in s.lines)
    for c in s.lines:
        assert any(sh.start <= (c.start + c.end) / 2 < sh.end or sh.start <= c.start and c.end <= sh.end
                   for sh in s.selected)
    assert S.summarize(index, s.video_id) == s  # by id: the same summary (deterministic)
    assert S.summarize(index, "manifesto.mp4") == s  # by file name


@pytest.mark.shared
@pytest.mark.parametrize("phrase", ["a spectre is haunting europe", "workers of the world unite",
                                    "french german italian flemish and danish"])
def test_query_focused_summary_selects_the_line(index, shared_data, phrase):
    (cue,) = [c for c in _manifesto_cues(shared_data) if phrase in c.text or c.text in phrase]
    s = S.summarize(index, "manifesto.mp4", query=phrase)
    mid = (cue.start + cue.end) / 2
    (shot,) = [sh for sh in s.shots if sh.start <= mid < sh.end]
    assert shot.selected, (phrase, shot, s.selected)
    assert cue.text in {c.text for c in s.lines}
    assert s.selected_seconds <= s.budget_seconds + 1e-9


@pytest.mark.shared
def test_contact_sheet_and_rendered_video(index, tmp_path):
    from avu.media import probe

    for name in ("manifesto.mp4", "tears_of_steel_battle.webm"):
        s = S.summarize(index, name)
        png = R.contact_sheet(s, tmp_path / f"{name}.png", index.segment_rows(s.video_id))
        with Image.open(png) as im:
            assert im.format == "PNG" and im.width >= 160 and im.height >= 90
        mp4 = R.render_summary_video(s, tmp_path / f"{name}.mp4")
        info = probe(mp4)
        assert info.has_video and info.has_audio
        assert abs(info.duration - s.selected_seconds) <= 0.5, (info.duration, s.selected_seconds)


@pytest.mark.shared
def test_bad_requests_are_clear(index):
    with pytest.raises(ValueError, match="no done video 'nothere.mp4'"):
        S.summarize(index, "nothere.mp4")
    with pytest.raises(ValueError, match="budget"):
        S.summarize(index, "manifesto.mp4", budget=1.5)
    focused = S.summarize(index, "flower.webm", query="a flower", budget=0.3)  # no speech: what is seen answers
    assert 0 < focused.selected_seconds <= 0.3 * focused.duration + 1e-6


@pytest.mark.shared
def test_commands(index, tmp_path):
    app = avu_app
    runner = CliRunner()
    r = runner.invoke(app, ["summarize", str(index.uri), "manifesto.mp4", "--json", "--sheet", str(tmp_path / "s.png")])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["selected_seconds"] <= out["budget_seconds"] and out["lines"] and (tmp_path / "s.png").is_file()
    r = runner.invoke(app, ["summarize", str(index.uri), "manifesto.mp4", "--query", "workers of the world unite"])
    assert r.exit_code == 0 and "workers of the world unite" in r.stdout and "00:00:" in r.stdout
    for args in (["summarize", str(tmp_path / "none"), "x.mp4"], ["summarize", str(index.uri), "nothere.mp4"],
                 ["summarize", str(index.uri), "manifesto.mp4", "--budget", "0"],
                 ["eval", "tvsum-human", "--mat", str(tmp_path / "none.mat")]):
        r = runner.invoke(app, args)
        assert r.exit_code == 1 and r.stderr.startswith("error:") and r.stderr.count("\n") == 1, (args, r.stderr)
        assert "Traceback" not in r.output
    r = runner.invoke(app, ["eval", "tvsum-human", "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["paper"] == {"kendall_tau": 0.177, "spearman_rho": 0.204}
    assert round(got["kendall_tau"], 3) == 0.177 and round(got["spearman_rho"], 3) == 0.204
