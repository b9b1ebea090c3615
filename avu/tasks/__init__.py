"""Tasks built on the media core: what avu does with media once it can read it.

`speech` turns the audio track of any media file into a timed `Transcript` (Whisper through
faster-whisper, with pocketsphinx as an offline fallback); `align` matches subtitle cues to the
spoken words to find and fix a subtitle file's offset and drift. The `avu transcribe`, `avu align`
and `avu eval asr` commands come from `_speech_cli`; the ASR quality benchmark is `avu.bench.asr`.
"""
