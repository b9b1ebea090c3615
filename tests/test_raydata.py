"""Ingest on Ray Data's streaming executor (`pipelines/_raydata.py`, the measured alternative to
the driver): every video committed whole with the driver's rows, a missing file a `failed` row."""
from __future__ import annotations

from pathlib import Path

import pytest

from avu.store import IndexStore
from pipelines._raydata import run_raydata
from pipelines.ingest import IngestOptions, ray_session, run_ingest
from tests import factory
from tests.test_ingest import index_rows

CFG = factory.LEAN


@pytest.mark.slow
def test_raydata_indexes_what_the_driver_does(tmp_path):
    clips = [str(p) for p in factory.make_corpus(tmp_path / "corpus", 3, seconds=6, w=160, h=120)]
    with ray_session(cpus=3):
        results = run_raydata([*clips, str(tmp_path / "missing.mp4")], str(tmp_path / "rd"), CFG, decoders=1)
        run_ingest(clips, str(tmp_path / "driver"), IngestOptions(config=CFG, decoders=1))
    by_path = {Path(r.path).name: r for r in results}
    assert by_path["missing.mp4"].status == "failed" and by_path["missing.mp4"].error
    assert all(by_path[Path(c).name].status == "done" for c in clips)
    rows = index_rows(tmp_path / "rd")
    assert rows == index_rows(tmp_path / "driver")  # the same rows, whole
    assert IndexStore(tmp_path / "rd").segments.count_rows() == sum(len(v) for v in rows.values())
