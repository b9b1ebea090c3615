"""Which files to ingest, and each one's identity (a hash of its content).

`discover` is the input check that runs before any cluster starts: a path named on the command
line that does not exist, a folder without a single video, or a list naming nothing raises
`IngestInputError` (a usage error, naming the path) instead of becoming a permanent failed row.
A file that exists but is not a usable video is kept: ingest records it as `failed` with the reason.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


class IngestInputError(ValueError):
    """The inputs of an ingest name nothing to ingest (a missing path, a folder with no videos)."""


def _videos_in(folder: Path) -> list[Path]:
    from avu.media import VIDEO_EXTENSIONS  # here: importing this module stays cheap (see avu.ingest)

    found: list[Path] = []
    for root, dirs, files in os.walk(folder):  # no symlinked folders: no loops
        dirs.sort()
        found += [Path(root) / f for f in sorted(files) if Path(f).suffix.lower() in VIDEO_EXTENSIONS]
    return found


def _listed(listing: Path) -> list[Path]:
    """Paths named by a `.txt` list, one per line (relative to the list's folder; `#` comments)."""
    out = []
    for line in listing.read_text(errors="replace").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            q = Path(line).expanduser()
            out.append(q if q.is_absolute() else listing.parent / q)
    return out


def discover(paths: list[str | os.PathLike]) -> list[Path]:
    """Files as given; folders searched recursively for video extensions; a `.txt` file lists
    paths, one per line. Unique, in the order given (each folder's files sorted).

    Raises `IngestInputError` for a given path that does not exist, a folder holding no video, a
    list naming none, or no path at all. An entry of a `.txt` list that does not exist is kept
    (one line of a long batch fails as a row with its reason; the batch goes on).
    """
    if not paths:
        raise IngestInputError("no input: name video files, folders or .txt lists of paths")
    return list(dict.fromkeys(_expand(paths, given=True)))


def _expand(paths: list[str | os.PathLike], *, given: bool) -> list[Path]:
    """`given`: the paths were typed by the user (a missing one is an error), not read from a list."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            videos = _videos_in(p)
            if not videos:
                from avu.media import VIDEO_EXTENSIONS

                raise IngestInputError(f"{p}: no video files in this folder (looked for "
                                       f"{', '.join(sorted(VIDEO_EXTENSIONS))})")
            found += videos
        elif p.suffix.lower() == ".txt" and p.is_file():
            listed = _expand(_listed(p), given=False)
            if not listed:
                raise IngestInputError(f"{p}: the list names no video")
            found += listed
        elif given and not os.path.lexists(p):
            raise IngestInputError(f"{p}: no such file or folder")
        else:
            found.append(p)
    return found


def content_id(path: str | os.PathLike, *, chunk: int = 8 << 20) -> str:
    """blake2b-128 of the file's bytes (streamed): the same content has the same id anywhere."""
    from avu.media._errors import check_readable

    p = check_readable(path)
    h = hashlib.blake2b(digest_size=16)
    with open(p, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
