"""Reading real media: probe, frames, audio, log-mel, segments, clips and subtitles.

The public API is re-exported here (the readers load on first use); decoder backends live in
private modules (`_decord`, `_pyav`).
"""
from avu.media._errors import (
    CorruptMedia,
    EmptyMedia,
    MediaError,
    MediaNotFound,
    MediaTooLarge,
    NoAudioStream,
    NoVideoStream,
    SubtitleError,
    UnreadableMedia,
)
from avu.media._types import Audio, Cue, Frames, MediaInfo, Segment
from avu.media.probe import probe

# The rest loads on first use (numpy, PyAV's decoders, pysubs2), so probing a file stays light.
_LAZY = {
    "AudioFile": "audio", "log_mel": "audio", "read_audio": "audio",
    "ClipReader": "clips", "iter_clips": "clips", "read_clip": "clips", "segments": "clips",
    "VideoFile": "frames", "read_frames": "frames", "sample_times": "frames",
    "Sidecar": "subtitles", "assign_cues": "subtitles", "find_sidecars": "subtitles",
    "read_subtitles": "subtitles", "write_subtitles": "subtitles",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"avu.media.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'avu.media' has no attribute {name!r}")


VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".wmv", ".flv")

__all__ = [
    "Audio", "AudioFile", "ClipReader", "CorruptMedia", "Cue", "EmptyMedia", "Frames", "MediaError", "MediaInfo",
    "MediaNotFound", "MediaTooLarge", "NoAudioStream", "NoVideoStream", "Segment", "Sidecar", "SubtitleError",
    "UnreadableMedia", "VIDEO_EXTENSIONS", "VideoFile", "assign_cues", "find_sidecars",
    "iter_clips", "log_mel", "probe", "read_audio", "read_clip", "read_frames", "read_subtitles",
    "sample_times", "segments", "write_subtitles",
]
