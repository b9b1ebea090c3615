"""The `avu` command: its modules, output conventions (one JSON document, 80-column tables, quiet on a
closed pipe, refused option values), a light start, the decode benchmark's JSON and the demo's report."""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

CLI = Path(__file__).resolve().parents[1] / "avu" / "cli"


def _avu(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avu", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the ffmpeg binary is needed as the reference")
def test_bench_decode_json(tiny_av):
    r = _avu("bench", "decode", "--clip", str(tiny_av), "--repeats", "1", "--size", "32", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["frames"] == 20 and out["ffmpeg_fps"] > 0
    assert set(out["backends"]) == {"decord", "pyav"}
    for b in out["backends"].values():
        assert b["fps_full"] > 0 and b["fps_1hz"] > 0 and b["ratio_vs_ffmpeg"] > 0
        # every backend timed the whole clip (20 frames at 10 fps), and one frame a second of its 2 s
        assert b["frames_full"] == 20 and b["frames_1hz"] == 2
        assert b["stream_frames"] == 4 and b["stream_cpu_s"] > 0  # 2 s at 2 fps, window by window


@pytest.mark.slow
def test_demo_report(tiny_av, tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    shutil.copy(tiny_av, folder / "clip.mkv")
    (folder / "clip.srt").write_text("1\n00:00:00,500 --> 00:00:01,200\nthis audiobook is in the public domain\n")
    (folder / "broken.mp4").write_bytes(b"\x00" * 100)
    r = _avu("demo", str(folder), "--out", str(tmp_path / "out"), timeout=900)  # Ray starts slowly on a busy machine
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (row,) = report["videos"]
    assert row["file"] == "clip.mkv" and row["segments"] == 1 and row["lines"] == 1
    assert row["first_lines"][0]["text"] == "this audiobook is in the public domain"
    assert report["failed"][0]["path"].endswith("broken.mp4")
    assert "not a readable media container" in report["failed"][0]["error"]
    first = report["queries"][0]
    top = first["hits"][0]  # the moment holds the line said (0.5-1.2 s) and names it
    assert top["path"].endswith("clip.mkv") and top["start"] <= 0.5 and top["end"] >= 1.2
    assert top["subtitle"] == "this audiobook is in the public domain"
    md = (tmp_path / "out" / "report.md").read_text()
    assert md.startswith("# avu demo report") and "Summaries" in md and "**sound: " in md
    assert "avu search" in r.stdout
    summary = row["summary"]  # 15% of a 2 s clip is too short for a shot: the report says so
    assert summary["budget_seconds"] == pytest.approx(0.15 * row["duration"], abs=0.01)
    assert summary["shots"] == [] and summary["reason"].startswith("15% of 2.0 s is 0.30 s, shorter than the shortest")
    assert f"none: {summary['reason']}" in md
    assert [s["prompt"] for s in report["sounds"]] == ["a helicopter flying overhead", "water splashing"]
    for snd in report["sounds"]:  # each says which threshold the events had to reach, and where
        (used,) = snd["thresholds"]  # one video: one sound source
        assert used["sounds"] in ("audioset", "esc10") and used["min_duration"] == 2.0
        assert snd["closest"]["file"] == "clip.mkv" and snd["closest"]["means"]  # what the prompt means
        if not snd["events"]:
            assert f"nothing reached {used['threshold']:g} (" in md and used["text"] in md
            assert f"it means {snd['closest']['means']}" in md


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


# -- the command's layout ---------------------------------------------------------------------------
def test_command_modules_stand_alone():
    """Each command module has its own typer app and imports no helper back from `avu.cli` itself."""
    from avu import cli

    modules = sorted(p.stem for p in CLI.glob("*.py") if not p.stem.startswith("_"))
    assert {"bench", "demo", "eval", "events", "ingest", "misc", "search", "speech", "summarize",
            "train"} <= set(modules)
    for name in modules:
        module = __import__(f"avu.cli.{name}", fromlist=["app"])
        assert isinstance(module.app, typer.Typer), name
        for node in ast.walk(ast.parse((CLI / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "avu.cli":
                raise AssertionError(f"avu/cli/{name}.py imports {[a.name for a in node.names]} from avu.cli")
    names = {c.name for c in typer.main.get_command(cli.app).commands.values()}
    assert {"probe", "ingest", "search", "events", "dashboard", "demo", "transcribe", "align", "summarize",
            "train", "train-esc10", "bench", "eval"} <= names


def test_help_and_import_load_nothing_heavy():
    """`avu --help` and `import avu` load neither torch, numpy, LanceDB nor Ray (what made them slow)."""
    code = ("import sys\nimport avu\nfrom avu.cli import app\n"
            "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted({m.split('.')[0] for m in sys.modules}), file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    loaded = set(eval(r.stderr.strip().splitlines()[-1]))
    assert "Usage" in r.stdout and not loaded & {"torch", "numpy", "lancedb", "ray", "pyarrow", "av"}, loaded


# -- output conventions -----------------------------------------------------------------------------
SAID = ("the history of all hitherto existing society is the history of class struggles, freeman and slave, "
        "patrician and plebeian")


class _Hit:
    """What the search command reads from a hit."""

    def __init__(self, i: int):
        self.path, self.start, self.end = f"/clips/tears_of_steel_battle_{i}.webm", 3.919 + i, 5.919 + i
        self.score, self.scores_by_modality, self.subtitle = 0.8, {"speech": 0.81, "seen": 0.27}, SAID
        self.matched = {"seen": [["assault rifle", 0.41]], "speech": [SAID]}

    def to_dict(self) -> dict:
        return {"path": self.path, "start": self.start, "end": self.end, "score": self.score,
                "scores_by_modality": self.scores_by_modality, "subtitle": self.subtitle, "events": None,
                "matched": self.matched}


class _Result(list):
    """What the search command reads from a search result (`avu.index.SearchResult`)."""

    def __init__(self, hits, *, weak=False, reason=None):
        super().__init__(hits)
        self.held, self.searched = ("speech", "seen", "visual"), ("speech", "seen")
        self.unavailable = {"visual": "no image query"} if hits else {}
        self.weak, self.weak_below, self.reason = weak, 0.35, reason


def _fake_index_module(calls: list) -> types.ModuleType:
    class Index:
        def search(self, query, k, where=None, modalities=None, weights=None):
            calls.append((query, k, modalities, weights))
            if query == "nothing":
                return _Result([], reason="no moment has anything in the searched modalities")
            return _Result([_Hit(i) for i in range(k)], weak=query == "a rabbit")

    module = types.ModuleType("avu.index")
    module.open_index = lambda path: Index()
    return module


@pytest.fixture
def calls() -> list:
    return []


@pytest.fixture
def search_app(monkeypatch, calls):
    """`avu search` (its own module's app) over a stand-in index; `calls` records each search."""
    from avu.cli import search

    monkeypatch.setitem(sys.modules, "avu.index", _fake_index_module(calls))
    return search.app


def test_modalities_and_weights_reach_the_search(search_app, calls):
    run = CliRunner().invoke
    assert run(search_app, ["IDX", "q", "-k", "1", "-m", "speech,seen", "-m", "read", "-w", "speech=2",
                            "--weight", "phrase=0"]).exit_code == 0
    assert calls == [("q", 1, ["speech", "seen", "read"], {"speech": 2.0, "phrase": 0.0})]
    assert run(search_app, ["IDX", "q", "-k", "1"]).exit_code == 0 and calls[-1] == ("q", 1, None, None)
    for bad in ("speech", "=2", "speech=two", "speech=nan", "speech=inf", "speech=-1"):
        r = run(search_app, ["IDX", "q", "-w", bad])
        assert r.exit_code == 1 and f"a finite number >= 0 (e.g. speech=2), got {bad!r}" in r.output
    for args, says in ((["-w", "speech=1", "-w", "speech=0"], "--weight speech is given twice (1 and 0)"),
                       (["-m", "seen", "-w", "heard=5"], "--weight heard: heard is not compared (-m seen)"),
                       (["-m", ","], "--modality names no modality"),
                       (["-m", "voice"], "give a recording with --voice")):
        r = run(search_app, ["IDX", "q", *args])
        assert r.exit_code == 1 and says in r.output, (args, r.output)
    assert run(search_app, ["IDX", "q", "-m", "seen", "-w", "phrase=0"]).exit_code == 0  # phrase is no modality
    assert len(calls) == 3  # the bad ones were refused before the index was opened


def test_json_is_one_document_with_a_trailing_newline(search_app):
    r = CliRunner().invoke(search_app, ["IDX", "class struggles", "--k", "3", "--json"])
    assert r.exit_code == 0, r.output
    assert r.stdout.endswith("]\n") and r.stdout.count("\n") == 1
    hits = json.loads(r.stdout)
    assert [h["start"] for h in hits] == pytest.approx([3.919, 4.919, 5.919]) and "events" not in hits[0]


@pytest.mark.parametrize("k", ["0", "-3"])
def test_k_below_one_is_refused(search_app, calls, k):
    r = CliRunner().invoke(search_app, ["IDX", "class struggles", "--k", k])
    assert r.exit_code == 2 and "--k" in r.output and "no hits" not in r.output
    assert calls == []  # refused before the index is opened


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def test_table_at_80_columns_keeps_the_whole_time_range_and_the_reason(search_app, monkeypatch):
    from avu.cli._console import console

    monkeypatch.setattr(console, "width", 80)
    r = CliRunner().invoke(search_app, ["IDX", "class struggles", "--k", "2"])
    assert r.exit_code == 0, r.output
    assert "00:00:03.919-00:00:05.919" in r.output and "00:00:04.919-00:00:05.919" not in r.output
    assert "00:00:04.919-00:00:06.919" in r.output
    assert max(len(line) for line in _lines(r.output)) <= 80
    for out in (r.output, _wide(search_app, console, monkeypatch)):  # the reason wraps, it is never cut
        assert _cells(out, 3) == [f'speech 0.81, seen 0.27 (assault rifle); said "{SAID}"'] * 2


def _cells(output: str, col: int) -> list[str]:
    """Column `col`'s text per table row (a row's wrapped lines joined; a row starts where the score
    column, the third, has text)."""
    rows: list[list[str]] = []
    for line in output.splitlines():
        cells = line.split("│")[1:-1]
        if len(cells) < 4:
            continue
        if cells[2].strip():
            rows.append([])
        rows[-1].append(cells[col].strip())
    return [" ".join(x for x in row if x) for row in rows]


def _wide(search_app, console, monkeypatch) -> str:
    monkeypatch.setattr(console, "width", 200)
    r = CliRunner().invoke(search_app, ["IDX", "class struggles", "--k", "2"])
    assert max(len(line) for line in _lines(r.output)) <= 200
    return r.output


def test_a_column_with_nothing_in_it_is_left_out():
    from rich.console import Console

    from avu.cli._output import Col, fit_table

    cols = [Col("video"), Col("time", no_wrap=True), Col("said", hide_empty=True)]
    out = Console(width=80, record=True)
    out.print(fit_table(cols, [["a.mp4", "00:00:01.000-00:00:03.000", ""]], width=80))
    assert "said" not in out.export_text()
    out.print(fit_table(cols, [["a.mp4", "00:00:01.000-00:00:03.000", "hello"]], width=80))
    text = out.export_text()
    assert "said" in text and "hello" in text


def test_search_says_what_it_searched(search_app):
    said = CliRunner().invoke(search_app, ["IDX", "class struggles", "--k", "1"]).output
    assert "searched speech, seen (the index holds speech, seen, visual)" in said
    assert "not searched: visual (no image query)" in said and "weak" not in said
    weak = CliRunner().invoke(search_app, ["IDX", "a rabbit", "--k", "1"]).output
    assert "weak: the best score 0.800 is below 0.35" in " ".join(weak.split())
    none = CliRunner().invoke(search_app, ["IDX", "nothing"])
    assert none.exit_code == 0 and "no hits: no moment has anything" in " ".join(none.output.split())
    as_json = CliRunner().invoke(search_app, ["IDX", "a rabbit", "--k", "1", "--json"])
    assert len(json.loads(as_json.stdout)) == 1 and "weak" in as_json.stderr  # notes stay off the JSON


def test_closed_pipe_is_quiet(tmp_path):
    """`avu search ... --json | head -c1`: the reader has gone when the JSON is written (here it is
    closed before the command starts, so the write surely fails); nothing may appear on stderr."""
    fake = tmp_path / "fake_index"
    fake.mkdir()
    (fake / "sitecustomize.py").write_text(  # a stand-in `avu.index`, installed before the command runs
        "import sys, types\n"
        "class Hit:\n"
        "    def to_dict(self):\n"
        "        return {'path': '/clips/a.mp4', 'start': 1.0, 'end': 3.0, 'subtitle': 'the line said'}\n"
        "class Result(list):\n"
        "    held, searched, unavailable, weak, weak_below, reason = (), ('speech',), {}, False, 0.3, None\n"
        "class Index:\n"
        "    def search(self, query, k, where=None, modalities=None, weights=None):\n"
        "        return Result([Hit() for _ in range(k)])\n"
        "m = types.ModuleType('avu.index')\n"
        "m.open_index = lambda path: Index()\n"
        "sys.modules['avu.index'] = m\n")
    env = {**os.environ, "PYTHONPATH": f"{fake}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    avu = subprocess.Popen([sys.executable, "-m", "avu", "search", "IDX", "q", "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    avu.stdout.close()
    err = avu.stderr.read().decode()
    assert avu.wait(timeout=120) != 0 and err == "", err  # was: "error: [Errno 32] Broken pipe"


def test_ingest_refuses_inputs_that_name_no_video(tmp_path):
    """A path that does not exist, or a folder with no video: a usage error before any index exists."""
    from avu.cli import ingest

    (tmp_path / "empty").mkdir()
    for path, why in ((tmp_path / "nope", "no such file"), (tmp_path / "empty", "no video")):
        r = CliRunner().invoke(ingest.app, [str(path), "--index", str(tmp_path / "idx")])
        said = " ".join(r.output.replace("│", " ").split())  # the message as one line, without the box
        assert r.exit_code == 2 and "Invalid value for PATHS" in said and why in said, r.output
        assert not (tmp_path / "idx").exists()


def test_esc10_model_must_be_known():
    from avu.cli import eval as eval_commands

    r = CliRunner().invoke(eval_commands.app, ["esc10", "--model", "nope", "--json"])
    assert r.exit_code == 2 and "scratch" in r.output


def test_ingest_speakers_and_perception_flags_set_the_config(monkeypatch, tmp_path, tiny_av):
    from avu.cli import ingest

    got = []
    monkeypatch.setattr(ingest, "ingest_with_progress", lambda paths, index, cfg, **kw: got.append(cfg) or [])
    args = [str(tiny_av), "--index", str(tmp_path / "i")]
    for extra, speakers, enable in ((["--speakers", "off", "--perception", "seen, read"], "off", ("seen", "read")),
                                    (["--perception", "off"], "auto", ()),
                                    ([], "auto", ("heard", "seen", "objects", "read"))):
        r = CliRunner().invoke(ingest.app, [*args, *extra])
        assert r.exit_code == 0, r.output
        assert (got[-1].speakers, tuple(got[-1].perception.enable)) == (speakers, enable)
    yaml_cfg = tmp_path / "c.yaml"
    yaml_cfg.write_text("perception:\n  fps: 1.0\n")
    assert CliRunner().invoke(ingest.app, [*args, "--config", str(yaml_cfg), "--perception", "heard"]).exit_code == 0
    assert got[-1].perception.fps == 1.0 and tuple(got[-1].perception.enable) == ("heard",)
    bad = CliRunner().invoke(ingest.app, [*args, "--perception", "smell"])
    assert bad.exit_code != 0 and "unknown modalities ['smell']" in bad.output


def test_bench_query_times_the_fused_search_unless_told_speech_only(monkeypatch):
    """A default text query searches four columns, so `avu bench query` times that by default."""
    from avu.bench import query, query_fused
    from avu.cli import app

    ran = []
    for module, name in ((query, "bench_query"), (query_fused, "bench_query_fused")):
        monkeypatch.setattr(module, name, lambda sizes, queries, _n=name: ran.append((_n, sizes)) or {"sizes": {}})
    for args in ([], ["--fused"], ["--speech-only"]):
        r = CliRunner().invoke(app, ["bench", "query", "--sizes", "2000", "--json", *args])
        assert r.exit_code == 0 and json.loads(r.stdout) == {"sizes": {}}, r.output
    assert ran == [("bench_query_fused", (2000,)), ("bench_query_fused", (2000,)), ("bench_query", (2000,))]
