"""Speakers: who speaks when in a media file, and what each voice sounds like.

`diarize(path)` finds speech (`avu.speech.vad`), embeds short windows with a pretrained GE2E voice
encoder (Resemblyzer's weights, `encoder`), clusters them with the number of speakers estimated
(`cluster`) and returns a `Diarization`: `Turn`s labelled `S1`, `S2`, ... in order of first
appearance, with one 256-d voice centroid per speaker for search by voice (`voice_of(path)` embeds
a query recording's speech the same way). `transcript` labels subtitle cues with their speaker. The
evaluation is `avu.eval.diarization`, the speed benchmark `avu.bench.diarization`.

The diarizer and the voice encoder (torch) are imported lazily, so reading stored turns (the
`Diarization` type, as a text search does) does not import torch.
"""
from avu.speakers._types import EMBEDDING_DIM, Diarization, Turn

_LAZY = {"DiarizeConfig": "diarizer", "diarize": "diarizer", "diarize_audio": "diarizer", "voice_of": "diarizer",
         "embed_voice": "encoder"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"avu.speakers.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'avu.speakers' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])


__all__ = ["EMBEDDING_DIM", "Diarization", "Turn", *_LAZY]
