"""The query API over an index folder: `open_index(dir) -> Index`, `Index.search -> SearchResult`
(a list of `Hit`), the fusion rule (`fusion`), fused candidate scoring (`fused`), why hits matched
(`explain`), its calibration on shared data (`calibrate`), and query by example (`by_example`:
images, sounds and clips through a trained checkpoint)."""
from avu.index.api import Hit, Index, SearchResult, open_index

__all__ = ["Hit", "Index", "SearchResult", "open_index"]
