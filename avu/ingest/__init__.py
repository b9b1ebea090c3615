"""Ingest: turn videos into timed segment rows — the Ray-free parts of the job.

`IngestConfig` (what a run does), `discover` (which files; `IngestInputError` when the inputs name
nothing to ingest), `content_id` (a video's identity), `plan_video` (probe, segments, subtitles),
`Featurizer` (a batch of clips -> segment rows). The Ray pipeline in `pipelines/ingest.py` runs
these in decode and embed actors.

`Featurizer`, `VideoPlan` and `plan_video` are imported on first use (PEP 562), so a process that
needs one part (the index writer reads `avu.ingest.features.JOINT_DIM`) does not load the media
stack (torch, decoders) with it. `config` and `discover` are cheap and imported here: a lazy name
equal to its module's name (`discover`) would be shadowed by the module once anything imports it.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from avu.ingest.config import IngestConfig
from avu.ingest.discover import IngestInputError, content_id, discover

_LAZY = {"Featurizer": "avu.ingest.features", "VideoPlan": "avu.ingest.plan", "plan_video": "avu.ingest.plan"}

if TYPE_CHECKING:
    from avu.ingest.features import Featurizer
    from avu.ingest.plan import VideoPlan, plan_video


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'avu.ingest' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["Featurizer", "IngestConfig", "IngestInputError", "VideoPlan", "content_id", "discover", "plan_video"]
