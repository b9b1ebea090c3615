"""The query API over an index folder: `open_index(dir) -> Index`, `Index.search -> [Hit]`, and
query by example (`by_example`: images, sounds and clips through a trained checkpoint)."""
from avu.index.api import Hit, Index, open_index

__all__ = ["Hit", "Index", "open_index"]
