"""Events from what perception stored per segment: AudioSet sounds, objects on screen, and
audio-visual events where sight and sound agree. Nothing is decoded again.

- Sound events over AudioSet's 521 classes: per segment, `heard_json` holds YAMNet's best tags
  (mean score over the segment's 0.975 s patches); a class absent from the list scores 0. Each
  class's score sequence goes through `detect_events` (smoothing, threshold, minimum duration).
- Free-text sound prompts (`AudioSetPrompts`): a prompt is matched to AudioSet classes by MiniLM
  over the ontology (each class's name, its parents' names and its description, from
  `../shared/data/annotations/audioset/ontology.json`; the bare class name without it). Class
  weights are a softmax over the cosine similarities (temperature `TEMPERATURE`) divided by its
  largest value; a segment's prompt score is `max_c w_c * score_c`. A prompt whose best class
  similarity is under `MIN_SIMILARITY` raises `UnknownPrompt`.
- Object events ("person", "dog" on screen): per segment `objects_json` holds each COCO class's
  best detection score and its largest count in one frame; events carry the largest count.
- Audio-visual agreement ("dog + Bark"): in one segment, a thing seen (COCO object or ImageNet
  tag) and a sound heard whose labels mean the same (MiniLM cosine of the two labels at least
  `AGREE`); the pair scores the smaller of the two scores.

`AUDIOSET_THRESHOLD` and `AGREE` are heuristics checked on the shared clips (see the README's
events section), not learned.
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
from typing import Callable, Sequence

import numpy as np

from avu.events.detect import Event, detect_events
from avu.events.prompts import UnknownPrompt, _ontology, ontology_path

AUDIOSET_THRESHOLD = 0.3  # default threshold of AudioSet sound and object events (YAMNet mean scores)
ESC10_THRESHOLD = 0.8  # default threshold of the ESC-10 specialist's events (any sound gets a distribution over ten)
TEMPERATURE = 0.05  # softmax temperature over prompt-class cosine similarities
MIN_SIMILARITY = 0.4  # a prompt whose best AudioSet class is less similar matches no class
AGREE = 0.5  # MiniLM cosine between a seen label and a heard label that counts as the same thing

Encoder = Callable[[list[str]], np.ndarray]


def _minilm(texts: list[str]) -> np.ndarray:
    from avu.models.text import load_minilm

    return load_minilm().encode_text(list(texts))


def _tags(raw: str | None) -> dict[str, float]:
    return {t[0]: float(t[1]) for t in json.loads(raw)} if raw else {}


def sound_rows(segs: Sequence[dict]) -> list[tuple[float, float, dict[str, float]]]:
    """(start, end, {AudioSet label: score}) per perceived segment, every label seen in the video present."""
    rows = [(s["start"], s["end"], _tags(s.get("heard_json"))) for s in segs if s.get("heard_json") is not None]
    labels = {lab for _, _, t in rows for lab in t}
    return [(a, b, {lab: t.get(lab, 0.0) for lab in labels}) for a, b, t in rows]


def object_rows(segs: Sequence[dict]) -> tuple[list, dict]:
    """(start, end, {COCO label: score}) per segment with objects, and {(start, label): count}."""
    rows, counts = [], {}
    for s in segs:
        if s.get("objects_json") is None:
            continue
        found = json.loads(s["objects_json"])
        rows.append((s["start"], s["end"], {o[0]: float(o[1]) for o in found}))
        counts.update({(s["start"], o[0]): int(o[2]) for o in found})
    labels = {lab for _, _, t in rows for lab in t}
    return [(a, b, {lab: t.get(lab, 0.0) for lab in labels}) for a, b, t in rows], counts


def with_counts(events: list[Event], counts: dict, segs: Sequence[dict]) -> list[Event]:
    """Object events with the largest count seen in one frame over their segments."""
    out = []
    for e in events:
        n = [counts.get((s["start"], e.label), 0) for s in segs if s["start"] < e.end and s["end"] > e.start]
        out.append(e._replace(count=max(n, default=0) or None))
    return out


class AudioSetPrompts:
    """Free-text prompts -> AudioSet class weights (see the module docstring)."""

    def __init__(self, *, encode: Encoder | None = None, ontology=None):
        self.encode = encode or _minilm
        path = ontology or ontology_path()
        if path.is_file():
            by_name, parents = _ontology(path)
            by_id = {e["id"]: e for e in by_name.values()}
            self.names = sorted(by_name)
            texts = []
            for n in self.names:
                ups = [by_id[p]["name"] for p in parents.get(by_name[n]["id"], []) if p in by_id]
                texts.append((", ".join(ups) + ". " if ups else "") + f"{n}: {by_name[n].get('description', '')}")
        else:  # no ontology: the class names alone (those a video's tags use are added on demand)
            self.names, texts = [], []
        self._vecs = self._class_vectors(texts, cache=encode is None) if texts else np.zeros((0, 384))

    def _class_vectors(self, texts: list[str], *, cache: bool) -> np.ndarray:
        """The classes' MiniLM vectors; with the default encoder kept in the user cache, keyed by the
        model version and the texts (encoding the ~630 descriptions costs ~10 s per process)."""
        if not cache:
            return np.asarray(self.encode(texts), np.float64)
        from avu._paths import user_cache
        from avu.models.text import minilm_version

        key = hashlib.sha256("\n".join([minilm_version(), *texts]).encode()).hexdigest()[:16]
        path = user_cache("audioset-classes", f"minilm-{key}.npy")
        try:
            vecs = np.load(path, allow_pickle=False)
            if vecs.shape[0] == len(texts) and np.isfinite(vecs).all():
                return vecs.astype(np.float64)
        except (OSError, ValueError):
            pass  # absent, unreadable or torn: encode again
        vecs = np.asarray(self.encode(texts), np.float64)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                np.save(f, vecs.astype(np.float32))
            os.replace(tmp, path)  # readers see the whole file or none
        except OSError:
            pass  # a read-only home: no cache, same vectors
        return vecs

    def weights(self, prompt: str, labels: Sequence[str] = ()) -> dict[str, float]:
        """{AudioSet class: weight in (0, 1]}, the best class 1; `UnknownPrompt` when nothing matches."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("a prompt must be non-empty text")
        extra = [lab for lab in labels if lab not in self.names]
        names = self.names + extra
        vecs = np.concatenate([self._vecs, np.asarray(self.encode(extra), np.float64)]) if extra else self._vecs
        if not names:
            raise UnknownPrompt(f"prompt {prompt!r}: no AudioSet classes to match (ontology missing, no sound tags)")
        q = np.asarray(self.encode([prompt.strip()]), np.float64)[0]
        s = vecs @ q
        if s.max() < MIN_SIMILARITY:
            closest = names[int(s.argmax())]
            raise UnknownPrompt(f"prompt {prompt!r} matches no AudioSet sound class (closest: {closest}, "
                                f"similarity {s.max():.2f} < {MIN_SIMILARITY})")
        w = np.exp((s - s.max()) / TEMPERATURE)
        return {n: float(x) for n, x in zip(names, w) if x >= 0.01}

    def rows(self, rows: Sequence[tuple], prompts: Sequence[str], *,
             weights: dict[str, dict[str, float]] | None = None) -> list[tuple[float, float, dict[str, float]]]:
        """Per row, each prompt's score `max_c w_c * score_c`; `weights` ({prompt: `self.weights(...)`}
        for these rows' labels) when the caller has them already."""
        if weights is None:
            labels = sorted({lab for r in rows for lab in r[2]})
            weights = {p: self.weights(p, labels) for p in prompts}  # checked even without rows
        return [(a, b, {p: max((w * t.get(c, 0.0) for c, w in weights[p].items()), default=0.0) for p in prompts})
                for a, b, t in rows]


@functools.lru_cache(maxsize=1)
def default_prompts() -> AudioSetPrompts:
    return AudioSetPrompts()


def _label_vecs(labels: Sequence[str], encode: Encoder | None) -> dict[str, np.ndarray]:
    """{label: vector} for `labels`: through `encode` in one batch, or the default MiniLM's vectors,
    kept per encoder where perception keeps its label vectors (`avu.perception.embed.embed_labels`)."""
    labels = list(dict.fromkeys(labels))
    if not labels:
        return {}
    if encode is None:
        from avu.models.text import load_minilm
        from avu.perception.embed import embed_labels

        return dict(zip(labels, embed_labels(load_minilm(), labels).astype(np.float64)))
    return dict(zip(labels, np.asarray(encode(labels), np.float64)))


def agreement_rows(segs: Sequence[dict], *, encode: Encoder | None = None, agree: float = AGREE) -> list:
    """(start, end, {"<seen> + <heard>": score}) per segment where a thing seen and a sound heard agree."""
    tagged = []
    for s in segs:
        seen = {**_tags(s.get("seen_json")), **{o[0]: float(o[1]) for o in json.loads(s.get("objects_json") or "[]")}}
        tagged.append((s["start"], s["end"], seen, _tags(s.get("heard_json"))))
    vecs = _label_vecs([lab for _, _, seen, heard in tagged for lab in (*seen, *heard)], encode)
    rows = []
    for start, end, seen, heard in tagged:
        pairs = {}
        if seen and heard:
            sim = np.stack([vecs[a] for a in seen]) @ np.stack([vecs[b] for b in heard]).T
            for (i, (a, sa)), (j, (b, sb)) in itertools.product(enumerate(seen.items()), enumerate(heard.items())):
                if sim[i, j] >= agree:
                    pairs[f"{a} + {b}"] = min(sa, sb)
        rows.append((start, end, pairs))
    labels = {lab for _, _, t in rows for lab in t}
    return [(a, b, {lab: t.get(lab, 0.0) for lab in labels}) for a, b, t in rows]


def perceived_events(segs: Sequence[dict], *, threshold: float, min_duration: float, smoothing: int,
                     prompts: Sequence[str] | None = None, visual: bool = False,
                     scored: list | None = None) -> list[Event]:
    """Sound (or prompt) events from the AudioSet tags; with `visual`, object and agreement events too.
    `scored`: the prompts' rows (`AudioSetPrompts.rows` of `sound_rows(segs)`) when already made."""
    rows = sound_rows(segs)
    kind = "sound"
    if prompts is not None:
        rows, kind = (default_prompts().rows(rows, list(prompts)) if scored is None else scored), "prompt"
    found = detect_events(rows, threshold=threshold, min_duration=min_duration, smoothing=smoothing, kind=kind)
    if visual:
        orows, counts = object_rows(segs)
        objs = detect_events(orows, threshold=threshold, min_duration=min_duration, smoothing=smoothing, kind="object")
        found += with_counts(objs, counts, segs)
        found += detect_events(agreement_rows(segs), threshold=threshold, min_duration=min_duration,
                               smoothing=smoothing, kind="audio-visual")
    return found


__all__ = ["AGREE", "AUDIOSET_THRESHOLD", "ESC10_THRESHOLD", "AudioSetPrompts", "agreement_rows", "object_rows",
           "perceived_events", "sound_rows", "with_counts"]
