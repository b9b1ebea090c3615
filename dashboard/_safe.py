"""Everything the dashboard lets reach the file system or the URL, checked in one place.

- A video is played only by its id in the index (`media_path`: a done video's own path, an
  existing regular file).
- Deep links (`?video=NAME&t=SECONDS`) name an indexed video by its id or by its file name when
  exactly one indexed video has it (`from_query`), never by a path: a link must not make the
  server open, hash or stat a file the index does not list. `link_name` writes the same names.
- Uploads are size- and type-checked (`upload_error`) and live only in a private temporary
  folder while the query is encoded (in the Search page).
- Reports are JSON files inside the reports folder (`report_files`: no symlink out of it).
"""
from __future__ import annotations

import math
import stat
from collections import Counter
from pathlib import Path
from typing import NamedTuple

MAX_UPLOAD_MB = 20
UPLOAD_TYPES = ("jpg", "jpeg", "png", "wav", "mp3", "flac", "ogg")


def media_path(idx, vid: str) -> Path | None:
    """The file of an indexed (done) video, by id only, if it is still a regular file; else None."""
    rows = [v for v in idx.videos() if v["video_id"] == vid]
    if not rows or not rows[0].get("path"):
        return None
    p = Path(rows[0]["path"])
    try:
        return p if stat.S_ISREG(p.stat().st_mode) else None
    except (OSError, ValueError):
        return None


def link_name(videos: list[dict], vid: str) -> str:
    """How a link names a video: its file name when no other indexed video has it, else its id."""
    names = Counter(Path(v["path"]).name for v in videos if v.get("path"))
    row = next((v for v in videos if v["video_id"] == vid), None)
    name = Path(row["path"]).name if row and row.get("path") else None
    return name if name and names[name] == 1 else vid


class Link(NamedTuple):
    """What a deep link asks for (a tuple, so `vid, t, problem = from_query(...)` reads it)."""

    video: str | None  # the video id; None when the link names no indexed video
    t: float  # seconds from the start, clamped to the video
    problem: str | None = None  # one line for the user when the link was (partly) refused


def from_query(idx, params) -> Link:
    """The `Link` in query parameters `video` (an id, or a file name only one video has) and `t`."""
    name, raw_t = params.get("video"), params.get("t", "0")
    if name is None:
        return Link(None, 0.0)
    videos = idx.videos()
    row = next((v for v in videos if v["video_id"] == name), None)
    if row is None:
        same = [v for v in videos if v.get("path") and Path(v["path"]).name == name]
        if len(same) != 1:
            why = "names several videos; use its id" if same else "names no video of this index"
            return Link(None, 0.0, f"The link {why}.")
        row = same[0]
    try:
        t = float(raw_t)
    except (TypeError, ValueError):
        t = float("nan")
    if not math.isfinite(t) or t < 0:
        return Link(row["video_id"], 0.0, "The link's time is not a number of seconds; starting at 0.")
    return Link(row["video_id"], min(t, float(row.get("duration") or 0.0)))


def upload_error(name: str, size: int) -> str | None:
    """Why an upload is refused (too large, or not an image or audio type), or None."""
    if size > MAX_UPLOAD_MB * 2**20:
        return f"Upload too large ({size / 2**20:.1f} MB > {MAX_UPLOAD_MB} MB)"
    if Path(name).suffix.lower().lstrip(".") not in UPLOAD_TYPES:
        return f"Unsupported upload type: {Path(name).suffix or 'none'} (images and audio only)"
    return None


def report_files(folder: Path) -> list[Path]:
    """The JSON reports under `folder`, leaving out anything that resolves outside it."""
    if not folder.is_dir():
        return []
    root = folder.resolve()
    return sorted(p for p in folder.rglob("*.json") if p.resolve().is_relative_to(root) and p.resolve().is_file())
