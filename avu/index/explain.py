"""Why a hit matched: the labels, on-screen text and line said that answer the query (`Hit.matched`).

For the final hits only (never for every candidate), the perception columns of the segments a hit
covers (read with the candidate, `Moment.perceived`) are decoded and each label or text line is
compared with the query's MiniLM vector:

- `seen`: ImageNet tags and COCO objects whose label is close to the query (cosine at least the
  modality's calibrated equal-odds point `b`), best first, with the model's score: `[label, score]`;
- `heard`: AudioSet tags, the same way;
- `read`: on-screen lines close to the query or containing it verbatim; where no one line is but the
  on-screen text as a whole matches (the `read` evidence, which embeds the lines joined, >= 0.5), that text;
- `speech`: the line said, when speech counts as a match (calibrated evidence >= 0.5) or it
  contains the query verbatim.

Label and line embeddings are cached per text encoder, where perception caches its label vectors
(`avu.perception.embed.embed_labels`: the label vocabulary is small and fixed).
"""
from __future__ import annotations

import json

import numpy as np

from avu.index.fusion import CALIBRATION
from avu.perception.embed import embed_labels

MAX_LABELS = 3  # labels listed per modality and hit


class Explainer:
    """Turns a query's final moments into `matched` dicts."""

    def __init__(self, encoder):
        self._encoder = encoder  # the text encoder (MiniLM): `encode_text(texts, normalize=True)`

    def _vectors(self, texts: list[str]) -> np.ndarray:
        return embed_labels(self._encoder, texts)

    def _close(self, modality: str, q: np.ndarray, scored: dict[str, float], needle: str | None) -> list:
        if not scored:
            return []
        labels = list(scored)
        sims = self._vectors(labels) @ q
        b = CALIBRATION["modalities"][modality]["b"]
        keep = [(s, lab) for s, lab in zip(sims, labels) if s >= b or (needle and needle in lab.lower())]
        keep.sort(key=lambda x: (-x[0], x[1]))
        return [[lab, round(scored[lab], 3)] for _, lab in keep[:MAX_LABELS]]

    def matched(self, moments: list, q: np.ndarray | None, modalities, *, verbatim: str | None) -> list[dict]:
        """One `matched` dict per moment (empty where nothing explains it in words)."""
        if q is None or not moments:
            return [{} for _ in moments]
        q = np.asarray(q, dtype=np.float32)
        needle = verbatim.lower() if verbatim else None
        out = []
        for mo in moments:
            segs = mo.perceived  # the perception columns of the segment(s) it covers, read with it
            why: dict = {}
            for m, sources in (("seen", ("seen_json", "objects_json")), ("heard", ("heard_json",))):
                if m not in modalities:
                    continue
                scored: dict[str, float] = {}
                for s in segs:
                    for c in sources:
                        for item in json.loads(s.get(c) or "[]"):
                            scored[item[0]] = max(scored.get(item[0], 0.0), float(item[1]))
                found = self._close(m, q, scored, needle)
                if found:
                    why[m] = found
            if "read" in modalities:
                lines = {item[0]: float(item[1]) for s in segs for item in json.loads(s.get("read_json") or "[]")}
                found = [lab for lab, _ in self._close("read", q, lines, needle)]
                if not found and (mo.evidence.get("read") or 0) >= 0.5 and mo.read_text:
                    found = [" ".join(dict.fromkeys(mo.read_text.splitlines()))]  # no one line: the text as a whole
                if found:
                    why["read"] = found
            said = mo.text and ((mo.evidence.get("speech") or 0) >= 0.5 or (needle and needle in mo.text.lower()))
            if "speech" in modalities and said:
                why["speech"] = [mo.text]
            out.append(why)
        return out


__all__ = ["Explainer"]
