"""Fused search over every modality: candidates from each modality's top list, each one scored in
every requested modality, then fused (`avu.index.fusion`).

A query gives one vector per modality (a text query: the same MiniLM vector for `speech`,
`seen`, `heard` and `read`; a trained checkpoint's vector for `visual` / `audio` / `fused`).

1. Candidates: the best `per_modality` segments of each modality's column (approximate nearest
   neighbours at scale, `avu.store.ann`), plus for speech the best subtitle/ASR cues (a cue is
   a finer moment than its segment). The segment searches return row ids only; the union of
   what they found is read once (`take_rows`) with its vectors in every requested modality, so a
   candidate found through one modality is scored in all of them without a second search (at
   1M rows this took 10% off a fused query against fetching every column in each search); a cue
   is scored in the other modalities through the segments it overlaps (one look-up for all cues,
   the best cosine of those segments).
2. Each candidate's cosine per modality is calibrated and fused into one score in [0, 1]; a
   verbatim occurrence of a text query in the line said or the on-screen text adds the
   `phrase` evidence.

The searches of the different modalities run concurrently (LanceDB releases the GIL).
"""
from __future__ import annotations

import functools
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from avu.index.fusion import PHRASE, PHRASE_P, calibrate, fuse
from avu.store.ann import take_rows, vector_search
from avu.store.tables import _quote

BASE = ["video_id", "seg", "start", "end", "text", "event_scores"]
LABELS = ["read_text", "seen_json", "objects_json", "heard_json", "read_json"]  # read back for `explain`


@dataclass
class Moment:
    """A candidate: one segment (`seg`) or one cue (`idx`) of a video, with its cosines."""

    video_id: str
    start: float
    end: float
    text: str | None = None  # the line said (a cue) or the segment's text
    seg: int | None = None
    idx: int | None = None
    cos: dict = field(default_factory=dict)  # modality -> cosine, None where the moment has nothing
    read_text: str | None = None  # the on-screen lines of the moment
    events: dict | None = None  # the segment's event scores (segments only)
    perceived: list = field(default_factory=list)  # the perception columns of its segment(s), for `explain`
    phrase: bool = False  # the text query occurs verbatim in what is said or shown
    evidence: dict = field(default_factory=dict)  # modality -> calibrated probability (or None)
    score: float = 0.0


def candidates(k: int) -> int:
    """How many segments each modality's search returns for a fused top `k` (the union is rescored)."""
    return max(4 * k, 20)


def _unit(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float32).ravel()
    return q / max(float(np.linalg.norm(q)), 1e-12)


def segment_columns(store, modalities) -> list[str]:
    """The segment columns a candidate is read with: its keys, times and text, the vectors of the
    `modalities` and the perception labels that explain it."""
    return BASE + [f"{m}_emb" for m in modalities] + [c for c in LABELS if store.has_column(c)]


def segment_keys(store, modality: str, q: np.ndarray, n: int, where: str | None = None) -> list[dict]:
    """The `n` segments whose `modality` vector is nearest the unit query `q`: keys and row ids only.
    The rows are read once afterwards, whichever searches found them, and scored on their raw
    vectors there, so the ANN's own re-ranking on raw vectors is skipped."""
    return vector_search(store.segments, f"{modality}_emb", q, n, where=where, columns=["video_id", "seg"],
                         row_ids=True, refine=False)


def gather(store, vectors: dict, *, per_modality: int, where: str | None, verbatim: str | None = None,
           pool: ThreadPoolExecutor | None = None) -> list[Moment]:
    """Every candidate moment of the query `vectors` ({modality: vector}), scored in each modality."""
    vectors = {m: _unit(q) for m, q in vectors.items()}
    seg_cols = segment_columns(store, vectors)

    def seg_search(m):
        return segment_keys(store, m, vectors[m], per_modality, where)

    def cue_search():
        return vector_search(store.cues, "emb", vectors["speech"], per_modality, where=where,
                             columns=["video_id", "idx", "start", "end", "text", "emb"])

    calls = [functools.partial(seg_search, m) for m in vectors] + ([cue_search] if "speech" in vectors else [])
    results = [f.result() for f in [pool.submit(c) for c in calls]] if pool is not None else [c() for c in calls]
    found = [r["_rowid"] for rows in results[:len(vectors)] for r in rows]
    segs = take_rows(store.segments, found, seg_cols)
    cues = results[len(vectors)] if "speech" in vectors else []
    moments = _segment_moments(list(segs.values()), vectors)
    if cues:
        moments += _cue_moments(store, cues, vectors, seg_cols, where)
    if verbatim:
        needle = verbatim.lower()
        for mo in moments:
            mo.phrase = needle in (mo.text or "").lower() or needle in (mo.read_text or "").lower()
    return moments


def _cosines(rows: list[dict], column: str, q: np.ndarray) -> list[float | None]:
    """Each row's cosine between its `column` vector and the unit query `q` (None: no vector)."""
    have = [i for i, r in enumerate(rows) if r.get(column) is not None]
    out: list[float | None] = [None] * len(rows)
    if have:
        x = np.stack([rows[i][column] for i in have]).astype(np.float32, copy=False)
        norms = np.linalg.norm(x, axis=1)
        for i, c, n in zip(have, (x @ q).tolist(), norms.tolist()):
            out[i] = c / n if n > 0 else None
    return out


def _segment_moments(rows: list[dict], vectors: dict) -> list[Moment]:
    cos = {m: _cosines(rows, f"{m}_emb", q) for m, q in vectors.items()}
    return [Moment(r["video_id"], r["start"], r["end"], r.get("text"), seg=r["seg"], read_text=r.get("read_text"),
                   events=json.loads(r["event_scores"]) if r.get("event_scores") else None,
                   perceived=[{c: r[c] for c in LABELS if c in r and c != "read_text"}],
                   cos={m: cos[m][i] for m in vectors})
            for i, r in enumerate(rows)]


def _cue_moments(store, cues: list[dict], vectors: dict, seg_cols: list[str], where: str | None) -> list[Moment]:
    """Cue moments: speech from the cue itself, other modalities from the segments it overlaps."""
    others = {m: q for m, q in vectors.items() if m != "speech"}
    over: dict = {}
    if others:
        spans = " OR ".join(f"(video_id = {_quote(c['video_id'])} AND start < {float(c['end'])!r} "
                            f"AND `end` > {float(c['start'])!r})" for c in cues)
        sql = f"({spans})" + (f" AND ({where})" if where else "")
        for r in store.segments.search().where(sql).select(seg_cols).limit(None).to_list():
            over.setdefault(r["video_id"], []).append(r)
    rows = [r for video in over.values() for r in video]  # each segment scored once, however many cues it meets
    at = {id(r): i for i, r in enumerate(rows)}
    seg_cos = {m: _cosines(rows, f"{m}_emb", q) for m, q in others.items()}
    speech = _cosines(cues, "emb", vectors["speech"])
    out = []
    for c, said in zip(cues, speech):
        segs = [s for s in over.get(c["video_id"], []) if s["start"] < c["end"] and s["end"] > c["start"]]
        cos = {"speech": said}
        for m in others:
            vals = [x for x in (seg_cos[m][at[id(s)]] for s in segs) if x is not None]
            cos[m] = max(vals) if vals else None
        read = "\n".join(s["read_text"] for s in segs if s.get("read_text")) or None
        perceived = [{k: s[k] for k in LABELS if k in s and k != "read_text"} for s in segs]
        out.append(Moment(c["video_id"], c["start"], c["end"], c["text"], idx=c["idx"], cos=cos, read_text=read,
                          perceived=perceived))
    return out


def score(moments: list[Moment], modalities, weights: dict) -> list[Moment]:
    """Calibrate and fuse every moment's cosines (in place); returns the moments."""
    for mo in moments:
        mo.evidence = {m: calibrate(m, mo.cos.get(m)) for m in modalities}
        ev = dict(mo.evidence)
        if mo.phrase:
            ev[PHRASE] = PHRASE_P
        mo.score = fuse(ev, weights)
    return moments


__all__ = ["Moment", "candidates", "gather", "score", "segment_columns", "segment_keys"]
