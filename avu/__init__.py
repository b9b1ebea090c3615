"""avu: audio-visual video understanding.

Decode and segment real media (`avu.media`), and — as the other parts land — embed, index and
search what is seen, heard and said, with timestamps. Nothing downloads at run time: hub access is
switched off here unless the caller has set these variables already.
"""
import os as _os

_os.environ.setdefault("HF_HUB_OFFLINE", "1")
_os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from avu.media import (  # noqa: E402  (the environment above must be set first)
    Audio,
    Cue,
    Frames,
    MediaError,
    MediaInfo,
    Segment,
)

__version__ = "0.1.0"
__all__ = ["Audio", "Cue", "Frames", "Hit", "Index", "MediaError", "MediaInfo", "Segment", "__version__",
           "open_index"]


def __getattr__(name):  # the index API loads LanceDB: import it on first use only
    if name in ("open_index", "Index", "Hit"):
        from avu import index

        return getattr(index, name)
    raise AttributeError(f"module 'avu' has no attribute {name!r}")
