"""The segment store (LanceDB): `IndexStore` reads and writes the `videos`, `segments` and `cues`
tables with per-video atomic commits; `ann` builds and probes the approximate vector indexes;
`naming.find_video` is the one way to name a video (id, path, `~` path, or a unique file name).

This layer knows tables and rows, not queries: the query API (`avu.index.Index`) sits on top of it.
"""
from avu.store.naming import UnknownVideo, find_video
from avu.store.tables import CUES, SEGMENTS, VIDEOS, IndexStore, InvalidIndex

__all__ = ["CUES", "IndexStore", "InvalidIndex", "SEGMENTS", "UnknownVideo", "VIDEOS", "find_video"]
