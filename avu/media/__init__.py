"""Reading real media: probe, frames, audio, log-mel, segments, clips and subtitles.

The public API is re-exported here; decoder backends live in private modules (`_decord`, `_pyav`).
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
from avu.media.audio import AudioFile, log_mel, read_audio
from avu.media.clips import ClipReader, iter_clips, read_clip, segments
from avu.media.frames import VideoFile, read_frames, sample_times
from avu.media.probe import probe
from avu.media.subtitles import (
    Sidecar,
    assign_cues,
    find_sidecars,
    read_subtitles,
    write_subtitles,
)

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".wmv", ".flv")

__all__ = [
    "Audio", "AudioFile", "ClipReader", "CorruptMedia", "Cue", "EmptyMedia", "Frames", "MediaError", "MediaInfo",
    "MediaNotFound", "MediaTooLarge", "NoAudioStream", "NoVideoStream", "Segment", "Sidecar", "SubtitleError",
    "UnreadableMedia", "VIDEO_EXTENSIONS", "VideoFile", "assign_cues", "find_sidecars",
    "iter_clips", "log_mel", "probe", "read_audio", "read_clip", "read_frames", "read_subtitles",
    "sample_times", "segments", "write_subtitles",
]
