"""Errors raised when media cannot be read.

Every error names the file and the reason, so that a CLI can print one line and a batch job can
record it as a `failed` row and move on. All of them subclass `MediaError`.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class MediaError(Exception):
    """A media or subtitle file could not be used; `path` and `reason` say which and why."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # pickle as (path, reason): errors cross process boundaries (Ray)
        return (type(self), (self.path, self.reason))


class MediaNotFound(MediaError):
    """The path does not exist (or is a dangling symlink)."""


class UnreadableMedia(MediaError):
    """The path exists but cannot be read: permissions, a directory, a device, a symlink loop."""


class EmptyMedia(MediaError):
    """The file has zero bytes."""


class CorruptMedia(MediaError):
    """The bytes are not a readable container, or decoding failed or stopped early."""


class NoVideoStream(MediaError):
    """The file has no video stream (for example an audio-only file)."""


class NoAudioStream(MediaError):
    """The file has no audio stream (for example a video-only file)."""


class MediaTooLarge(MediaError):
    """Decoding would exceed a limit: a frame over the pixel limit (a decompression bomb), or more
    memory than the decode guard allows."""


class SubtitleError(MediaError):
    """A subtitle file cannot be parsed, is not in the stated encoding, or has invalid cues."""


def check_readable(path: str | os.PathLike) -> Path:
    """Validate that `path` is an existing, readable, non-empty regular file; return it as a Path.

    Raises the specific `MediaError` subclass that says what is wrong. Permission is checked by
    opening the file, so the check is also right for root (for whom `os.access` always succeeds
    on local files) and on file systems with ACLs.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        if p.is_symlink():
            raise MediaNotFound(p, "dangling symlink (its target does not exist)") from None
        raise MediaNotFound(p, "no such file") from None
    except PermissionError:
        raise UnreadableMedia(p, "permission denied (cannot reach the file)") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UnreadableMedia(p, "symlink loop") from None
        raise UnreadableMedia(p, f"cannot stat: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UnreadableMedia(p, "is a directory, not a media file")
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableMedia(p, "not a regular file")
    try:
        with open(p, "rb"):
            pass
    except PermissionError:
        raise UnreadableMedia(p, "permission denied") from None
    except OSError as e:
        raise UnreadableMedia(p, f"cannot open: {e.strerror}") from None
    if st.st_size == 0:
        raise EmptyMedia(p, "empty file (0 bytes)")
    return p
