"""The segment store (LanceDB): `IndexStore` reads and writes the `videos`, `segments` and `cues`
tables with per-video atomic commits; `ann` builds and probes the approximate vector indexes.

This layer knows tables and rows, not queries: the query API (`avu.index.Index`) sits on top of it.
"""
from avu.store.tables import CUES, SEGMENTS, VIDEOS, IndexStore, InvalidIndex

__all__ = ["CUES", "IndexStore", "InvalidIndex", "SEGMENTS", "VIDEOS"]
