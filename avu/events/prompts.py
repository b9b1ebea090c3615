"""Free-text sound prompts ("dog barking", "water") scored through the ESC-10 classes' meaning.

The index stores, per segment, the ESC-10 model's ten class probabilities; there is no audio
embedding to compare a sentence with. A prompt is therefore matched to the classes by what they
mean: each class gets a description built from the AudioSet ontology (the AudioSet classes that
correspond to it, `ESC10_AUDIOSET`, with the names of their parents and their descriptions, e.g.
dog = "Domestic animals, pets, Animal. Dog: ... Bark: ..."), read at run time from
`../shared/data/annotations/audioset/ontology.json` when it is there, else a short built-in
description (`FALLBACK`). Prompt and descriptions are embedded with MiniLM (cosine similarity).

- If the prompt's best class similarity is below `MIN_SIMILARITY`, it matches no known sound
  class and `UnknownPrompt` says so (instead of a score that means nothing).
- Otherwise the similarities become class weights, a softmax with temperature `TEMPERATURE`
  divided by its largest value (so the best class has weight 1, a class 0.1 less similar about
  0.37), and a segment's prompt score is `sum_c w_c p_c`, in [0, 1] because the p_c sum to one.
  "water" spreads over rain and sea waves; "dog barking" is essentially the dog probability.

The limit is the model's: ten classes (dog, rooster, rain, sea waves, crackling fire, crying
baby, sneezing, clock tick, helicopter, chainsaw). A prompt can only re-weight those ten.
`MIN_SIMILARITY` was set on 19 in-set prompts and 19 out-of-set ones ("piano music", "cat
meowing", "gunshot", ...). With the ontology: every in-set prompt's closest class is right, they
score 0.37-0.77 except the bare "woof" (0.23, rejected), out-of-set ones at most 0.34 (all
rejected). With the fallback: closest class right 19/19, "woof" (0.31) rejected, and 2 of 19
out-of-set prompts pass ("cat meowing" 0.36 -> rooster, "guitar" 0.35 -> chainsaw).
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from avu._paths import shared_data

TEMPERATURE = 0.1  # softmax temperature over cosine similarities
MIN_SIMILARITY = 0.35  # a prompt whose best class similarity is lower matches no known class

# ESC-10 label -> the AudioSet ontology classes it corresponds to (names exactly as in ontology.json)
ESC10_AUDIOSET: dict[str, tuple[str, ...]] = {
    "dog": ("Dog", "Bark"),
    "rooster": ("Chicken, rooster", "Crowing, cock-a-doodle-doo"),
    "rain": ("Rain", "Raindrop", "Rain on surface"),
    "sea_waves": ("Ocean", "Waves, surf"),
    "crackling_fire": ("Fire", "Crackle"),
    "crying_baby": ("Baby cry, infant cry",),
    "sneezing": ("Sneeze",),
    "clock_tick": ("Clock", "Tick", "Tick-tock"),
    "helicopter": ("Helicopter",),
    "chainsaw": ("Chainsaw",),
}

# used when the ontology file is absent (a fresh clone without ../shared/data)
FALLBACK: dict[str, str] = {
    "dog": "Dog barking: the bark of a dog, a woof or yap, growling and howling.",
    "rooster": "Rooster crowing: the cock-a-doodle-doo of a rooster, a male chicken, at dawn.",
    "rain": "Rain: water falling as raindrops, pattering on a roof, a window or the ground.",
    "sea_waves": "Sea waves: the water of the ocean, surf breaking and washing onto a beach.",
    "crackling_fire": "Crackling fire: a burning fire or campfire, wood crackling and popping in the flames.",
    "crying_baby": "Baby crying: an infant or young child crying and bawling.",
    "sneezing": "Sneezing: a person sneezes, a sudden expulsion of air through the nose and mouth.",
    "clock_tick": "Clock ticking: the steady tick-tock of a clock's mechanism.",
    "helicopter": "Helicopter: the chopping sound of a helicopter's rotor blades as it flies or hovers.",
    "chainsaw": "Chainsaw: the loud buzzing of a chainsaw's two-stroke motor cutting through wood.",
}


class UnknownPrompt(ValueError):
    """A prompt that matches none of the event model's classes."""


def ontology_path() -> Path:
    """`$AVU_SHARED_DATA/annotations/audioset/ontology.json`, else `../shared/data/...` beside the repo."""
    shared = shared_data()
    return Path(shared) / "annotations" / "audioset" / "ontology.json"


def _ontology(path: Path) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """Classes by name and each class id's parent ids, from an AudioSet ontology.json."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        by_name = {e["name"]: e for e in entries}
        parents: dict[str, list[str]] = {}
        for e in entries:
            for child in e.get("child_ids", []):
                parents.setdefault(child, []).append(e["id"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RuntimeError(f"{path}: not a readable AudioSet ontology ({e})") from None
    return by_name, parents


def class_descriptions(labels: Sequence[str], ontology: str | Path | None = None) -> dict[str, str]:
    """One description per label: AudioSet parents' names, then each class's name and description.

    `ontology=None` reads the shared ontology when present and falls back to `FALLBACK` when it
    is absent; an explicit path must exist. Unknown labels are an error naming them.
    """
    unknown = [lab for lab in labels if lab not in ESC10_AUDIOSET]
    if unknown:
        raise ValueError(f"no description for event classes {unknown}: prompts work with the ESC-10 labels "
                         f"{sorted(ESC10_AUDIOSET)}")
    path = Path(ontology) if ontology is not None else ontology_path()
    if not path.is_file():
        if ontology is not None:
            raise RuntimeError(f"AudioSet ontology not found: {path}")
        return {lab: FALLBACK[lab] for lab in labels}
    by_name, parents = _ontology(path)
    by_id = {e["id"]: e for e in by_name.values()}
    out = {}
    for lab in labels:
        names = ESC10_AUDIOSET[lab]
        missing = [n for n in names if n not in by_name]
        if missing:
            raise RuntimeError(f"{path}: AudioSet classes {missing} (for {lab!r}) not in the ontology")
        ups = [by_id[p]["name"] for n in names for p in parents.get(by_name[n]["id"], []) if p in by_id]
        ups = [u for u in dict.fromkeys(ups) if u not in names]
        body = " ".join(f"{n}: {by_name[n]['description'].strip()}" for n in names)
        out[lab] = (", ".join(ups) + ". " + body) if ups else body
    return out


Encoder = Callable[[list[str]], np.ndarray]  # texts -> L2-normalised embeddings [N, D]


def _minilm(texts: list[str]) -> np.ndarray:
    from avu.models.text import load_minilm

    return load_minilm().encode_text(texts)


class PromptScorer:
    """Prompts -> ESC-10 class weights -> per-segment scores (see the module docstring)."""

    def __init__(self, labels: Sequence[str], *, encode: Encoder | None = None, ontology: str | Path | None = None,
                 temperature: float = TEMPERATURE, min_similarity: float = MIN_SIMILARITY):
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.labels = list(labels)
        self.encode = encode or _minilm
        self.temperature, self.min_similarity = float(temperature), float(min_similarity)
        self.descriptions = class_descriptions(self.labels, ontology)
        self._classes = np.asarray(self.encode([self.descriptions[lab] for lab in self.labels]), dtype=np.float64)

    def similarities(self, prompt: str) -> dict[str, float]:
        """Cosine similarity of the prompt to each class description."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("a prompt must be non-empty text")
        q = np.asarray(self.encode([prompt.strip()]), dtype=np.float64)[0]
        return {lab: float(s) for lab, s in zip(self.labels, self._classes @ q)}

    def weights(self, prompt: str) -> dict[str, float]:
        """Class weights in (0, 1], the best class 1; `UnknownPrompt` when nothing matches."""
        sims = self.similarities(prompt)
        s = np.array([sims[lab] for lab in self.labels])
        if s.max() < self.min_similarity:
            best = self.labels[int(s.argmax())]
            raise UnknownPrompt(f"prompt {prompt!r} matches no known sound class (closest: {best}, similarity "
                                f"{s.max():.2f} < {self.min_similarity}); the event model knows only "
                                f"{', '.join(self.labels)}")
        w = np.exp((s - s.max()) / self.temperature)
        return {lab: float(x) for lab, x in zip(self.labels, w)}

    def score(self, prompt: str | Mapping[str, float], probs: Sequence[Mapping[str, float]]) -> list[float]:
        """Scores of a prompt (or its `weights`) for segments' class probabilities (label -> p)."""
        w = self.weights(prompt) if isinstance(prompt, str) else prompt
        return [min(1.0, sum(w[lab] * float(p.get(lab, 0.0)) for lab in self.labels)) for p in probs]


@functools.lru_cache(maxsize=4)
def default_scorer(labels: tuple[str, ...]) -> PromptScorer:
    """The process-wide scorer for these labels (MiniLM, the shared ontology when present)."""
    return PromptScorer(labels)


def prompt_rows(rows: Sequence[tuple[float, float, Mapping[str, float]]], prompts: Sequence[str], *,
                scorer: PromptScorer | None = None,
                weights: Mapping[str, Mapping[str, float]] | None = None,
                ) -> list[tuple[float, float, dict[str, float]]]:
    """Windows `(start, end, {label: p})` -> `(start, end, {prompt: score})` for each prompt.

    Every prompt is checked first (even without rows: a video without audio), so one that
    matches nothing fails before any work is done. `weights` ({stripped prompt: `scorer.weights`})
    when the caller has them already.
    """
    prompts = [p.strip() for p in prompts]
    if not prompts or any(not p for p in prompts):
        raise ValueError("prompts must be non-empty text")
    labels = tuple(sorted({k for r in rows for k in r[2]})) or tuple(ESC10_AUDIOSET)
    scorer = scorer or default_scorer(labels)
    if weights is None:
        weights = {p: scorer.weights(p) for p in prompts}  # checked even when there is nothing to score
    cols = {p: scorer.score(weights[p], [r[2] for r in rows]) for p in prompts}
    return [(r[0], r[1], {p: cols[p][i] for p in prompts}) for i, r in enumerate(rows)]


__all__ = ["ESC10_AUDIOSET", "FALLBACK", "MIN_SIMILARITY", "TEMPERATURE", "PromptScorer", "UnknownPrompt",
           "class_descriptions", "default_scorer", "ontology_path", "prompt_rows"]
