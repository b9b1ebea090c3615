"""The segment index (LanceDB): `IndexStore` reads and writes the tables; `open_index` gives the
query API (`Index.search -> [Hit]`)."""
from avu.index.api import Hit, Index, open_index
from avu.index.store import CUES, SEGMENTS, VIDEOS, IndexStore, InvalidIndex

__all__ = ["Hit", "Index", "open_index", "CUES", "IndexStore", "InvalidIndex", "SEGMENTS", "VIDEOS"]
