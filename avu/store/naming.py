"""One way to name an indexed video, everywhere (search clip queries, events, summaries, the
dashboard, the CLI): `find_video(store, name)` -> its `videos` row.

A name is, in this order:
1. the video id (the content hash ingest gave it);
2. the path it was indexed under, exactly as stored;
3. a path to the same file: absolute or relative to the working folder, `~` expanded, symbolic
   links resolved (compared with the stored paths resolved the same way), or failing that a file
   with the same content (its content hash is the id);
4. a bare file name (`manifesto.mp4`) that exactly one indexed video has.

A name that matches nothing raises `UnknownVideo` naming the index; a bare file name that several
videos share raises it listing them (path and id), so the user can pick one.
"""
from __future__ import annotations

import os
from pathlib import Path

from avu.store.tables import IndexStore, _quote


class UnknownVideo(ValueError):
    """No indexed video (or more than one) answers to the given name."""


def _status_sql(status: str | None) -> str:
    return f"status = {_quote(status)} AND " if status else ""


def find_video(store: IndexStore, video: str | os.PathLike, *, status: str | None = "done") -> dict:
    """The `videos` row (with `status`, default `done`; None: any) that `video` names."""
    key = str(video).strip()
    if not key:
        raise UnknownVideo("empty video name: give a video id, a path or a file name")
    pre = _status_sql(status)
    rows = store.video_rows(f"{pre}(video_id = {_quote(key)} OR path = {_quote(key)})")
    if rows:
        return rows[0]
    candidates = store.video_rows(pre[:-5] if pre else None)
    local = os.path.expanduser(key)
    real = os.path.realpath(local)
    same = [r for r in candidates if r["path"] and os.path.realpath(os.path.expanduser(r["path"])) == real]
    if not same and os.path.isfile(local):
        from avu.ingest.discover import content_id

        try:
            vid = content_id(local)
        except Exception:  # noqa: BLE001 - unreadable: fall through to the name match and its error
            vid = None
        same = [r for r in candidates if r["video_id"] == vid]
    if not same and "/" not in key and os.sep not in key:
        same = [r for r in candidates if r["path"] and Path(r["path"]).name == key]
    if len(same) == 1:
        return same[0]
    what = f"{status} " if status else ""
    if len(same) > 1:
        listed = "; ".join(f"{r['path']} (id {r['video_id']})" for r in sorted(same, key=lambda r: r["path"]))
        raise UnknownVideo(f"{key!r} names {len(same)} {what}videos in {store.uri}: {listed}; give a path or an id")
    raise UnknownVideo(f"no {what}video {key!r} in {store.uri} (give a video id, a path or a file name; "
                       "Index.videos() lists them)")


__all__ = ["UnknownVideo", "find_video"]
