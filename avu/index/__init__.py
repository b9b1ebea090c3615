"""The segment index (LanceDB): `IndexStore` reads and writes the `videos` and `segments` tables."""
from avu.index.store import SEGMENTS, VIDEOS, IndexStore, InvalidIndex

__all__ = ["IndexStore", "InvalidIndex", "SEGMENTS", "VIDEOS"]
