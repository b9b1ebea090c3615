"""Ingest: turn videos into timed segment rows — the Ray-free parts of the job.

`IngestConfig` (what a run does), `discover` (which files; `IngestInputError` when the inputs name
nothing to ingest), `content_id` (a video's identity),
`plan_video` (probe, segments, subtitles), `Featurizer` (a batch of clips -> segment rows). The Ray
pipeline in `pipelines/ingest.py` runs these in decode and embed actors.
"""
from avu.ingest.config import IngestConfig
from avu.ingest.discover import IngestInputError, content_id, discover
from avu.ingest.features import Featurizer
from avu.ingest.plan import VideoPlan, plan_video

__all__ = ["Featurizer", "IngestConfig", "IngestInputError", "VideoPlan", "content_id", "discover", "plan_video"]
