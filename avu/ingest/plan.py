"""`plan_video`: what ingest will do with one file — its id, probe info, segments, the text
of each segment from sidecar subtitles (or speech recognition when there are none), and who speaks
when (`avu.speakers.diarize()`): every cue becomes a `SpokenCue` that names its speaker (`S1`, ...)."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from avu.ingest.config import IngestConfig
from avu.ingest.discover import content_id
from avu.media import (
    Cue,
    MediaError,
    MediaInfo,
    assign_cues,
    find_sidecars,
    probe,
    read_audio,
    read_subtitles,
    segments,
)
from avu.media.subtitles import segment_text


@dataclass(frozen=True)
class SpokenCue(Cue):
    """A cue and who says it (`S1`, `S2`, ... of the video's diarization; None: unknown)."""

    speaker: str | None = None


@dataclass
class VideoPlan:
    video_id: str  # content hash
    path: str
    info: MediaInfo
    spans: list[tuple[float, float]]  # segment (start, end) seconds, in order
    texts: list[str | None]  # subtitle/ASR text per segment (None: nothing said)
    text_source: str | None = None  # "file:<name>", "asr:<model>" or None
    language: str | None = None
    notes: list[str] = field(default_factory=list)  # warnings worth keeping (repaired subtitles...)
    cues: list = field(default_factory=list)  # the timed lines (SpokenCue) the texts come from
    speakers: object = None  # avu.speakers.Diarization (None: not diarized: no audio, or turned off)

    @property
    def speakers_json(self) -> str | None:
        """The diarization (turns, talk time, voice centroids, reason) as stored on the videos row."""
        import json

        return None if self.speakers is None else json.dumps(self.speakers.to_dict(centroids=True))


class _SpeechAudio:
    """The file's first audio stream at 16 kHz mono, decoded at most once for ASR and diarization."""

    RATE = 16000  # what Whisper, the VAD and the speaker encoder take

    def __init__(self, path: str):
        self.path, self._audio = path, None

    def get(self):
        if self._audio is None:
            self._audio = read_audio(self.path, sr=self.RATE)
        return self._audio


def _speech_cues(path: str, info: MediaInfo, cfg: IngestConfig, notes: list[str], audio: _SpeechAudio):
    """Cues and source for the segment text: a sidecar file first, else ASR when enabled."""
    for side in find_sidecars(path):
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                cues = read_subtitles(side.path, repair=True)
            notes += [str(w.message) for w in caught]
            return cues, f"file:{side.path.name}", side.language
        except MediaError as e:  # a broken sidecar: note it, try the next one, then ASR
            notes.append(str(e))
    if cfg.asr == "auto" and info.has_audio:
        try:
            from avu.speech.asr import transcribe_audio
        except ImportError:
            notes.append("asr unavailable: avu.speech.asr is not installed")
            return [], None, None
        t = transcribe_audio(audio.get())
        return t.cues, f"asr:{Path(str(t.model)).name}", t.language
    return [], None, None


def _diarize(path: str, info: MediaInfo, cfg: IngestConfig, notes: list[str], audio: _SpeechAudio):
    """Who speaks when, or None (no audio, or `speakers: off`). A file without speech gets a
    Diarization without turns, its reason in the notes; a decoding failure is a note, not an error."""
    if cfg.speakers != "auto" or not info.has_audio:
        return None
    from avu.speakers import diarize_audio

    try:
        d = diarize_audio(audio.get())
    except MediaError as e:
        notes.append(f"speakers: {e}")
        return None
    if d.reason:
        notes.append(f"speakers: none ({d.reason})")
    return d


def plan_video(path: str | os.PathLike, cfg: IngestConfig, *, video_id: str | None = None,
               info: MediaInfo | None = None) -> VideoPlan:
    """Hash, probe, segment and attach text. Raises `MediaError` for a file ingest cannot use."""
    path = str(path)
    vid = video_id or content_id(path)
    info = info or probe(path)
    segs = segments(info.duration, window=cfg.window, hop=cfg.hop)
    spans = [(s.start, s.end) for s in segs]
    if not spans:
        raise MediaError(path, "no segment: the duration is zero")
    notes: list[str] = []
    audio = _SpeechAudio(path)  # ASR and diarization share one decode of the sound
    cues, source, language = _speech_cues(path, info, cfg, notes, audio)
    who = _diarize(path, info, cfg, notes, audio)
    if who is not None:
        cues = [SpokenCue(c.start, c.end, c.text, who.speaker_between(c.start, c.end)) for c in cues]
    texts = [segment_text(c) or None for c in assign_cues(cues, segs)]
    return VideoPlan(video_id=vid, path=path, info=info, spans=spans, texts=texts,
                     text_source=source if cues else None, language=language if cues else None, notes=notes,
                     cues=list(cues), speakers=who)
