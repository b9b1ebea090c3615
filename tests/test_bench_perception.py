"""`avu bench perception`'s ingest part on one short shared clip: a real ingest with every
perception model on, whose JSON carries the video seconds, the wall seconds and their ratio."""
from __future__ import annotations

import pytest

from tests.test_perception import needs_models


@pytest.mark.slow
@needs_models
def test_ingest_rt_factor_times_a_real_ingest_with_perception(shared_data):
    from avu.bench.perception import ingest_rt_factor
    from avu.media import probe

    clip = "big_buck_bunny_240p_5s.mp4"
    out = ingest_rt_factor(shared_data / "video", [clip], embedders=(1,))
    run = out["by_embedders"]["1"]
    assert run["video_seconds"] == pytest.approx(probe(shared_data / "video" / clip).duration, abs=0.01)
    assert 0 < run["run_s"] and out["ingest_rt_factor"] == pytest.approx(run["video_seconds"] / run["run_s"], rel=0.01)
    assert out["config"] == {"asr": "off", "speakers": "off", "perception": ["heard", "seen", "objects", "read"]}
