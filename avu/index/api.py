"""The Python API for video queries: `open_index(DIR) -> Index`, `Index.search(...) -> [Hit]`.

A query is text, or a `(video, start, end)` clip. Text is embedded with MiniLM and matched
against what is said (segment text and individual subtitle/ASR cues), plus exact phrase matches.
Image and audio queries need trained visual / audio encoders; an index built without them says so
instead of returning meaningless hits.

Scores: each modality's score is a cosine similarity in [-1, 1]; an exact phrase match adds
`PHRASE_BONUS`; `Hit.score` is the weighted sum over modalities divided by the weights used, so a
score means the same thing for every query (see the README's calibration note: on the manifesto,
a paraphrase of a line scores about 0.5-0.8 against its line and below 0.4 against other lines).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from avu.store.tables import IndexStore, _quote
from avu.media import Cue

PHRASE_BONUS = 0.25  # added to the speech score when the query occurs verbatim in the line
SPEECH_MODALITIES = ("speech",)
ALL_MODALITIES = ("speech", "visual", "audio", "fused")


@dataclass(frozen=True)
class Hit:
    """One moment of one video that answers a query."""

    video_id: str
    path: str
    start: float  # seconds
    end: float  # seconds
    score: float  # weighted mean of the modality scores (plus a phrase bonus)
    scores_by_modality: dict = field(default_factory=dict)  # e.g. {"speech": 0.71, "phrase": 0.25}
    subtitle: str | None = None  # the line said at that moment, when there is one
    events: dict | None = None  # event scores of the segment, once event detection has run

    def __post_init__(self):
        if not (math.isfinite(self.start) and math.isfinite(self.end) and 0 <= self.start < self.end):
            raise ValueError(f"Hit times must satisfy 0 <= start < end, got {self.start}, {self.end}")
        if not math.isfinite(self.score):
            raise ValueError(f"Hit.score must be finite, got {self.score}")

    def to_dict(self) -> dict:
        return {"video_id": self.video_id, "path": self.path, "start": self.start, "end": self.end,
                "score": self.score, "scores_by_modality": self.scores_by_modality,
                "subtitle": self.subtitle, "events": self.events}


class Index:
    """A read handle on an avu index (safe beside a running ingest); `add`/`remove` change it."""

    def __init__(self, uri: str | os.PathLike):
        self.uri = str(uri)
        self.store = IndexStore(self.uri)
        self._text = None

    # -- browsing -----------------------------------------------------------------------------
    def videos(self, where: str | None = None, *, status: str | None = "done") -> list[dict]:
        """Video rows (without bulky JSON), filtered by SQL over the videos table, e.g. "duration > 60"."""
        clauses = [c for c in (f"status = {_quote(status)}" if status else None, f"({where})" if where else None) if c]
        return sorted(self.store.video_rows(" AND ".join(clauses) or None), key=lambda r: r["path"])

    def _video(self, video: str) -> dict:
        rows = self.store.video_rows(f"video_id = {_quote(video)} OR path = {_quote(str(video))}")
        if not rows:
            raise KeyError(f"no video {video!r} in {self.uri}")
        return rows[0]

    def segments(self, video: str) -> list[dict]:
        return self.store.segment_rows(self._video(video)["video_id"])

    def events(self, video: str, *, threshold: float = 0.8, min_duration: float = 2.0,
               smoothing: int = 1, prompts: Sequence[str] | None = None, visual: bool = False) -> list:
        """Events `(label, start, end, confidence, kind)` of one video, sorted by start.

        Sound events come from the segments' stored ESC-10 probabilities (segments quieter than
        -60 dBFS hold none). The model knows ten sounds and nothing else: any sound gets a
        distribution over those ten, so the default threshold is high and events are a hint,
        not ground truth. `prompts` replaces the ten classes by free-text prompts, each scored
        through the classes' meaning (`avu.events.prompts`; a prompt that matches no class
        raises `UnknownPrompt`) and labelled with its text. `visual=True` adds "high motion"
        and "scene change" events and "<sound> + motion" audio-visual ones (`avu.events.visual`);
        a video without audio then gives its visual events only.
        """
        from avu.events.detect import detect_events
        from avu.events.timeline import SILENCE_DB

        cols = ["start", "end", "event_scores", "audio_db"] + (["motion", "keyframe_jpeg"] if visual else [])
        segs = self.store.segment_rows(self._video(video)["video_id"], cols)
        rows = [(r["start"], r["end"], json.loads(r["event_scores"])) for r in segs if r["event_scores"]]
        quiet = {(r["start"], r["end"]) for r in segs if r["audio_db"] is not None and r["audio_db"] < SILENCE_DB}
        rows = [(s, e, {k: 0.0 for k in p} if (s, e) in quiet else p) for s, e, p in rows]
        kind = "sound"
        if prompts is not None:
            from avu.events.prompts import prompt_rows

            rows, kind = prompt_rows(rows, list(prompts)), "prompt"
        found = detect_events(rows, threshold=threshold, min_duration=min_duration, smoothing=smoothing, kind=kind)
        if visual:
            from avu.events.visual import audio_visual_events, visual_events

            found += visual_events(segs, smoothing=smoothing, min_duration=min_duration)
            found += audio_visual_events(rows, segs, threshold=threshold, smoothing=smoothing,
                                         min_duration=min_duration)
        return sorted(found, key=lambda e: (e.start, e.end, e.label))

    def summary(self, video: str, *, budget: float = 0.15, query: str | None = None):
        """Key shots within `budget` (a fraction of the duration) and the lines said in them."""
        from avu.summaries.summarize import summarize

        return summarize(self.store, self._video(video)["video_id"], budget=budget, query=query)

    def subtitles(self, video: str) -> list[Cue]:
        return [Cue(r["start"], r["end"], r["text"]) for r in self.store.cue_rows(self._video(video)["video_id"])]

    # -- changing -----------------------------------------------------------------------------
    def remove(self, video: str) -> None:
        self.store.remove(self._video(video)["video_id"])

    # -- search -------------------------------------------------------------------------------
    def _encode(self, text: str) -> np.ndarray:
        if self._text is None:
            from avu.models.text import load_minilm

            self._text = load_minilm()
        return self._text.encode_text([text])[0]

    def _scope(self, where: str | Sequence[str] | None) -> tuple[str | None, dict]:
        """SQL restricting rows to done videos that pass `where`, and those videos by id."""
        if where is None or isinstance(where, str):
            vids = {v["video_id"]: v for v in self.videos(where)}
        else:
            wanted = set(where)
            vids = {v["video_id"]: v for v in self.videos() if v["video_id"] in wanted or v["path"] in wanted}
        if not vids:
            return None, {}
        if where is None:  # every done video: only rows of videos still being written need excluding
            busy = [v["video_id"] for v in self.store.video_rows("status = 'indexing'")]
            if not busy:
                return "true", vids  # no filter at all: the cheapest search at scale
            return "video_id NOT IN (" + ", ".join(_quote(v) for v in sorted(busy)) + ")", vids
        return "video_id IN (" + ", ".join(_quote(v) for v in sorted(vids)) + ")", vids

    def search(self, query, k: int = 10, *, modalities: Sequence[str] | None = None,
               where: str | Sequence[str] | None = None, weights: dict | None = None) -> list[Hit]:
        """Best `k` moments for text, an image or audio file, or a `(video, start, end)` clip.

        `modalities` (default: speech for text and clips, visual for an image, audio for a sound)
        picks the embeddings compared; visual, audio and fused need an index ingested with a
        trained checkpoint (`encoders.*` in the ingest config). A segment matched in several
        modalities scores the weighted mean of their similarities (`weights`, default 1 each).
        """
        from avu.index import by_example as ex

        kind = ex.query_kind(query)
        if modalities is None:
            modalities = {"image": ("visual",), "audio": ("audio",)}.get(kind, SPEECH_MODALITIES)
        modalities = tuple(modalities)
        unknown = set(modalities) - set(ALL_MODALITIES)
        if unknown or not modalities:
            raise ValueError(f"unknown modalities {sorted(unknown)}; choose from {ALL_MODALITIES}")
        if kind is None and isinstance(query, (str, os.PathLike)) and \
                Path(str(query)).suffix.lower() in _MEDIA_SUFFIXES and Path(str(query)).exists():
            raise ValueError(f"{query}: not a regular file")
        scope, vids = self._scope(where)
        if scope is None:
            return []
        av = [m for m in modalities if m != "speech"]
        if kind is not None:
            if "speech" in modalities:
                raise ValueError(f"{query}: an {kind} query is compared by its {'visual' if kind == 'image' else 'audio'}"
                                 " embedding, not by speech")
            modality, vec = ex.encode_file(ex.av_checkpoints(self.store), query, kind)
            return self._best(self._av_moments({modality: vec}, k, scope, weights), k, vids, None)
        if isinstance(query, tuple):
            video, start, end = query
            v = self._video(video)
            exclude = (v["video_id"], start, end)
            moments = self._av_moments({m: ex.segment_vector(self.store, v["video_id"], start, end, m) for m in av},
                                       k, scope, weights) if av else []
            if "speech" in modalities:
                said = [r["text"] for r in self.store.segment_rows(v["video_id"], ["start", "end", "text"])
                        if r["text"] and r["start"] < end and r["end"] > start]
                if not said and not av:
                    raise ValueError(f"the clip {v['path']} {start}-{end}s has no speech text; compare it by a "
                                     "visual, audio or fused embedding (an index ingested with a trained model)")
                if said:
                    moments += self._speech_moments(" ".join(said), k, scope)
            return self._best(moments, k, vids, exclude)
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query must be non-empty text, an image or audio file, or a (video, start, end) tuple")
        text = query.strip()
        moments = self._av_moments(ex.encode_text(ex.av_checkpoints(self.store), text, av), k, scope, weights) \
            if av else []
        if "speech" in modalities:
            moments += self._speech_moments(text, k, scope)
        return self._best(moments, k, vids, None)

    def _speech_moments(self, text: str, k: int, scope: str) -> list:
        from avu.store.ann import vector_search

        q = self._encode(text)
        cols = ["video_id", "start", "end", "text"]
        cand = k * 4
        w = None if scope == "true" else scope
        cue_hits = vector_search(self.store.cues, "emb", q, cand, where=w, columns=[*cols, "idx"])
        seg_hits = vector_search(self.store.segments, "speech_emb", q, cand, where=w,
                                 columns=[*cols, "seg", "event_scores"])
        phrase = text.lower().replace("'", "''").replace("%", "\\%").replace("_", "\\_")
        verbatim = {(r["video_id"], r["idx"]) for r in self.store.cues.search().where(
            f"({scope}) AND lower(text) LIKE '%{phrase}%'").select(["video_id", "idx"]).limit(None).to_list()}
        moments = []
        for r in cue_hits:
            bonus = PHRASE_BONUS if (r["video_id"], r["idx"]) in verbatim else 0.0
            moments.append((r["similarity"] + bonus, r, {"speech": r["similarity"], "phrase": bonus}))
        for r in seg_hits:
            moments.append((r["similarity"], r, {"speech": r["similarity"]}))
        return moments

    def _av_moments(self, vectors: dict, k: int, scope: str, weights: dict | None) -> list:
        """Segment moments from the visual/audio/fused columns; one per segment, modalities merged."""
        from avu.store.ann import vector_search

        w = None if scope == "true" else scope
        by_seg: dict = {}
        for m, q in vectors.items():
            for r in vector_search(self.store.segments, f"{m}_emb", q, k * 4, where=w,
                                   columns=["video_id", "start", "end", "text", "seg", "event_scores"]):
                by_seg.setdefault((r["video_id"], r["seg"]), (r, {}))[1][m] = r["similarity"]
        weights = weights or {}
        moments = []
        for r, parts in by_seg.values():
            total = sum(weights.get(m, 1.0) for m in parts)
            score = sum(weights.get(m, 1.0) * s for m, s in parts.items()) / total
            moments.append((score, r, parts))
        return moments

    @staticmethod
    def _best(moments: list, k: int, vids: dict, exclude) -> list[Hit]:
        """Highest scores first; one hit per overlapping stretch of a video; stable order."""
        moments.sort(key=lambda m: (-m[0], m[1]["video_id"], m[1]["start"]))
        hits: list[Hit] = []
        for score, r, parts in moments:
            vid, s, e = r["video_id"], r["start"], r["end"]
            if vid not in vids:  # rows of a video whose row is gone or not done
                continue
            if exclude and vid == exclude[0] and s < exclude[2] and e > exclude[1]:
                continue
            if any(h.video_id == vid and h.start < e and s < h.end for h in hits):
                continue
            events = json.loads(r["event_scores"]) if r.get("event_scores") else None
            hits.append(Hit(video_id=vid, path=vids[vid]["path"], start=s, end=e, score=round(float(score), 6),
                            scores_by_modality={m: round(float(x), 6) for m, x in parts.items()},
                            subtitle=r.get("text"), events=events))
            if len(hits) == k:
                break
        return hits


_MEDIA_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus"}


def open_index(uri: str | os.PathLike) -> Index:
    """Open an existing index (raises `InvalidIndex` for a missing or foreign folder)."""
    return Index(uri)
