"""Transcripts with speakers: a speaker label on every cue, and subtitle / JSON files that carry them.

`cue_speakers` gives each cue the speaker who talks most during it (`Diarization.speaker_between`;
a cue between turns takes the nearest turn within 0.5 s, else no label). `labelled_cues` writes
the label into the text as `[S1] ...`, the form `avu transcribe --speakers` puts in SRT and VTT.
`write_srt_with_speakers` writes `.srt` / `.vtt` with labels, or `.json` with the transcript,
each cue's speaker, the turns, talk time per speaker and the voice centroids.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from avu.media import Cue
from avu.speakers._types import Diarization
from avu.speech.asr import Transcript, write_cues_or_json

__all__ = ["cue_speakers", "labelled_cues", "transcript_with_speakers", "write_srt_with_speakers"]


def cue_speakers(cues: Sequence[Cue], diarization: Diarization) -> list[str | None]:
    """The speaker of each cue (None where nobody speaks near it)."""
    return [diarization.speaker_between(c.start, c.end) for c in cues]


def labelled_cues(cues: Sequence[Cue], diarization: Diarization) -> list[Cue]:
    """Cues whose text starts with their speaker, `[S1] text`; unlabelled cues are unchanged."""
    return [c if s is None else Cue(c.start, c.end, f"[{s}] {c.text}")
            for c, s in zip(cues, cue_speakers(cues, diarization))]


def transcript_with_speakers(t: Transcript, diarization: Diarization) -> dict:
    """The transcript as a dict (`Transcript.to_dict`), each cue with its `speaker`, plus the
    diarization (`speakers`, `talk_time_s`, `turns`, `centroids`, `reason`)."""
    d = t.to_dict()
    for cue, s in zip(d["cues"], cue_speakers(t.cues, diarization)):
        cue["speaker"] = s
    d["diarization"] = diarization.to_dict(centroids=True)
    return d


def write_srt_with_speakers(t: Transcript, diarization: Diarization, out: str | os.PathLike) -> Path:
    """Write `.srt` / `.vtt` cues labelled `[S1] ...`, or `.json` (see `transcript_with_speakers`)."""
    return write_cues_or_json(out, labelled_cues(t.cues, diarization),
                              lambda: transcript_with_speakers(t, diarization))
