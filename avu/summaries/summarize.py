"""Video summarization from what the index holds: segment importance, kernel shots, a knapsack.

`summarize(index, video, budget=0.15, query=None) -> Summary` works on an indexed video without
decoding it again:

1. **Features.** One row per segment from whatever the index stored: audio level (dBFS), motion,
   speech rate (words per second of its text), the event-score maximum, each standardized (a column
   that varies by less than its resolution, e.g. 1 dB, is not stretched into a signal); the speech,
   visual, audio, fused, seen, heard and read embeddings (L2-normalised, zeros where missing) and a
   64-bin colour histogram of the key frame (square-rooted, so also unit length).
2. **Shots.** Kernel change points over those rows with `ruptures.KernelCPD` (linear kernel by
   default, as KTS uses; rbf with the median heuristic on request), KTS-style: one dynamic programme
   gives the least within-shot scatter cost(m) for every m <= 200 change points, and m minimises
   cost(m) + s2 * D * (2 log(n/D) + 5), D = m + 1 shots: the penalty of Lebarbier (2005), used for
   kernel change points by Arlot, Celisse & Harchaoui (2019), with the noise s2 estimated from
   neighbouring segments (half the median squared step). KTS's own penalty, v m/(2n) (log(n/m) + 1)
   with v the per-segment variance, assumes many frames per shot: on 2 s segments it cut between
   every pair of manifesto segments (44 shots of 44). A shot longer than half the budget is split
   (at segment boundaries when they fit) so that no single shot can take the whole summary, but
   never into pieces shorter than `MIN_SHOT` (1 s): a shorter piece is a flash nobody can follow,
   and on speech a word cut in two. A shot shorter than that (a short last segment) is never
   selected, and a budget under `MIN_SHOT` is refused with the budget that would fit (a 5 s clip
   at 15% leaves 0.75 s: the summary used to be two 0.4 s slivers, on a spoken clip its silences).
3. **Importance** per segment, in [0, 1]: the mean of the available terms: representativeness (mean
   rbf similarity to every segment), diversity (1 - the highest similarity to a segment two or
   more shots away: content seen elsewhere is redundant), motion, speech rate, the strongest
   audio event, and what perception found (the mean of the strongest object on screen, the
   strongest non-background AudioSet sound, and on-screen text present). With `query=...`, 75%
   of it is the MiniLM cosine similarity of the query to the segment's text, overlapping subtitle
   lines and what is seen, heard and read there, divided by the video's best match.
4. **Selection.** An exact 0/1 knapsack over 0.1 s units (budget/100 under 10 s) maximises the
   total importance (mean score x seconds) of the chosen shots; each shot's length is rounded up to
   whole units, so the selected length never exceeds `budget` x duration.

`avu.summaries.render` turns a `Summary` into an mp4 or a contact sheet.
"""
from __future__ import annotations

import io
import json
import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.spatial.distance import cdist

from avu.media import Cue
from avu.metrics import knapsack_select
from avu.store.naming import find_video
from avu.store.tables import IndexStore

BUDGET = 0.15  # fraction of the duration, as in the TVSum / SumMe protocol
UNIT = 0.1  # knapsack resolution in seconds (finer for budgets under 10 s)
MAX_CHANGE_POINTS = 200  # bound of the model search: O(m n^2); 6.3 s for 3600 segments (2 h) here
QUERY_WEIGHT = 0.75  # share of a query-focused importance that comes from the query
SUMMARY_WORDS = 60  # the text summary keeps the best shots' lines up to about this many words
MIN_SHOT = 1.0  # seconds: the shortest piece a summary cuts (a whole video shorter than this is one piece)
# the smallest difference that means something, per scalar column (a column is divided by
# max(std, resolution)): 1 dB is about the just-noticeable loudness step; the static manifesto
# frame never moves more than 0.1 grey levels while the moving shared clips never fall below 4.5;
# one word in a 2 s window is 0.5 words/s
RESOLUTION = {"audio_db": 1.0, "motion": 1.0, "speech_rate": 0.5, "event": 0.05}
EMBEDDINGS = ("speech_emb", "visual_emb", "audio_emb", "fused_emb", "seen_emb", "heard_emb", "read_emb")
PERCEIVED_EMBEDDINGS = ("seen_emb", "heard_emb", "read_emb")  # also compared with a summary's query
BACKGROUND_SOUNDS = {"Silence", "White noise", "Pink noise", "Static", "Hum"}  # not content when heard


class BudgetTooShort(ValueError):
    """A budget under the shortest shot: `reason` says so without the path, `fits` is the smallest
    budget that holds a shot (`smallest_budget`)."""

    def __init__(self, path: str, budget: float, duration: float, fits: float):
        self.path, self.budget, self.duration, self.fits = path, budget, duration, fits
        shortest = min(MIN_SHOT, duration)
        self.reason = (f"{budget:.0%} of {duration:.1f} s is {budget * duration:.2f} s, shorter than the shortest "
                       f"shot a summary cuts ({shortest:g} s); a budget of {fits:g}"
                       f"{' or more' if fits < 1 else ''} fits one")
        super().__init__(f"{path}: {self.reason}")


@dataclass(frozen=True)
class Shot:
    """A run of segments between two change points, with its mean importance."""

    start: float
    end: float
    score: float
    selected: bool = False

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Summary:
    """The summary of one video: its shots (some selected), the lines said in them, a text."""

    video_id: str
    path: str
    duration: float
    budget_seconds: float
    shots: list[Shot]
    lines: list[Cue] = field(default_factory=list)
    text: str = ""
    importance: list[float] = field(default_factory=list)  # per segment, in index order
    query: str | None = None

    @property
    def selected(self) -> list[Shot]:
        return [s for s in self.shots if s.selected]

    @property
    def selected_seconds(self) -> float:
        return float(sum(s.duration for s in self.selected))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["selected_seconds"] = self.selected_seconds
        return d


# -- features and importance ------------------------------------------------------------------
def _words_per_second(row: dict) -> float:
    span = max(float(row["end"]) - float(row["start"]), 1e-6)
    return len((row.get("text") or "").split()) / span


def _event_max(row: dict) -> float | None:
    raw = row.get("event_scores")
    if not raw:
        return None
    scores = json.loads(raw) if isinstance(raw, str) else raw
    vals = [float(v) for v in scores.values() if v is not None]
    return max(vals) if vals else None


def _colour_histogram(jpeg: bytes | None) -> np.ndarray | None:
    if not jpeg:
        return None
    from PIL import Image

    px = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=np.int64) // 64
    hist = np.bincount((px[..., 0] * 16 + px[..., 1] * 4 + px[..., 2]).ravel(), minlength=64)
    return np.sqrt(hist / max(1, hist.sum()))


def _perceived(row: dict) -> float | None:
    """What perception found in a segment, in [0, 1]: the mean of the strongest object on screen,
    the strongest non-background sound, and 1 when text is on screen (of those it looked for)."""
    parts = []
    if row.get("objects_json") is not None:
        parts.append(max((float(o[1]) for o in json.loads(row["objects_json"])), default=0.0))
    if row.get("heard_json") is not None:
        parts.append(max((float(t[1]) for t in json.loads(row["heard_json"]) if t[0] not in BACKGROUND_SOUNDS),
                         default=0.0))
    if row.get("read_json") is not None:
        parts.append(1.0 if json.loads(row["read_json"]) else 0.0)
    return float(np.mean(parts)) if parts else None


def _scalars(rows: list[dict]) -> dict[str, list[float | None]]:
    return {"audio_db": [r.get("audio_db") for r in rows], "motion": [r.get("motion") for r in rows],
            "speech_rate": [_words_per_second(r) for r in rows], "event": [_event_max(r) for r in rows]}


def segment_features(rows: list[dict]) -> np.ndarray:
    """[n, d] features of the segment rows (see the module docstring); at least one column."""
    n = len(rows)
    blocks = []
    for name, values in _scalars(rows).items():
        present = np.array([v is not None for v in values])
        if not present.any():
            continue
        col = np.array([v if v is not None else np.nan for v in values], dtype=np.float64)
        col = np.where(present, col, np.nanmean(col))
        z = (col - col.mean()) / max(float(col.std()), RESOLUTION[name])
        if np.any(z != 0):
            blocks.append(z[:, None])
    vectors = {key: [r.get(key) for r in rows] for key in EMBEDDINGS}
    vectors["keyframe"] = [_colour_histogram(r.get("keyframe_jpeg")) for r in rows]
    for values in vectors.values():
        if all(v is None for v in values):
            continue
        dim = len(next(v for v in values if v is not None))
        m = np.zeros((n, dim))
        for i, v in enumerate(values):
            if v is not None:
                v = np.asarray(v, dtype=np.float64)
                m[i] = v / max(float(np.linalg.norm(v)), 1e-12)
        blocks.append(m)
    return np.hstack(blocks) if blocks else np.zeros((n, 1))


def _rbf(x: np.ndarray) -> np.ndarray:
    """Gaussian kernel with the median heuristic (as ruptures' rbf cost)."""
    d2 = cdist(x, x, "sqeuclidean")
    off = d2[~np.eye(len(x), dtype=bool)]
    med = float(np.median(off)) if off.size else 0.0
    return np.exp(-d2 / med) if med > 0 else np.ones_like(d2)


def importance_scores(rows: list[dict], features: np.ndarray, shot_of: np.ndarray) -> np.ndarray:
    """Generic importance in [0, 1] per segment: the mean of the terms this video supports."""
    n = len(rows)
    k = _rbf(features)
    terms = []
    rep = k.mean(axis=1)
    if np.ptp(rep) > 1e-9:
        terms.append((rep - rep.min()) / np.ptp(rep))
    far = np.abs(shot_of[:, None] - shot_of[None, :]) >= 2
    if far.any():
        terms.append(np.where(far.any(axis=1), 1.0 - np.where(far, k, 0.0).max(axis=1), 1.0))
    s = _scalars(rows)
    motion = np.array([v if v is not None else 0.0 for v in s["motion"]])
    if any(v is not None for v in s["motion"]):
        terms.append(motion / max(float(motion.max()), RESOLUTION["motion"]))
    rate = np.asarray(s["speech_rate"])
    if rate.max() > 0:
        terms.append(rate / rate.max())
    if any(v is not None for v in s["event"]):
        terms.append(np.clip([v or 0.0 for v in s["event"]], 0.0, 1.0))
    seen = [_perceived(r) for r in rows]
    if any(v is not None for v in seen) and np.ptp([v or 0.0 for v in seen]) > 1e-9:
        terms.append(np.clip([v or 0.0 for v in seen], 0.0, 1.0))
    return np.mean(terms, axis=0) if terms else np.full(n, 0.5)


def query_relevance(query: str, rows: list[dict], cues: list[dict]) -> np.ndarray:
    """Per segment: the best cosine similarity (clipped at 0) of the query to the segment's own text,
    a subtitle/ASR line overlapping it (MiniLM; texts without a stored embedding are embedded here),
    or what is seen, heard and read in it (the perception embeddings, same MiniLM space)."""
    from avu.models.text import load_minilm

    model = load_minilm()
    q = model.encode_text([query])[0].astype(np.float64)

    def sims(items: list[dict], key: str) -> np.ndarray:
        out = np.full(len(items), np.nan)
        todo = []
        for i, it in enumerate(items):
            if it.get(key) is not None:
                e = np.asarray(it[key], dtype=np.float64)
                out[i] = float(np.einsum("i,i->", e, q)) / max(float(np.linalg.norm(e)), 1e-12)
            elif it.get("text"):
                todo.append(i)
        if todo:
            out[todo] = np.einsum("ij,j->i", model.encode_text([items[i]["text"] for i in todo]).astype(np.float64), q)
        return out

    seg, cue = sims(rows, "speech_emb"), sims(cues, "emb")
    for key in PERCEIVED_EMBEDDINGS:
        seg = np.fmax(seg, sims([{key: r.get(key)} for r in rows], key))
    if np.all(np.isnan(seg)) and np.all(np.isnan(cue)):
        raise ValueError("a query-focused summary needs subtitles, speech or perception (seen, heard, read), "
                         "and this video has none")
    rel = np.nan_to_num(seg, nan=0.0)
    starts = np.array([float(r["start"]) for r in rows])
    seg_ends = np.array([float(r["end"]) for r in rows])
    for c, sim in zip(cues, cue):
        if np.isnan(sim):
            continue
        hit = (starts < float(c["end"])) & (seg_ends > float(c["start"]))
        rel[hit] = np.maximum(rel[hit], sim)
    return np.clip(rel, 0.0, None)


# -- shots ------------------------------------------------------------------------------------
def kernel_change_points(features: np.ndarray, *, kernel: str = "linear",
                         max_change_points: int = MAX_CHANGE_POINTS) -> list[int]:
    """Segment indices where a new shot starts (0 excluded), by KTS model selection over
    `ruptures.KernelCPD` (see the module docstring for the criterion)."""
    import ruptures

    x = np.asarray(features, dtype=np.float64)
    n = len(x)
    if kernel not in ("linear", "rbf"):
        raise ValueError(f"kernel must be 'linear' or 'rbf', got {kernel!r}")
    m_max = min(n - 1, max_change_points)
    if m_max < 1:
        return []
    algo = ruptures.KernelCPD(kernel=kernel, min_size=1).fit(x)
    algo.predict(n_bkps=m_max)  # one dynamic programme gives the best cuts for every m <= m_max
    cost0 = float(algo.cost.error(0, n))
    if cost0 <= 1e-12:
        return []
    # noise level: half the median squared step between neighbours in the kernel's feature space
    if kernel == "rbf":
        step = 2.0 - 2.0 * np.diagonal(algo.cost.gram, offset=1)
    else:
        step = np.square(np.diff(x, axis=0)).sum(axis=1)
    noise = float(np.median(step)) / 2

    def criterion(m: int, cost: float) -> float:
        d = m + 1  # shots
        return cost + noise * d * (2 * math.log(n / d) + 5)

    best_m, best = 0, criterion(0, cost0)
    for m in range(1, m_max + 1):
        j = criterion(m, float(algo.cost.sum_of_costs(algo.segmentations_dict[m])))
        if j < best - 1e-9 * cost0:
            best_m, best = m, j
    return [] if best_m == 0 else [int(b) for b in algo.segmentations_dict[best_m][:-1]]


def _split_long(spans: list[tuple[float, float]], limit: float, bounds: list[float], *,
                shortest: float = 0.0) -> list[tuple[float, float]]:
    """Split spans longer than `limit` into the fewest parts that fit, cut at segment boundaries
    (`bounds`) nearest to equal division when that works, else into equal parts (segments that are
    themselves longer than `limit`: a very short video or budget). No part is longer than `limit`.
    Where equal parts would be shorter than `shortest`, the parts are `limit` long and what is left
    over is a last, shorter part (`summarize` never selects a part under `shortest`): so any span
    longer than `limit` holds a part that a budget of at least `limit` can take."""
    out = []
    for a, b in spans:
        need = math.ceil((b - a) / limit - 1e-9) if limit > 0 else 1
        if need <= 1:
            out.append((a, b))
            continue
        inside = [c for c in bounds if a < c < b]
        edges = None
        for parts in range(need, len(inside) + 2):
            cut = sorted({min(inside, key=lambda c: abs(c - (a + (b - a) * k / parts))) for k in range(1, parts)})
            trial = [a, *cut, b]
            lengths = [y - x for x, y in zip(trial, trial[1:])]
            if len(cut) == parts - 1 and all(shortest - 1e-9 <= n <= limit + 1e-9 for n in lengths):
                edges = trial
                break
        if edges is None and (b - a) / need >= shortest - 1e-9:
            edges = [a + (b - a) * k / need for k in range(need)] + [b]
        elif edges is None:  # equal parts would be under `shortest`: parts of `limit`, then the rest
            edges = [a + limit * k for k in range(math.floor((b - a) / limit + 1e-9) + 1)]
            edges += [b] if b - edges[-1] > 1e-9 else []
        out.extend(zip(edges[:-1], edges[1:]))
    return out


def _span_score(a: float, b: float, starts: np.ndarray, ends: np.ndarray, imp: np.ndarray) -> float:
    w = np.clip(np.minimum(ends, b) - np.maximum(starts, a), 0.0, None)
    return float((w * imp).sum() / w.sum()) if w.sum() > 0 else 0.0


# -- summary ----------------------------------------------------------------------------------
def smallest_budget(duration: float) -> float:
    """The smallest budget (a fraction of `duration`, in whole percent) whose summary holds a shot:
    one `MIN_SHOT` piece (a budget of at least that is never split finer), or a video shorter than
    `MIN_SHOT` whole (1.0)."""
    if not duration > 0:
        raise ValueError(f"duration must be positive, got {duration}")
    return min(1.0, math.ceil(100 * min(MIN_SHOT, duration) / duration - 1e-9) / 100)


def _store(store_or_index_uri) -> IndexStore:
    if isinstance(store_or_index_uri, IndexStore):
        return store_or_index_uri
    inner = getattr(store_or_index_uri, "store", None)
    return inner if isinstance(inner, IndexStore) else IndexStore(store_or_index_uri)


def _lines_in(shots: list[Shot], cues: list[Cue]) -> list[Cue]:
    return [c for c in cues if any(s.start <= (c.start + c.end) / 2 < s.end or
                                   (s.start <= c.start and c.end <= s.end) for s in shots)]


def summary_text(shots: list[Shot], lines: list[Cue], *, max_words: int = SUMMARY_WORDS) -> str:
    """The lines of the best-scoring selected shots (up to about `max_words`), in time order; one
    sentence per shot."""
    chosen, words = [], 0
    for s in sorted(shots, key=lambda s: -s.score):
        said = " ".join(c.text.strip() for c in _lines_in([s], lines) if c.text.strip())
        if said and (not chosen or words + len(said.split()) <= max_words):
            chosen.append((s.start, said))
            words += len(said.split())
    out = []
    for _, said in sorted(chosen):
        said = said[0].upper() + said[1:]
        out.append(said if said[-1] in ".!?" else said.rstrip(",;:-– ") + ".")  # "die," ends "die."
    return " ".join(out)


def summarize(store_or_index_uri, video: str | os.PathLike, *, budget: float = BUDGET,
              query: str | None = None, kernel: str = "linear") -> Summary:
    """Summarize an indexed video (id or path) in at most `budget` x its duration; see the module doc."""
    if not (0 < budget <= 1):
        raise ValueError(f"budget must be a fraction of the duration in (0, 1], got {budget}")
    if query is not None and not query.strip():
        raise ValueError("query must be non-empty text")
    store = _store(store_or_index_uri)
    vrow = find_video(store, video)
    rows = store.segment_rows(vrow["video_id"])
    if not rows:
        raise ValueError(f"{vrow['path']}: no segments in the index")
    cue_rows = store.cue_rows(vrow["video_id"])
    starts = np.array([float(r["start"]) for r in rows])
    duration = max(float(vrow.get("duration") or 0.0), float(rows[-1]["end"]))
    ends = np.append(starts[1:], duration)  # each segment owns the time up to the next one
    budget_seconds = budget * duration
    shortest = min(MIN_SHOT, duration)
    if budget_seconds < shortest - 1e-9:
        raise BudgetTooShort(vrow["path"], budget, duration, smallest_budget(duration))

    x = segment_features(rows)
    first = [0, *kernel_change_points(x, kernel=kernel)]
    edges = [0.0 if i == 0 else float(starts[i]) for i in first] + [duration]
    spans = _split_long(list(zip(edges[:-1], edges[1:])), max(budget_seconds / 2, shortest),
                        [float(s) for s in starts], shortest=shortest)
    shot_of = np.searchsorted([a for a, _ in spans], starts, side="right") - 1
    imp = importance_scores(rows, x, shot_of)
    if query is not None:
        rel = query_relevance(query.strip(), rows, cue_rows)
        imp = (1 - QUERY_WEIGHT) * imp + QUERY_WEIGHT * (rel / rel.max() if rel.max() > 0 else rel)

    scores = [_span_score(a, b, starts, ends, imp) for a, b in spans]
    unit = min(UNIT, budget_seconds / 100)  # rounding each shot up costs < 1% of the budget
    cap = int(math.floor(budget_seconds / unit + 1e-9))
    weights = [math.ceil((b - a) / unit - 1e-9) if b - a >= shortest - 1e-9 else cap + 1  # too short: never taken
               for a, b in spans]  # rounded up: never over budget
    chosen = set(knapsack_select([s * (b - a) for s, (a, b) in zip(scores, spans)], weights, cap))
    shots = [Shot(a, b, sc, i in chosen) for i, ((a, b), sc) in enumerate(zip(spans, scores))]

    cues = [Cue(float(c["start"]), float(c["end"]), c["text"]) for c in cue_rows if c.get("text")]
    if not cues:  # no cue table: fall back to the segments' own text
        cues = [Cue(float(r["start"]), float(r["end"]), r["text"]) for r in rows if r.get("text")]
    selected = [s for s in shots if s.selected]
    lines = _lines_in(selected, cues)
    return Summary(video_id=vrow["video_id"], path=vrow["path"], duration=duration,
                   budget_seconds=budget_seconds, shots=shots, lines=lines,
                   text=summary_text(selected, lines), importance=[float(v) for v in imp],
                   query=query)


