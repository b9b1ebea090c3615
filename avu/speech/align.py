"""Subtitle-to-speech alignment: find how far (and how fast) a subtitle file is off, and fix it.

`estimate_offset(cues, words)` matches each cue's first words to the recognised words (normalised
text, one global `difflib.SequenceMatcher` over the two word sequences, so the match does not
depend on how far off the subtitles are), pairs each matched cue's start with the start of its
first spoken word, and fits `spoken = offset + scale * cue_start` robustly: Theil-Sen (median of
pairwise slopes), outliers dropped, then refit on the inliers. The drift term is kept only when it
is significant (more than three standard errors from 1); otherwise the fit is a pure offset, the
median difference, and that offset is applied only when it is significant too: its whole 95%
distribution-free confidence interval (order statistics of the inlier differences) lies beyond
+-`MIN_SHIFT`. Smaller or less certain offsets are within the recogniser's own timing error
(cue-start error 0.24-0.35 s on the shared speech, `avu eval asr`): the correct manifesto
subtitles measure +0.16 s (interval 0.14-0.24 s) and the sonnet's +0.31 s (0.02-0.88 s, 14 cues),
and both stay exactly as they are. `apply_alignment` maps cues through the fit, and `align_file` does the whole
job for a media file and its subtitles. `match_cues` and `normalize_words` are shared with the
ASR benchmark (`avu.bench.asr`).
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np

from avu.media import Cue, read_subtitles, write_subtitles
from avu.speech.asr import Engine, Transcript, Word, transcribe

__all__ = ["AlignResult", "AlignmentError", "MIN_SHIFT", "align_file", "apply_alignment", "estimate_offset",
           "match_cues", "median_ci", "normalize_words"]

_APOSTROPHES = re.compile(r"['\u2018\u2019`]")
_NON_WORD = re.compile(r"[^\w]+|_+")
_MIN_TOLERANCE = 0.5  # seconds: residuals below this never make a pair an outlier
_MIN_GAP = 0.001  # seconds: the shortest cue apply_alignment writes
MIN_SHIFT = 0.25  # seconds: a constant offset is applied only when surely longer than this
_CI_LEVEL = 0.95  # confidence level of the offset's interval


class AlignmentError(RuntimeError):
    """Too few subtitle cues could be matched to the recognised speech to estimate an offset."""


def normalize_words(text: str) -> list[str]:
    """Lowercase words without punctuation: "Feed'st thy light's" -> ["feedst", "thy", "lights"]."""
    return _NON_WORD.sub(" ", _APOSTROPHES.sub("", text.lower())).split()


@dataclass(frozen=True)
class AlignResult:
    """`spoken_time = offset + scale * subtitle_time`, fitted on `inliers` of `matched` cues."""

    offset: float  # seconds added at time 0 (negative: the subtitles come too late)
    scale: float  # 1.0 without drift
    drift: float  # seconds gained per hour of subtitle time: (scale - 1) * 3600
    matched: int  # cues whose first words were found in the speech
    total: int  # cues given
    inliers: int  # matched cues that agree with the fit
    residual: float  # median |error| of the inliers after the fit, seconds
    pairs: tuple[tuple[float, float], ...] = ()  # (cue start, spoken start) of each matched cue
    measured_offset: float = 0.0  # the median offset measured, applied or not
    offset_ci: tuple[float, float] = (0.0, 0.0)  # its 95% confidence interval, seconds
    significant: bool = True  # False: the offset was too small or too uncertain, nothing is moved

    def map(self, t: float) -> float:
        return self.offset + self.scale * t

    def to_dict(self) -> dict:
        return {"offset_s": round(self.offset, 4), "scale": self.scale,
                "drift_s_per_hour": round(self.drift, 3), "matched": self.matched,
                "total": self.total, "inliers": self.inliers, "residual_s": round(self.residual, 4),
                "measured_offset_s": round(self.measured_offset, 4),
                "offset_ci_s": [round(x, 4) for x in self.offset_ci], "significant": self.significant}


def _hyp_tokens(words: Sequence[Word]) -> tuple[list[str], list[int]]:
    tokens, owner = [], []
    for wi, w in enumerate(words):
        for tok in normalize_words(w.text):
            tokens.append(tok)
            owner.append(wi)
    return tokens, owner


def match_cues(cues: Sequence[Cue], words: Sequence[Word], *, max_skip: int = 2) -> list[tuple[int, int]]:
    """(cue index, word index) for each cue whose opening words were recognised.

    A cue matches where its first token starts a run of at least two matching tokens (or runs to
    the cue's end). When its first `max_skip` tokens were misrecognised ("audio book" heard as
    "audiobook"), the next matching token counts, and the unmatched recognised words just before
    it (at most as many as were skipped) stand for the cue's opening.
    """
    ref, cue_of = [], []
    spans: list[tuple[int, int]] = []
    for ci, c in enumerate(cues):
        toks = normalize_words(c.text)
        spans.append((len(ref), len(ref) + len(toks)))
        ref.extend(toks)
        cue_of.extend([ci] * len(toks))
    hyp, owner = _hyp_tokens(words)
    if not ref or not hyp:
        return []
    ref_to_hyp: dict[int, tuple[int, int]] = {}  # ref token -> (hyp token, tokens left in its run)
    matched_hyp = set()
    for a, b, size in SequenceMatcher(None, ref, hyp, autojunk=False).get_matching_blocks():
        for k in range(size):
            ref_to_hyp[a + k] = (b + k, size - k)
            matched_hyp.add(b + k)
    pairs = []
    for ci, (a, b) in enumerate(spans):
        for k in range(min(max_skip + 1, b - a)):
            hit = ref_to_hyp.get(a + k)
            if hit is None or hit[1] < min(2, b - a - k):
                continue
            j = hit[0]
            back = 0
            while back < k and j - back - 1 >= 0 and (j - back - 1) not in matched_hyp:
                back += 1
            if k and not back:
                continue  # the skipped words were not heard at all: this start would be late
            pairs.append((ci, owner[j - back]))
            break
    return pairs


def _theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    i, j = np.triu_indices(len(x), k=1)
    dx = x[j] - x[i]
    ok = dx > 1e-6
    slope = float(np.median((y[j] - y[i])[ok] / dx[ok])) if ok.any() else 1.0
    return float(np.median(y - slope * x)), slope


def _significant_slope(x: np.ndarray, y: np.ndarray, slope: float, intercept: float) -> bool:
    """Is `slope` more than three standard errors (least-squares formula) away from 1?"""
    if len(x) < 5:
        return False
    res = y - (intercept + slope * x)
    sxx = float(((x - x.mean()) ** 2).sum())
    if sxx <= 0:
        return False
    sigma = max(float(np.sqrt((res ** 2).sum() / (len(x) - 2))), 1e-3)
    return abs(slope - 1.0) > 3.0 * sigma / math.sqrt(sxx)


def median_ci(d: np.ndarray, level: float = _CI_LEVEL) -> tuple[float, float]:
    """Distribution-free confidence interval of the median: order statistics x(k), x(n-k+1) with k
    from the binomial(n, 1/2) quantile; [min, max] when there are too few values for `level`."""
    from scipy.stats import binom

    s = np.sort(np.asarray(d, dtype=np.float64))
    k = int(binom.ppf((1 - level) / 2, len(s), 0.5))
    if k < 1:
        return float(s[0]), float(s[-1])
    return float(s[k - 1]), float(s[len(s) - k])


def estimate_offset(cues: Sequence[Cue], words: Sequence[Word], *, drift: bool = True,
                    min_matched: int = 2) -> AlignResult:
    """Fit the map from subtitle time to spoken time; see the module docstring for how."""
    pairs = [(cues[ci].start, words[wi].start) for ci, wi in match_cues(cues, words)]
    if len(pairs) < min_matched:
        raise AlignmentError(f"matched {len(pairs)} of {len(cues)} cues to the speech "
                             f"({len(words)} words recognised); need at least {min_matched}")
    x = np.array([p[0] for p in pairs], dtype=np.float64)
    y = np.array([p[1] for p in pairs], dtype=np.float64)
    intercept, slope = _theil_sen(x, y) if drift else (float(np.median(y - x)), 1.0)
    res = np.abs(y - (intercept + slope * x))
    tol = max(_MIN_TOLERANCE, 3.0 * 1.4826 * float(np.median(res)))
    inl = res <= tol
    xi, yi = x[inl], y[inl]
    measured = float(np.median(yi - xi))
    ci = median_ci(yi - xi)
    significant = ci[0] >= MIN_SHIFT or ci[1] <= -MIN_SHIFT
    intercept, slope = (measured if significant else 0.0), 1.0
    if drift and len(xi) >= 5:
        b0, b = _theil_sen(xi, yi)
        if _significant_slope(xi, yi, b, b0):
            intercept, slope, significant = b0, b, True
    residual = float(np.median(np.abs(yi - (intercept + slope * xi))))
    return AlignResult(offset=intercept, scale=slope, drift=(slope - 1.0) * 3600.0,
                       matched=len(pairs), total=len(cues), inliers=int(inl.sum()),
                       residual=residual, pairs=tuple(pairs), measured_offset=measured,
                       offset_ci=ci, significant=significant)


def apply_alignment(cues: Sequence[Cue], result: AlignResult) -> list[Cue]:
    """Cues moved through the fit. Starts clamp at 0; cues that would end at or before 0 are dropped."""
    out = []
    for c in cues:
        start, end = result.map(c.start), result.map(c.end)
        if end <= 0:
            continue
        start = max(0.0, start)
        out.append(Cue(start, max(end, start + _MIN_GAP), c.text))
    return out


def align_file(media: str | os.PathLike, subs: str | os.PathLike, out: str | os.PathLike | None = None,
               *, model: str | os.PathLike | None = None, engine: Engine = "auto",
               transcript: Transcript | None = None) -> AlignResult:
    """Transcribe `media` (unless `transcript` is given), fit `subs` to it, write fixed cues to `out`."""
    cues = read_subtitles(subs)
    t = transcript if transcript is not None else transcribe(media, model=model, engine=engine)
    result = estimate_offset(cues, t.words)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_subtitles(apply_alignment(cues, result), out)
    return result
