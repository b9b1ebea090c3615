"""The Python API for video queries: `open_index(DIR) -> Index`, `Index.search(...) -> SearchResult`.

A query is text, an image or audio file, or a `(video, start, end)` clip. Text is embedded once
with MiniLM and compared with what is said (`speech`: segment text and each subtitle/ASR cue),
seen (`seen`: ImageNet and COCO labels of the frames), heard (`heard`: AudioSet labels) and read
(`read`: on-screen text), plus a trained checkpoint's `visual` / `audio` / `fused` embeddings when
the index has them. Every candidate moment is scored in every requested modality and the scores
are fused by one rule (`avu.index.fusion`: per-modality calibration to a match probability, then
a weighted noisy-OR), so `Hit.score` is in [0, 1] and means the same across modalities.

The result (`SearchResult`, a list of `Hit`) says what it searched: the modalities the index holds
(`held`), those it searched (`searched`), the requested ones it could not use and why
(`unavailable`), whether the best hit is weak (`weak`: below `fusion.WEAK_BELOW`), and with no
hits, why (`reason`). Each hit explains itself (`Hit.matched`: the labels, text and line that
answer the query) and names its speaker (`Hit.speaker`, `S1`...). A recording searched with
`modalities=["voice"]` finds where that voice speaks (`avu.index.voice`, its `where` syntax too).
"""
from __future__ import annotations

import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from avu.index import fusion
from avu.index.fusion import ALL_MODALITIES, TEXT_MODALITIES, TRAINED_MODALITIES
from avu.media import Cue
from avu.store.naming import find_video
from avu.store.tables import IndexStore, _quote

if TYPE_CHECKING:  # imported on use: events bring torch in
    from avu.events.stored import EventTimeline

JSON_COLUMNS = ("info_json", "config_json", "models_json", "notes_json", "speakers_json")  # decoded by Index.videos()


@dataclass(frozen=True)
class Hit:
    """One moment of one video that answers a query."""

    video_id: str
    path: str
    start: float  # seconds
    end: float  # seconds
    score: float  # fused score in [0, 1] (`avu.index.fusion`)
    scores_by_modality: dict = field(default_factory=dict)  # calibrated evidence per requested modality
    # in [0, 1] (None: the moment has nothing in that modality), plus "phrase" for a verbatim occurrence
    subtitle: str | None = None  # the line said at that moment, when there is one
    events: dict | None = None  # event scores of the segment, once event detection has run
    matched: dict = field(default_factory=dict)  # why: {"seen": [[label, score]], "heard": [...],
    # "read": [line], "speech": [line], "voice": [speaker, similarity]}
    speaker: str | None = None  # who speaks most in the moment (S1, S2, ... of its video), when known

    def __post_init__(self):
        if not (math.isfinite(self.start) and math.isfinite(self.end) and 0 <= self.start < self.end):
            raise ValueError(f"Hit times must satisfy 0 <= start < end, got {self.start}, {self.end}")
        if not (math.isfinite(self.score) and 0.0 <= self.score <= 1.0):
            raise ValueError(f"Hit.score must be in [0, 1], got {self.score}")

    def to_dict(self) -> dict:
        return {"video_id": self.video_id, "path": self.path, "start": self.start, "end": self.end,
                "score": self.score, "scores_by_modality": self.scores_by_modality,
                "subtitle": self.subtitle, "events": self.events, "matched": self.matched, "speaker": self.speaker}


def _video_dict(row: dict) -> dict:
    """A videos row for callers: JSON columns decoded (`info`, `config`, `models`, `notes`), `id` added."""
    out = dict(row)
    for col in JSON_COLUMNS:
        raw = out.pop(col, None)
        out[col.removesuffix("_json")] = json.loads(raw) if raw else None
    return {"id": out["video_id"], **out}


class SearchResult(list):
    """The hits, best first, and what was searched (a list, so `for hit in result` works)."""

    def __init__(self, hits=(), *, held=(), searched=(), unavailable=None, reason: str | None = None):
        super().__init__(hits)
        self.held = tuple(held)  # modalities the searched videos hold
        self.searched = tuple(searched)  # modalities compared
        self.unavailable = dict(unavailable or {})  # requested modality -> why it could not be used
        self.weak_below = fusion.WEAK_BELOW
        self.weak = bool(hits) and hits[0].score < fusion.WEAK_BELOW  # the best hit is weak
        self.reason = reason if not hits else None  # why there are no hits

    def to_dict(self) -> dict:
        return {"hits": [h.to_dict() for h in self], "held": list(self.held), "searched": list(self.searched),
                "unavailable": self.unavailable, "weak": self.weak, "weak_below": self.weak_below,
                "reason": self.reason}


class Index:
    """A read handle on an avu index (safe beside a running ingest); `remove` changes it."""

    def __init__(self, uri: str | os.PathLike):
        self.store = IndexStore(uri)
        self.uri = self.store.uri  # "~" expanded, symbolic links resolved
        self._text = None
        self._explainer = None
        self._pool: ThreadPoolExecutor | None = None
        self._videos_cache: tuple | None = None  # (videos table version, decoded rows)
        self._held_cache: tuple | None = None  # ((videos, segments table versions), `held()` of all done videos)

    # -- browsing -----------------------------------------------------------------------------
    def videos(self, where: str | None = None, *, status: str | None = "done") -> list[dict]:
        """Video rows sorted by path, filtered by SQL over the videos table (e.g. "duration > 60").

        Keys: `id` (the content hash; also as `video_id`, the name `Hit` uses), `path`, `status`
        (`done` / `failed` / `indexing`), `error`, `duration`, `size_bytes`, `n_segments`,
        `has_video`, `has_audio`, `text_source`, `info`, `config`, `models`, `notes` (decoded
        JSON), `config_hash`, `seconds`, `ingested_at`. `status=None` returns every row, failed
        ones included.
        """
        if where is None:  # the common case (every search without a filter): cached per table version
            return [r for r in self._all_videos() if status is None or r["status"] == status]
        clauses = [c for c in (f"status = {_quote(status)}" if status else None, f"({where})" if where else None) if c]
        return sorted((_video_dict(r) for r in self.store.video_rows(" AND ".join(clauses))),
                      key=lambda r: r["path"] or "")

    def _all_videos(self) -> list[dict]:
        """Every videos row (decoded, sorted by path): copies of `_cached_videos`."""
        return [dict(r) for r in self._cached_videos()[1]]

    def _cached_videos(self) -> tuple:
        """(table version, every videos row decoded and sorted by path), re-read only when the table
        has a new version. The rows are shared: read them, never change them."""
        version = self.store.videos.version
        if self._videos_cache is None or self._videos_cache[0] != version:
            rows = sorted((_video_dict(r) for r in self.store.video_rows()), key=lambda r: r["path"] or "")
            self._videos_cache = (version, rows)
        return self._videos_cache

    def video(self, name: str | os.PathLike) -> dict:
        """The done video that `name` names (id, path, `~` path or unique file name), as `videos()` rows
        are; `UnknownVideo` otherwise."""
        return _video_dict(self._video(name))

    def _video(self, video: str | os.PathLike) -> dict:
        """The done video's raw row (`avu.store.naming.find_video`)."""
        return find_video(self.store, video)

    def modalities(self) -> list[str]:
        """The modalities a query can compare in this index (e.g. speech, seen, heard, read)."""
        return [m for m, why in self.held().items() if why is None]

    def segments(self, video: str, columns: Sequence[str] | None = None) -> list[dict]:
        """The segment rows of a video in time order (`columns`: only those, e.g. start, end, text)."""
        return self.store.segment_rows(self._video(video)["video_id"], list(columns) if columns else None)

    def perception(self, video: str) -> list[dict]:
        """Per segment in time order: `start`, `end` and what was `seen`, `heard`, `read` and the
        `objects` on screen (decoded lists, best first); None where a modality was not perceived."""
        keys = {"seen": "seen_json", "heard": "heard_json", "objects": "objects_json", "read": "read_json"}
        have = [c for c in keys.values() if self.store.has_column(c)]
        rows = self.store.segment_rows(self._video(video)["video_id"], ["start", "end", *have])
        return [{"start": r["start"], "end": r["end"],
                 **{k: json.loads(r[c]) if r.get(c) is not None else None for k, c in keys.items()}} for r in rows]

    def keyframe(self, video: str, t: float) -> bytes | None:
        """The key-frame JPEG of the segment holding time `t` (None when there is none)."""
        vid = self._video(video)["video_id"]
        rows = self.store.segments.search().where(
            f"video_id = {_quote(vid)} AND start <= {float(t)!r} AND `end` > {float(t)!r}") \
            .select(["start", "keyframe_jpeg"]).limit(None).to_list()
        return min(rows, key=lambda r: r["start"])["keyframe_jpeg"] if rows else None

    def events(self, video: str, *, threshold: float | None = None, min_duration: float = 2.0,
               smoothing: int = 1, prompts: Sequence[str] | None = None, visual: bool = False,
               sounds: str = "auto") -> "EventTimeline":
        """The event timeline of one video (`avu.events.stored.EventTimeline`: a list of events
        `(label, start, end, confidence, kind, count)` sorted by start, with the sound source and
        threshold it used). `sounds`: "audioset" (the stored YAMNet tags, 521 classes), "esc10"
        (the shipped ten-class specialist), "auto" (AudioSet when the video was perceived).
        `threshold` defaults to `AUDIOSET_THRESHOLD` or `ESC10_THRESHOLD` (0.8); segments quieter
        than -60 dBFS hold no sound event. `prompts` replace the classes by free-text prompts
        matched to them by meaning (`UnknownPrompt` when one matches none). `visual=True` adds
        "high motion", "scene change", objects on screen (with the most seen at once),
        "<sound> + motion" and "<seen> + <heard>" events (a dog seen and a bark heard).
        """
        from avu.events.stored import stored_events

        perceived = [c for c in ("heard_json", "seen_json", "objects_json") if self.store.has_column(c)]
        cols = ["start", "end", "event_scores", "audio_db", *perceived]
        cols += ["motion", "keyframe_jpeg"] if visual else []
        segs = self.store.segment_rows(self._video(video)["video_id"], cols)
        return stored_events(segs, name=str(video), threshold=threshold, min_duration=min_duration,
                             smoothing=smoothing, prompts=prompts, visual=visual, sounds=sounds)

    def summary(self, video: str, *, budget: float = 0.15, query: str | None = None):
        """Key shots within `budget` (a fraction of the duration) and the lines said in them."""
        from avu.summaries.summarize import summarize

        return summarize(self.store, self._video(video)["video_id"], budget=budget, query=query)

    def subtitles(self, video: str) -> list[Cue]:
        """The video's cues, each a `SpokenCue` naming its speaker (None where unknown)."""
        from avu.ingest.plan import SpokenCue

        return [SpokenCue(r["start"], r["end"], r["text"], r.get("speaker"))
                for r in self.store.cue_rows(self._video(video)["video_id"])]

    def speakers(self, video: str, where: str | None = None) -> list:
        """Who speaks when: the video's `avu.speakers.Turn`s (speaker, start, end, confidence) in time
        order, [] when it was not diarized or holds no speech; `where="speaker = 'S2'"` keeps one voice."""
        from avu.index.voice import diarization, split_speaker_filter

        wanted, rest = split_speaker_filter(where)
        if rest:
            raise ValueError(f"Index.speakers filters by speaker only, got {where!r}")
        d = diarization(_video_dict(self._video(video)))
        return [t for t in (d.turns if d else ()) if wanted is None or t.speaker in wanted]

    def _search_voice(self, query, k: int, where) -> SearchResult:
        """Where the voice of the recording `query` speaks (`avu.index.voice`)."""
        from avu.index.voice import rank_turns, split_speaker_filter
        from avu.speakers import voice_of

        wanted, rest = split_speaker_filter(where) if isinstance(where, str) or where is None else (None, where)
        _, vids = self._scope(rest)
        if not any(v.get("speakers") for v in vids.values()):
            return SearchResult(held=(), unavailable={"voice": "no searched video was diarized (ingest again)"},
                                reason="no searched video holds speaker turns")
        ranked = rank_turns(voice_of(str(query)), list(vids.values()), wanted)[:k]
        hits = [Hit(video_id=v["video_id"], path=v["path"], start=t.start, end=t.end, score=round(sim, 6),
                    scores_by_modality={"voice": round(sim, 4)}, matched={"voice": [t.speaker, round(sim, 4)]},
                    speaker=t.speaker) for sim, v, t in ranked]
        return SearchResult(hits, held=("voice",), searched=("voice",),
                            reason=None if hits else "no speaker turn passes the filter")

    # -- changing -----------------------------------------------------------------------------
    def remove(self, video: str) -> None:
        self.store.remove(self._video(video)["video_id"])

    # -- search -------------------------------------------------------------------------------
    def _text_encoder(self):
        if self._text is None:
            from avu.models.text import load_minilm

            self._text = load_minilm()
        return self._text

    def _encode_texts(self, texts: list[str]) -> np.ndarray:
        return self._text_encoder().encode_text(list(texts))

    def _encode(self, text: str) -> np.ndarray:
        return self._encode_texts([text])[0]

    def _scope(self, where: str | Sequence[str] | None) -> tuple[str | None, dict]:
        """SQL restricting rows to done videos that pass `where`, and those videos by id."""
        if where is None:  # every done video (the shared cached rows: searches only read them)
            rows = self._cached_videos()[1]
            vids = {v["video_id"]: v for v in rows if v["status"] == "done"}
            busy = [v["video_id"] for v in rows if v["status"] == "indexing"]
            if not vids:
                return None, {}
            if not busy:
                return "true", vids  # no filter at all: the cheapest search at scale
            return "video_id NOT IN (" + ", ".join(_quote(v) for v in sorted(busy)) + ")", vids
        if isinstance(where, str):
            vids = {v["video_id"]: v for v in self.videos(where)}
        else:
            wanted = set(where)
            vids = {v["video_id"]: v for v in self.videos() if v["video_id"] in wanted or v["path"] in wanted}
        if not vids:
            return None, {}
        return "video_id IN (" + ", ".join(_quote(v) for v in sorted(vids)) + ")", vids

    def held(self, videos: dict | None = None) -> dict[str, str | None]:
        """{modality: None if some video holds it, else why none does} over `videos` (default: all done)."""
        if videos is None:  # all done videos: once per version of the videos and segments tables
            version, rows = self._cached_videos()
            version = (version, self.store.segments.version)  # the perception columns live in segments
            if self._held_cache is None or self._held_cache[0] != version:
                self._held_cache = (version, self._held({v["video_id"]: v for v in rows if v["status"] == "done"}))
            return dict(self._held_cache[1])
        return self._held(videos)

    def _held(self, videos: dict) -> dict[str, str | None]:
        models = [v.get("models") or {} for v in videos.values()]
        out: dict[str, str | None] = {}
        out["speech"] = None if any(v.get("text_source") for v in videos.values()) else \
            "no video holds speech (no subtitles, ASR off or nothing said)"
        for m in ("seen", "heard", "read"):
            feeds = {"seen": ("seen", "objects")}.get(m, (m,))
            if any(set(feeds) & set(x.get("perceived") or ()) for x in models) and self.store.has_column(f"{m}_emb"):
                out[m] = None
            else:
                why = next((x["perception_missing"][f] for x in models for f in feeds
                            if (x.get("perception_missing") or {}).get(f)), None)
                out[m] = f"not perceived at ingest: {why}" if why else \
                    f"not perceived at ingest ({m} perception off, or the index predates it: ingest again)"
        for m in TRAINED_MODALITIES:
            out[m] = None if any(x.get(m) for x in models) else \
                f"no trained {m} encoder was configured at ingest (encoders.{m}: a checkpoint from `avu train`)"
        return out

    def search(self, query, k: int = 10, *, modalities: Sequence[str] | None = None,
               where: str | Sequence[str] | None = None, weights: dict | None = None) -> SearchResult:
        """Best `k` moments for text, an image or audio file, or a `(video, start, end)` clip.

        `modalities` (default: every modality the index holds for text and clips, `visual` for an
        image, `audio` for a sound) picks what is compared; `where` is SQL over the videos table
        or a list of video ids / paths; `weights` ({modality: w >= 0}, default 1 each; "phrase"
        weighs the verbatim evidence) enter the fusion rule (`avu.index.fusion`). Requested
        modalities the index lacks are listed in `result.unavailable`; if none is left, a
        `ValueError` says why.
        """
        from avu.index import by_example as ex

        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if modalities is not None and "voice" in modalities:
            if list(modalities) != ["voice"]:
                raise ValueError("voice is searched alone: modalities=['voice'] with a recording as the query")
            if not isinstance(query, (str, os.PathLike)) or not Path(str(query)).is_file():
                raise ValueError(f"{query!r}: a voice query is a recording (an audio or video file)")
            return self._search_voice(query, k, where)
        kind = ex.query_kind(query)
        explicit = modalities is not None
        if explicit:
            modalities = tuple(dict.fromkeys(modalities))
            unknown = set(modalities) - set(ALL_MODALITIES)
            if unknown or not modalities:
                raise ValueError(f"unknown modalities {sorted(unknown)}; choose from {ALL_MODALITIES}")
        if kind is None and isinstance(query, (str, os.PathLike)) and \
                Path(str(query)).suffix.lower() in _MEDIA_SUFFIXES and Path(str(query)).exists():
            raise ValueError(f"{query}: not a regular file")
        if kind is not None:
            wanted = modalities or (("visual",) if kind == "image" else ("audio",))
            if "speech" in wanted or set(wanted) & {"seen", "heard", "read"}:
                by = "visual" if kind == "image" else "audio"
                raise ValueError(f"{query}: an {kind} query is compared by its {by}"
                                 " embedding (a trained checkpoint), not by speech, seen, heard or read")
        elif isinstance(query, tuple):
            if len(query) != 3:
                raise ValueError("a clip query is (video, start, end)")
        elif not isinstance(query, str) or not query.strip():
            raise ValueError("query must be non-empty text, an image or audio file, or a (video, start, end) tuple")
        scope, vids = self._scope(where)
        held = (self.held(None if where is None else vids) if vids
                else {m: "no video matches `where`" for m in ALL_MODALITIES})
        have = tuple(m for m in ALL_MODALITIES if held[m] is None)
        if kind is not None:
            requested = tuple(wanted)
        else:
            requested = modalities if explicit else TEXT_MODALITIES + tuple(m for m in TRAINED_MODALITIES if m in have)
        weights = fusion.check_weights(weights, requested)
        unavailable = {m: held[m] for m in requested if held[m] is not None}
        usable = tuple(m for m in requested if held[m] is None and weights.get(m, 1.0) > 0)
        if scope is None:
            return SearchResult(held=have, unavailable=unavailable,
                                reason=f"no done video{' matches `where`' if where is not None else ' in the index'}")
        if not usable:
            if explicit or kind is not None:
                raise ValueError("cannot search " + "; ".join(f"{m}: {why}" for m, why in unavailable.items()))
            return SearchResult(held=have, unavailable=unavailable,
                                reason="the index holds none of the modalities searched")
        exclude = verbatim = q_text = None
        if kind is not None:
            modality, vec = ex.encode_file(ex.av_checkpoints(self.store), query, kind)
            vectors = {modality: vec}
        elif isinstance(query, tuple):
            vectors, exclude = self._clip_vectors(query, usable)
            if not vectors:
                raise ValueError(f"the clip {query[0]} {query[1]}-{query[2]}s has nothing to compare in "
                                 f"{', '.join(usable)} (no speech text and no perception or trained vectors there)")
        else:
            text = query.strip()
            verbatim = text
            q_text = self._encode(text)
            vectors = {m: q_text for m in usable if m in TEXT_MODALITIES}
            trained = [m for m in usable if m in TRAINED_MODALITIES]
            if trained:
                vectors.update(ex.encode_text(ex.av_checkpoints(self.store), text, trained))
        return self._run(vectors, k, scope, vids, weights, requested=requested, held=have,
                         unavailable=unavailable, exclude=exclude, verbatim=verbatim, q_text=q_text)

    def search_vectors(self, vectors: dict, k: int = 10, *, where: str | Sequence[str] | None = None,
                       weights: dict | None = None) -> SearchResult:
        """Best `k` moments for query vectors already computed, {modality: vector} (a MiniLM vector
        for speech / seen / heard / read), fused as `search` fuses; no phrase evidence, no `matched`."""
        unknown = set(vectors) - set(ALL_MODALITIES)
        if unknown or not vectors:
            raise ValueError(f"unknown modalities {sorted(unknown)}; choose from {ALL_MODALITIES}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        scope, vids = self._scope(where)
        requested = tuple(vectors)
        weights = fusion.check_weights(weights, requested)
        held = self.held(vids) if vids else {m: "no video matches `where`" for m in ALL_MODALITIES}
        have = tuple(m for m in ALL_MODALITIES if held[m] is None)
        unavailable = {m: held[m] for m in requested if held[m] is not None}
        if scope is None:
            return SearchResult(held=have, unavailable=unavailable, reason="no done video to search")
        usable = {m: v for m, v in vectors.items() if held[m] is None and weights.get(m, 1.0) > 0}
        if not usable:
            raise ValueError("cannot search " + "; ".join(f"{m}: {why}" for m, why in unavailable.items()))
        return self._run(usable, k, scope, vids, weights, requested=requested, held=have,
                         unavailable=unavailable, exclude=None, verbatim=None, q_text=None)

    def _clip_vectors(self, query: tuple, usable: tuple) -> tuple[dict, tuple]:
        """Per modality, the clip's query vector: MiniLM of what is said in it for speech, the mean
        of its stored vectors for the others (modalities it has nothing in are left out)."""
        from avu.index import by_example as ex

        video, start, end = query
        v = self._video(video)
        vid, start, end = v["video_id"], float(start), float(end)
        vectors = {}
        for m in usable:
            if m == "speech":
                said = [r["text"] for r in self.store.segment_rows(vid, ["start", "end", "text"])
                        if r["text"] and r["start"] < end and r["end"] > start]
                if said:
                    vectors["speech"] = self._encode(" ".join(said))
            else:
                try:
                    vectors[m] = ex.segment_vector(self.store, vid, start, end, m)
                except ValueError:  # nothing stored for the clip in this modality
                    pass
        return vectors, (vid, start, end)

    def _run(self, vectors: dict, k: int, scope: str, vids: dict, weights: dict, *, requested, held,
             unavailable, exclude, verbatim, q_text) -> SearchResult:
        from avu.index.explain import Explainer
        from avu.index.fused import candidates, gather, score
        from avu.index.voice import diarization

        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=len(ALL_MODALITIES) + 1, thread_name_prefix="avu-search")
        searched = tuple(m for m in requested if m in vectors)
        moments = gather(self.store, vectors, per_modality=candidates(k), where=None if scope == "true" else scope,
                         verbatim=verbatim, pool=self._pool)
        best = self._best(score(moments, searched, weights), k, vids, exclude)
        if self._explainer is None:
            self._explainer = Explainer(self._text_encoder())
        why = self._explainer.matched(best, q_text, searched, verbatim=verbatim)
        hits = []
        turns = {}  # video id -> its Diarization (or None)
        for mo, matched in zip(best, why):
            if mo.video_id not in turns:
                turns[mo.video_id] = diarization(vids[mo.video_id])
            parts = {m: (None if mo.evidence.get(m) is None else round(mo.evidence[m], 4)) for m in requested}
            if mo.phrase:
                parts[fusion.PHRASE] = fusion.PHRASE_P
            hits.append(Hit(video_id=mo.video_id, path=vids[mo.video_id]["path"], start=mo.start, end=mo.end,
                            score=round(mo.score, 6), scores_by_modality=parts, subtitle=mo.text,
                            events=mo.events, matched=matched,
                            speaker=(turns[mo.video_id].speaker_between(mo.start, mo.end)
                                     if turns[mo.video_id] else None)))
        return SearchResult(hits, held=held, searched=searched, unavailable=unavailable,
                            reason=None if hits else "no moment in the searched videos has anything in the "
                                                     f"searched modalities ({', '.join(searched)})")

    @staticmethod
    def _best(moments: list, k: int, vids: dict, exclude) -> list:
        """Highest scores first; one moment per overlapping stretch of a video; stable order."""
        moments.sort(key=lambda m: (-m.score, m.video_id, m.start, m.end))
        out: list = []
        for mo in moments:
            if mo.video_id not in vids:  # rows of a video whose row is gone or not done
                continue
            if exclude and mo.video_id == exclude[0] and mo.start < exclude[2] and mo.end > exclude[1]:
                continue
            if any(h.video_id == mo.video_id and h.start < mo.end and mo.start < h.end for h in out):
                continue
            if all(e is None for e in mo.evidence.values()):  # nothing to compare: not a hit
                continue
            out.append(mo)
            if len(out) == k:
                break
        return out


_MEDIA_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus"}


def open_index(uri: str | os.PathLike) -> Index:
    """Open an existing index, `~` expanded (raises `InvalidIndex` for a missing or foreign folder)."""
    return Index(uri)
