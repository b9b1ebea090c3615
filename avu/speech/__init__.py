"""Speech: what is said in a media file and when, and where there is speech at all.

`asr` turns the audio track of any media file into a timed `Transcript` (Whisper tiny.en through
faster-whisper, pocketsphinx as an offline fallback), with a `SpeechGuard` that keeps music and
noise from becoming cues; `vad` finds speech regions (Silero, shared with `avu.speakers`); `align`
matches subtitle cues to the spoken words to find and fix a subtitle file's offset and drift, and
leaves correct subtitles alone. The ASR quality evaluation is `avu.eval.asr`, the commands
`avu transcribe` / `avu align` live in `avu.cli.speech`.
"""
