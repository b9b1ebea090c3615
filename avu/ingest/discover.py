"""Which files to ingest, and each one's identity (a hash of its content)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from avu.media import VIDEO_EXTENSIONS
from avu.media._errors import check_readable


def discover(paths: list[str | os.PathLike]) -> list[Path]:
    """Files as given; folders searched recursively for video extensions; a `.txt` file lists
    paths, one per line (relative to the list's folder; `#` comments). Sorted, unique.

    Paths that do not exist are kept, so that ingest records them as failed with the reason.
    """
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for root, dirs, files in os.walk(p):  # no symlinked folders: no loops
                dirs.sort()
                found += [Path(root) / f for f in sorted(files) if Path(f).suffix.lower() in VIDEO_EXTENSIONS]
        elif p.suffix.lower() == ".txt" and p.is_file():
            for line in p.read_text(errors="replace").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    q = Path(line)
                    found += discover([q if q.is_absolute() else p.parent / q])
        else:
            found.append(p)
    return list(dict.fromkeys(found))


def content_id(path: str | os.PathLike, *, chunk: int = 8 << 20) -> str:
    """blake2b-128 of the file's bytes (streamed): the same content has the same id anywhere."""
    p = check_readable(path)
    h = hashlib.blake2b(digest_size=16)
    with open(p, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
