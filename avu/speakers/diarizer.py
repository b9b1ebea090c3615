"""Who speaks when: `diarize(path)` / `diarize_audio(audio)` -> `Diarization`.

The steps, all on the CPU and offline:

1. Voice activity (`avu.speech.vad`, the Silero VAD the ASR uses) finds the speech regions.
2. Windows of `window` seconds every `hop` seconds inside each region (one centred window for a
   shorter region) are embedded by the GE2E voice encoder (`avu.speakers.encoder`).
3. The embeddings are clustered with the number of speakers estimated (`avu.speakers.cluster`:
   windows straddling a change of voice set aside, average-linkage cosine cut at `threshold`,
   clusters covering under `min_cluster_s` seconds folded, then clusters merged while their
   similarity, corrected for how alike each one's own windows are, reaches `merge_similarity`).
   Windows are short (1 s, every 0.5 s) so one 1.3 s sentence of a voice gives two windows
   covering all of it, enough to found that voice's cluster.
4. Every 10 ms speech frame takes the speaker whose centroid is most similar to the windows covering
   it (each window weighted by a triangle peaking at its centre), and a run shorter than `min_turn`
   joins the neighbouring run that scores better on it. Turns are these runs; a turn's confidence is
   the mean softmax probability of its speaker over its frames.
5. Optionally (`overlap_margin` > 0; off by default, neutral on the dev conversations): where a
   turn of one speaker meets the next speaker's without a pause and the frames near the change are
   ambiguous (both speakers within the margin in similarity), both turns are extended over that
   stretch, so overlapping speech is marked as both speakers' rather than given to one side.

Speaker ids are `S1`, `S2`, ... in order of first appearance. Audio that is silent, has no speech or
too little for an embedding gives a `Diarization` without turns whose `reason` says which.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from avu.media import Audio, MediaError, read_audio
from avu.speakers._types import Diarization, Turn
from avu.speakers.cluster import centroids, cluster_windows
from avu.speakers.encoder import FRAME_S, SAMPLE_RATE, embed_voice, embed_windows, mel_frames
from avu.speech.asr import mono16k
from avu.speech.vad import VadConfig, speech_regions, total_speech

__all__ = ["DiarizeConfig", "SpeechWindows", "assign_speakers", "diarize", "diarize_audio", "embed_speech",
           "voice_of", "window_plan"]

_SILENT = 1e-4  # peak amplitude below which audio counts as silent


@dataclass(frozen=True)
class DiarizeConfig:
    """Settings of `diarize`; window, hop and the clustering settings were tuned on the development
    conversations of `avu.eval.diarization` (see its docstring), never on the reported ones."""

    window: float = 1.0  # seconds of audio per voice embedding
    hop: float = 0.5  # seconds between window starts inside a speech region
    threshold: float = 0.34  # cosine distance at which the over-clustering stops (average linkage)
    min_windows: int = 1  # a cluster with fewer windows joins the nearest larger one
    min_cluster_s: float = 1.0  # a cluster whose windows cover fewer seconds joins the nearest larger one
    merge_similarity: float = 0.82  # clusters merge while their corrected similarity is at least this
    within_prior: float = 0.7  # a cluster's own mean window cosine is shrunk toward this ...
    prior_weight: float = 1.0  # ... with the weight of this many window pairs
    change_similarity: float = 0.6  # a window whose two neighbours are less alike is set aside (0 = off)
    min_turn: float = 0.5  # seconds: shorter runs of one speaker join a neighbouring run
    min_speech: float = 0.8  # seconds of speech needed before any speaker is reported
    temperature: float = 10.0  # softmax scale on cosine similarities for turn confidence
    overlap_margin: float = 0.0  # similarity margin that marks a speaker change as overlap; 0 = off
    # (on the dev conversations 0.05 moved DER by +0.1 points: off by default)
    threads: int | None = 1  # torch threads for the voice encoder (None: the process setting)
    vad: VadConfig = field(default_factory=VadConfig)  # voice activity settings

    def __post_init__(self):
        if not 0 < self.hop <= self.window:
            raise ValueError(f"need 0 < hop <= window, got hop={self.hop}, window={self.window}")
        if not 0 < self.threshold < 2:
            raise ValueError(f"threshold is a cosine distance in (0, 2), got {self.threshold}")
        if self.min_windows < 1 or self.min_cluster_s < 0 or self.min_turn < 0 or self.min_speech <= 0 \
                or self.overlap_margin < 0 or self.prior_weight < 0 or not 0 <= self.within_prior <= 1:
            raise ValueError("min_windows >= 1, min_cluster_s >= 0, min_turn >= 0, min_speech > 0, "
                             "overlap_margin >= 0, prior_weight >= 0, 0 <= within_prior <= 1")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {self.threads}")


def window_plan(regions: list[tuple[int, int]], n_frames: int, w: int, h: int):
    """Window start frames and the frames each window speaks for ([a, b) support)."""
    starts, support = [], []
    for a, b in regions:
        if b - a <= w:
            starts.append(int(np.clip((a + b - w) // 2, 0, max(0, n_frames - w))))
            support.append((a, b))
            continue
        s = list(range(a, b - w + 1, h))
        if s[-1] != b - w:
            s.append(b - w)
        starts += s
        support += [(x, x + w) for x in s]
    return np.array(starts, dtype=np.int64), support


def _frame_scores(sims: np.ndarray, support, n_frames: int) -> np.ndarray:
    """[n_frames, k] triangle-weighted mean similarity of the windows covering each frame."""
    k = sims.shape[1]
    acc = np.zeros((n_frames, k))
    wsum = np.zeros(n_frames)
    for (a, b), s in zip(support, sims):
        t = np.arange(a, b)
        c, half = (a + b - 1) / 2, (b - a) / 2 + 1
        wt = 1.0 - np.abs(t - c) / half
        acc[a:b] += wt[:, None] * s[None, :]
        wsum[a:b] += wt
    return acc / np.maximum(wsum, 1e-9)[:, None]


def _smooth(labels: np.ndarray, scores: np.ndarray, min_len: int) -> np.ndarray:
    """Merge runs shorter than `min_len` frames into the neighbour that scores better on them."""
    labels = labels.copy()
    while True:
        edges = np.flatnonzero(np.diff(labels)) + 1
        bounds = list(zip(np.r_[0, edges], np.r_[edges, len(labels)]))
        if len(bounds) <= 1:
            return labels
        lengths = [b - a for a, b in bounds]
        i = int(np.argmin(lengths))
        if lengths[i] >= min_len:
            return labels
        a, b = bounds[i]
        cands = [labels[a - 1]] if i > 0 else []
        cands += [labels[b]] if i < len(bounds) - 1 else []
        labels[a:b] = max(cands, key=lambda c: scores[a:b, c].sum())


def _overlaps(turns: list[list], scores: np.ndarray, margin: float, reach: int) -> None:
    """Extend touching turns of different speakers over frames where both are within `margin`."""
    for left, right in zip(turns, turns[1:]):
        if left[0] == right[0] or right[1] != left[2]:
            continue
        cut = right[1]
        gap = np.abs(scores[:, left[0]] - scores[:, right[0]]) <= margin
        lo = cut
        while lo > max(left[1] + 1, cut - reach) and gap[lo - 1]:
            lo -= 1
        hi = cut
        while hi < min(right[2] - 1, cut + reach) and gap[hi]:
            hi += 1
        left[2], right[1] = hi, lo


def _empty(reason: str, duration: float, speech: float) -> Diarization:
    return Diarization(turns=(), centroids={}, duration=duration, speech=speech, reason=reason)


@dataclass(frozen=True, eq=False)
class SpeechWindows:
    """The embedding stage's output: speech regions and one voice embedding per window."""

    start: float  # file time of frame 0
    duration: float  # seconds of audio
    speech: float  # seconds of speech
    regions: list[tuple[int, int]]  # speech regions in 10 ms frames
    n_frames: int
    support: list[tuple[int, int]]  # frames each window speaks for
    emb: np.ndarray  # [windows, 256] unit embeddings
    hop_frames: int


def embed_speech(audio: Audio, *, config: DiarizeConfig = DiarizeConfig(),
                 speech: list[tuple[float, float]] | None = None) -> SpeechWindows | Diarization:
    """Steps 1-2: voice activity and window embeddings; a `Diarization` with a reason when the
    audio is silent, has no speech or too little of it."""
    wave = mono16k(audio)
    duration = wave.size / SAMPLE_RATE
    if wave.size == 0 or float(np.abs(wave).max()) < _SILENT:
        return _empty("the audio is silent", duration, 0.0)
    regions = speech_regions(wave, config=config.vad) if speech is None else sorted(speech)
    spoken = total_speech(regions)
    if spoken == 0:
        return _empty("no speech found (voice activity detection)", duration, 0.0)
    if spoken < config.min_speech:
        return _empty(f"too little speech for a voice embedding: {spoken:.2f} s, "
                      f"at least {config.min_speech:g} s needed", duration, spoken)
    mel = mel_frames(wave)
    n = len(mel)
    fr = [(max(0, int(round(a / FRAME_S))), min(n, int(round(b / FRAME_S)))) for a, b in regions]
    fr = [(a, b) for a, b in fr if b > a]
    w, h = int(round(config.window / FRAME_S)), int(round(config.hop / FRAME_S))
    starts, support = window_plan(fr, n, w, h)
    return SpeechWindows(audio.start, duration, spoken, fr, n, support,
                         embed_windows(mel, starts, min(w, n), threads=config.threads), h)


def assign_speakers(sw: SpeechWindows, *, config: DiarizeConfig = DiarizeConfig()) -> Diarization:
    """Steps 3-5: cluster the window embeddings and turn frame labels into speaker turns."""
    emb, n = sw.emb, sw.n_frames
    labels = cluster_windows(emb, threshold=config.threshold, min_windows=config.min_windows,
                             merge_similarity=config.merge_similarity, support=sw.support,
                             min_seconds=config.min_cluster_s, frame_s=FRAME_S,
                             within_prior=config.within_prior, prior_weight=config.prior_weight,
                             change_similarity=config.change_similarity)
    k = int(labels.max()) + 1
    cents = centroids(emb.astype(np.float64), labels, k)
    scores = _frame_scores(emb @ cents.T, sw.support, n)
    prob = np.exp(config.temperature * (scores - scores.max(1, keepdims=True)))
    prob /= prob.sum(1, keepdims=True)
    min_len = int(round(config.min_turn / FRAME_S))
    raw: list[list] = []  # [label, start frame, end frame]
    for a, b in sw.regions:
        lab = _smooth(scores[a:b].argmax(1), scores[a:b], min_len)
        edges = np.r_[0, np.flatnonzero(np.diff(lab)) + 1, b - a]
        raw += [[int(lab[s]), a + int(s), a + int(e)] for s, e in zip(edges[:-1], edges[1:])]
    if config.overlap_margin > 0:
        _overlaps(raw, scores, config.overlap_margin, reach=sw.hop_frames)
    names: dict[int, str] = {}
    turns = []
    for lab, a, b in sorted(raw, key=lambda r: r[1]):
        name = names.setdefault(lab, f"S{len(names) + 1}")
        conf = float(np.clip(prob[a:b, lab].mean(), 0.0, 1.0))
        turns.append(Turn(name, sw.start + a * FRAME_S, sw.start + b * FRAME_S, conf))
    cmap = {names[j]: cents[j].astype(np.float32) for j in names}
    return Diarization(turns=tuple(turns), centroids=cmap, duration=sw.duration, speech=sw.speech)


def diarize_audio(audio: Audio, *, config: DiarizeConfig = DiarizeConfig(),
                  speech: list[tuple[float, float]] | None = None) -> Diarization:
    """Diarize decoded audio; times are on the file's timeline (from `audio.start`).

    `speech`: speech regions already found (seconds from `audio.start`), to skip voice activity.
    """
    sw = embed_speech(audio, config=config, speech=speech)
    return sw if isinstance(sw, Diarization) else assign_speakers(sw, config=config)


def diarize(path: str | os.PathLike, *, config: DiarizeConfig = DiarizeConfig(),
            start: float | None = None, end: float | None = None) -> Diarization:
    """Diarize the first audio stream of a media file (or its [start, end) window).

    A file without audio raises `NoAudioStream`; unreadable files raise the matching `MediaError`.
    """
    return diarize_audio(read_audio(path, sr=SAMPLE_RATE, start=start, end=end), config=config)


def voice_of(path: str | os.PathLike, *, start: float | None = None, end: float | None = None,
             min_speech: float = DiarizeConfig.min_speech) -> np.ndarray:
    """One unit 256-d embedding of the voice in a recording (its speech only): the query of a
    search by voice, compared with the stored speaker centroids by cosine similarity.

    Raises `MediaError` naming the file when it holds too little speech to embed.
    """
    wave = mono16k(read_audio(path, sr=SAMPLE_RATE, start=start, end=end))
    regions = speech_regions(wave)
    spoken = total_speech(regions)
    if spoken < min_speech:
        raise MediaError(path, f"too little speech for a voice query: {spoken:.2f} s, at least {min_speech:g} s needed")
    speech = np.concatenate([wave[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)] for a, b in regions])
    return embed_voice(speech)
