"""avu: audio-visual video understanding.

Decode and segment real media (`avu.media`), embed, index and search what is seen, heard and said,
with timestamps (`avu.open_index`). Nothing downloads at run time: hub access is switched off here
unless the caller has set these variables already.

`import avu` is cheap: the names below are loaded on first use (the media types pull in torch, the
index API LanceDB), so the `avu` command and small scripts start fast.
"""
import os as _os

_os.environ.setdefault("HF_HUB_OFFLINE", "1")
_os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

__version__ = "0.1.0"
__all__ = ["Audio", "Cue", "Frames", "Hit", "Index", "MediaError", "MediaInfo", "Segment", "__version__",
           "open_index"]

_LAZY = {"Audio": "avu.media", "Cue": "avu.media", "Frames": "avu.media", "MediaError": "avu.media",
         "MediaInfo": "avu.media", "Segment": "avu.media", "Hit": "avu.index", "Index": "avu.index",
         "open_index": "avu.index"}


def __getattr__(name):
    """Load a public name from its module on first use, and keep it here."""
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'avu' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
