"""Who speaks in the index: the turns of a video and search by voice.

Each video's diarization (`avu.speakers.Diarization`: turns `S1`, `S2`, ... and one unit 256-d
voice centroid per speaker) is stored on its `videos` row (`speakers_json`). A voice query is a
recording: `avu.speakers.voice_of(path)` embeds its speech, and every stored speaker is scored by
the cosine similarity of its centroid to that vector (clipped to [0, 1]). Each hit is one turn of
a matching speaker, best speaker first, then in time order, so the first hits are where that voice
speaks.

Speaker filter (`where`): a voice search, `Index.speakers` and `Index.subtitles` accept the
clause `speaker = 'S2'` or `speaker IN ('S1', 'S3')`, alone or joined by `AND` to SQL over the
videos table (`"speaker = 'S2' AND duration > 60"`); the rest of `where` filters videos as in a
text search. Speaker ids are per video (S1 of one video is not S1 of another).
"""
from __future__ import annotations

import re

import numpy as np

from avu.speakers import Diarization

_SPEAKER_CLAUSE = re.compile(
    r"\bspeaker\s*(?:=\s*'(S[1-9]\d*)'|IN\s*\(\s*('S[1-9]\d*'(?:\s*,\s*'S[1-9]\d*')*)\s*\))", re.IGNORECASE)
_AND = re.compile(r"^\s*AND\s+|\s+AND\s*$", re.IGNORECASE)


def split_speaker_filter(where: str | None) -> tuple[set[str] | None, str | None]:
    """(`{"S2"}` or None for every speaker, the rest of `where` for the videos table or None).
    Raises ValueError for a `speaker` clause it cannot read (only `=` and `IN` are supported)."""
    if not where:
        return None, where
    m = _SPEAKER_CLAUSE.search(where)
    if m is None:
        if re.search(r"\bspeaker\b", where, re.IGNORECASE):
            raise ValueError(f"unsupported speaker filter in {where!r}: use speaker = 'S2' or "
                             "speaker IN ('S1', 'S2'), joined to other conditions by AND")
        return None, where
    wanted = {m.group(1).upper()} if m.group(1) else {s.strip(" '").upper() for s in m.group(2).split(",")}
    rest = (where[:m.start()] + " " + where[m.end():]).strip()
    rest = _AND.sub("", rest).strip()
    if re.search(r"\bspeaker\b", rest, re.IGNORECASE):
        raise ValueError(f"one speaker clause per filter, got {where!r}")
    return wanted, rest or None


def diarization(video: dict) -> Diarization | None:
    """The stored diarization of a decoded videos row (`Index.video`), None when not diarized."""
    d = video.get("speakers")
    return None if not d else Diarization.from_dict(d)


def rank_turns(query: np.ndarray, videos: list[dict], speakers: set[str] | None = None) -> list[tuple]:
    """(similarity, video row, Turn) for every turn of every stored speaker, most similar first."""
    q = np.asarray(query, dtype=np.float32)
    q = q / np.linalg.norm(q)
    out = []
    for v in videos:
        d = diarization(v)
        if d is None:
            continue
        sims = {s: float(np.clip(np.dot(q, c), 0.0, 1.0)) for s, c in d.centroids.items()}
        out += [(sims[t.speaker], v, t) for t in d.turns if speakers is None or t.speaker in speakers]
    out.sort(key=lambda x: (-x[0], x[1]["path"] or "", x[2].start))
    return out
