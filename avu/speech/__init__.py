"""Speech: what is said in a media file and when.

`asr` turns the audio track of any media file into a timed `Transcript` (Whisper tiny.en through
faster-whisper, pocketsphinx as an offline fallback); `align` matches subtitle cues to the spoken
words to find and fix a subtitle file's offset and drift. The ASR quality evaluation is
`avu.eval.asr`, the commands `avu transcribe` / `avu align` live in `avu.cli.speech`.
"""
