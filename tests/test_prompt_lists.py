"""The prompt figures the README quotes, re-run from the prompt lists in `tests/data/esc10_prompts.json`.

Each in-set prompt names the ESC-10 class it describes; the out-of-set prompts are sounds the ten
classes do not cover. The scorer is the real one (MiniLM, `MIN_SIMILARITY`), with the AudioSet
ontology's class descriptions and with the built-in fallback descriptions. Measured when the
lists were written (and asserted exactly, since MiniLM is deterministic on CPU up to rounding far
below the margins here):

| descriptions | in-set: closest class right | in-set: accepted | out-of-set: refused |
|---|---|---|---|
| ontology | 20 / 20 | 19 / 20 ("woof" 0.23) | 18 / 20 (birds -> rooster 0.41, airplane -> helicopter 0.42) |
| fallback | 20 / 20 | 19 / 20 ("woof" 0.31) | 16 / 20 (cat, guitar, birds, door slam) |
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from avu.events import prompts as P

LISTS = json.loads((Path(__file__).parent / "data" / "esc10_prompts.json").read_text())


def _figures(scorer: P.PromptScorer) -> dict[str, int]:
    right = accepted = refused = 0
    for prompt, label in LISTS["in_set"].items():
        s = scorer.similarities(prompt)
        best = max(s, key=s.get)
        right += best == label
        accepted += s[best] >= scorer.min_similarity
    for prompt in LISTS["out_of_set"]:
        with _Refused() as r:
            scorer.weights(prompt)
        refused += r.refused
    return {"in_set": len(LISTS["in_set"]), "right": right, "accepted": accepted,
            "out_of_set": len(LISTS["out_of_set"]), "refused": refused}


class _Refused:
    """Context manager: records whether the block raised `UnknownPrompt` (and swallows only that)."""

    refused = False

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        self.refused = kind is not None and issubclass(kind, P.UnknownPrompt)
        return self.refused


def test_the_lists_are_well_formed():
    assert len(LISTS["in_set"]) == 20 and len(LISTS["out_of_set"]) == 20
    assert set(LISTS["in_set"].values()) == set(P.ESC10_AUDIOSET)  # every class has a prompt
    assert not set(LISTS["in_set"]) & set(LISTS["out_of_set"])


@pytest.mark.shared
def test_prompt_figures_with_the_ontology(shared_data):
    torch.set_num_threads(1)
    ontology = shared_data / "annotations" / "audioset" / "ontology.json"
    scorer = P.PromptScorer(tuple(P.ESC10_AUDIOSET), ontology=ontology)
    assert _figures(scorer) == {"in_set": 20, "right": 20, "accepted": 19, "out_of_set": 20, "refused": 18}


def test_prompt_figures_with_the_fallback_descriptions(tmp_path, monkeypatch):
    monkeypatch.setenv("AVU_SHARED_DATA", str(tmp_path))  # no ontology there: the built-in descriptions
    torch.set_num_threads(1)
    scorer = P.PromptScorer(tuple(P.ESC10_AUDIOSET))
    assert scorer.descriptions == {lab: P.FALLBACK[lab] for lab in P.ESC10_AUDIOSET}
    assert _figures(scorer) == {"in_set": 20, "right": 20, "accepted": 19, "out_of_set": 20, "refused": 16}
