"""Speakers: who speaks when in a media file, and what each voice sounds like.

`diarize(path)` finds speech (`avu.speech.vad`), embeds short windows with a pretrained GE2E voice
encoder (Resemblyzer's weights, `encoder`), clusters them with the number of speakers estimated
(`cluster`) and returns a `Diarization`: `Turn`s labelled `S1`, `S2`, ... in order of first
appearance, with one 256-d voice centroid per speaker for search by voice (`voice_of(path)` embeds
a query recording's speech the same way). `transcript` labels subtitle cues with their speaker. The
evaluation is `avu.eval.diarization`, the speed benchmark `avu.bench.diarization`.
"""
from avu.speakers._types import EMBEDDING_DIM, Diarization, Turn
from avu.speakers.diarize import DiarizeConfig, diarize, diarize_audio, voice_of
from avu.speakers.encoder import embed_voice

__all__ = ["EMBEDDING_DIM", "Diarization", "DiarizeConfig", "Turn", "diarize", "diarize_audio", "embed_voice",
           "voice_of"]
