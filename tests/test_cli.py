"""The `avu` command end to end: the decode benchmark's JSON and the demo's report."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest


def _avu(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avu", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the ffmpeg binary is needed as the reference")
def test_bench_decode_json(tiny_av):
    r = _avu("bench", "decode", "--clip", str(tiny_av), "--repeats", "1", "--size", "32", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["frames"] == 20 and out["ffmpeg_fps"] > 0
    assert set(out["backends"]) == {"decord", "pyav"}
    for b in out["backends"].values():
        assert b["fps_full"] > 0 and b["fps_1hz"] > 0
        assert b["ratio_vs_ffmpeg"] == pytest.approx(b["fps_full"] / out["ffmpeg_fps"], rel=0.01)


def test_demo_report(tiny_av, tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    shutil.copy(tiny_av, folder / "clip.mkv")
    (folder / "clip.srt").write_text("1\n00:00:00,500 --> 00:00:01,200\nthis audiobook is in the public domain\n")
    (folder / "broken.mp4").write_bytes(b"\x00" * 100)
    r = _avu("demo", str(folder), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (row,) = report["videos"]
    assert row["file"] == "clip.mkv" and row["segments"] == 1 and row["lines"] == 1
    assert row["first_lines"][0]["text"] == "this audiobook is in the public domain"
    assert report["failed"][0]["path"].endswith("broken.mp4")
    assert "not a readable media container" in report["failed"][0]["error"]
    first = report["queries"][0]
    assert first["hits"][0]["path"].endswith("clip.mkv") and first["hits"][0]["start"] == 0.5
    md = (tmp_path / "out" / "report.md").read_text()
    assert md.startswith("# avu demo report") and "Summaries" in md and "**sound: " in md
    assert "avu search" in r.stdout
    summary = row["summary"]
    assert summary["budget_seconds"] == pytest.approx(0.15 * row["duration"], abs=0.01)
    assert all(0 <= s["start"] < s["end"] <= row["duration"] + 0.01 for s in summary["shots"])
    assert [s["prompt"] for s in report["sounds"]] == ["a helicopter flying overhead", "water splashing"]


def test_clean_errors_passes_a_commands_own_exit_through():
    import typer

    from avu.cli._console import clean_errors

    @clean_errors
    def stops_normally():
        raise typer.Exit(0)  # e.g. the dashboard's subprocess ended normally

    @clean_errors
    def bad_value():
        raise ValueError("x.mp4: not a video")

    with pytest.raises(typer.Exit) as ok:
        stops_normally()
    assert ok.value.exit_code == 0
    with pytest.raises(typer.Exit) as err:
        bad_value()
    assert err.value.exit_code == 1
