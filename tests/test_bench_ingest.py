"""`avu bench ingest` on a tiny corpus: every key is there, the rates are measured (positive, and
consistent with the figures they come from), and the ffmpeg decode limit comes from a real run of
the ffmpeg binary on the same files."""
from __future__ import annotations

import shutil

import pytest

from avu.bench.ingest import bench_ingest
from tests import factory

KEYS = {"rt_factor_1", "rt_factor_2", "scaling_2_vs_1", "peak_rss_mb", "peak_rss_mb_1_decoder", "peak_rss_mb_one_clip",
        "peak_rss_mb_10x", "ffmpeg_decode_s",
        "ffmpeg_decode_rt_factor", "fraction_of_decode_limit", "writer_segments_per_s", "driver_calls_per_s",
        "startup_s_cold", "startup_s_warm", "warm_actors", "runs", "machine", "config"}


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the ffmpeg binary is not installed")
def test_bench_ingest_on_a_tiny_corpus(tmp_path):
    clips = factory.make_corpus(tmp_path / "clips", 2, seconds=4.0)
    out = bench_ingest(tmp_path, files=clips, copies=1, repeats=1, long_times=2)
    assert KEYS <= set(out), KEYS - set(out)
    assert out["video_seconds"] == pytest.approx(8.0, abs=0.3)
    for key in ("rt_factor_1", "rt_factor_2", "peak_rss_mb", "writer_segments_per_s", "driver_calls_per_s"):
        assert out[key] > 0, key
    # the decode limit is ffmpeg's measured wall time on these 8 s of video, not a constant
    assert 0 < out["ffmpeg_decode_s"] < 60
    assert len(out["ffmpeg_decode_s_runs"]) >= 2 and out["ffmpeg_decode_s"] == min(out["ffmpeg_decode_s_runs"])
    assert out["ffmpeg_decode_rt_factor"] == pytest.approx(out["video_seconds"] / out["ffmpeg_decode_s"], rel=0.02)
    assert out["fraction_of_decode_limit"] == pytest.approx(out["rt_factor_2"] / out["ffmpeg_decode_rt_factor"],
                                                            rel=0.02)
    assert out["rss_input_seconds"][1] == pytest.approx(2 * out["rss_input_seconds"][0], rel=0.05)
    assert out["runs"]["2_decoders"]["video_seconds"] == out["video_seconds"]
    assert out["peak_rss_mb"] >= out["runs"]["2_decoders"]["peak_rss_mb"] > 0  # the 2-decoder runs' peak
    assert out["config"]["speakers"] == "off" and out["config"]["perception"]["enable"] == []  # the pipeline alone
    assert out["driver_calls"] > 0 and out["writer_videos"] * out["writer_segments_per_video"] > 0
    assert out["warm_actors"] == 3  # the second ingest took the first one's decoder, embedder and writer
