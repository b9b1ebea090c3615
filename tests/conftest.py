"""Shared fixtures: the real media folder (skipped with a message when absent) and tiny media
files generated per session with exactly known frames, timestamps and sound.

`slow` is given in one place: a test is slow when it (or a fixture it uses) starts Ray, trains a
model or drives a browser — `make test-fast` (`-m "not slow"`) leaves those out.
"""
from __future__ import annotations

import contextlib
import inspect
import os
from pathlib import Path

import pytest

from tests import factory

SHARED = Path(os.environ.get("AVU_SHARED_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
# Fixtures that build an index through Ray (module-scoped or session-wide)
SLOW_FIXTURES = {"idx", "cluster", "index", "av_index", "shared_index", "clean", "local_ray", "browser"}
# What a test's own body does that makes it slow
SLOW_CALLS = ("run_ingest", "add_videos(", "ray.init", "ray_session(", "Cluster(", "webdriver.", "run_train(",
              "train_all(", "cross_validate(", "bench_ingest(", "bench_reliability(", "run_demo(", "fit(",
              '"avu", "train"', '"avu", "ingest"', "make_corpus(")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("slow"):
            continue
        fn = getattr(item, "function", None)
        try:
            body = inspect.getsource(fn) if fn else ""
        except (OSError, TypeError):
            body = ""
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or any(c in body for c in SLOW_CALLS):
            item.add_marker(pytest.mark.slow)


# -- one local Ray for every in-process Ray test ---------------------------------------------------
# `ray_session` uses a Ray that is already up, so the ingests of the suite share this one instead of
# paying ray.init + shutdown (~7 s) each. It starts only when a selected test is slow (Ray, training,
# browser). A test that joins a cluster of its own calls `ray.shutdown()` first; the suite's Ray is
# started again after it.
_RAY = contextlib.ExitStack()
_RAY_CPUS = 4  # the most any test's job asks for (2 decoders + 2 embedders)
_RAY_WANTED: list[bool] = []


def _start_shared_ray() -> None:
    import ray

    if not ray.is_initialized():
        from pipelines.ingest import ray_session

        _RAY.enter_context(ray_session(cpus=_RAY_CPUS))


@pytest.fixture(scope="session", autouse=True)
def shared_ray(request):
    if any(item.get_closest_marker("slow") for item in request.session.items):
        _RAY_WANTED.append(True)
        _start_shared_ray()
    yield
    _RAY.close()


@pytest.fixture(autouse=True)
def _shared_ray_back():
    yield
    if _RAY_WANTED:
        _start_shared_ray()  # after a test that left it for a cluster of its own


SHARED_CLIPS = ["big_buck_bunny_240p_5s.mp4", "big_buck_bunny_480p_30s.mp4", "big_buck_bunny_720p_30s.webm",
                "flower.webm", "manifesto.mp4", "tears_of_steel_battle.webm"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED / "video").is_dir():
        pytest.skip(f"../shared/data absent: {SHARED} not found (set AVU_SHARED_DATA to its path)")
    return SHARED


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def tiny_av(media_dir) -> Path:
    """20 lossless frames at 10 fps (64x48; frame i has red = 10*i) + 2 s of a 440 Hz tone."""
    return factory.make_video(media_dir / "tiny_av.mkv", audio=True)


@pytest.fixture(scope="session")
def tiny_video_only(media_dir) -> Path:
    return factory.make_video(media_dir / "tiny_video_only.mkv", audio=False)


@pytest.fixture(scope="session")
def tiny_audio_only(media_dir) -> Path:
    return factory.make_audio(media_dir / "tiny_audio_only.wav")


@pytest.fixture(scope="session")
def gop_video(media_dir) -> Path:
    """H.264, 40 frames at 10 fps, a keyframe every 10 frames (keyframes at 0, 1, 2, 3 s)."""
    return factory.make_video(media_dir / "gop.mp4", n=40, codec="libx264", pix_fmt="yuv420p",
                              options={"g": "10", "keyint_min": "10", "sc_threshold": "0", "bf": "0"})


@pytest.fixture(scope="session")
def long_gop_video(media_dir) -> Path:
    """H.264, 100 frames at 10 fps, a keyframe every 5 s (longer than the PyAV seek gap)."""
    return factory.make_video(media_dir / "long_gop.mp4", n=100, codec="libx264", pix_fmt="yuv420p",
                              options={"g": "50", "keyint_min": "50", "sc_threshold": "0", "bf": "0"})
