"""Bad input gets a `MediaError` subclass whose message names the file and the reason; the CLI
prints that as one line, without a traceback, and exits non-zero."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from avu.media import (
    CorruptMedia,
    EmptyMedia,
    MediaError,
    MediaNotFound,
    NoAudioStream,
    NoVideoStream,
    SubtitleError,
    UnreadableMedia,
    probe,
    read_audio,
    read_frames,
    read_subtitles,
)

READERS = {
    "probe": probe,
    "frames_decord": lambda p: read_frames(p, fps=1, size=32, backend="decord"),
    "frames_pyav": lambda p: read_frames(p, fps=1, size=32, backend="pyav"),
    "audio": read_audio,
}


def assert_error(path: Path, cls: type[MediaError], reason: str, readers=READERS) -> None:
    for name, read in readers.items():
        with pytest.raises(cls) as e:
            read(path)
        assert str(path) in str(e.value) and reason in e.value.reason, (name, str(e.value))


def test_zero_bytes(tmp_path):
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    assert_error(p, EmptyMedia, "empty file")


def test_random_bytes_named_mp4(tmp_path):
    p = tmp_path / "noise.mp4"
    p.write_bytes(os.urandom(64 * 1024))
    assert_error(p, CorruptMedia, "not a readable media container")


def test_missing_file_and_dangling_symlink(tmp_path):
    assert_error(tmp_path / "nope.mp4", MediaNotFound, "no such file")
    link = tmp_path / "dangling.mp4"
    link.symlink_to(tmp_path / "gone.mp4")
    assert_error(link, MediaNotFound, "dangling symlink")


def test_directory_and_symlink_loop(tmp_path):
    d = tmp_path / "folder.mp4"
    d.mkdir()
    assert_error(d, UnreadableMedia, "is a directory")
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    a.symlink_to(b)
    b.symlink_to(a)
    assert_error(a, UnreadableMedia, "symlink loop")


def test_unreadable_permissions(tiny_av):
    folder = Path(tempfile.mkdtemp())
    folder.chmod(0o755)
    p = folder / "locked.mkv"
    p.write_bytes(tiny_av.read_bytes())
    p.chmod(0o000)
    if os.geteuid() != 0:
        assert_error(p, UnreadableMedia, "permission denied")
        return
    # root reads anything: check in a forked child that drops to an unprivileged user
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                probe(p)
            except UnreadableMedia as e:
                code = 0 if ("permission denied" in e.reason and str(p) in str(e)) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_audio_only_and_video_only(tiny_audio_only, tiny_video_only):
    with pytest.raises(NoVideoStream, match="no video stream"):
        read_frames(tiny_audio_only)
    with pytest.raises(NoAudioStream, match="no audio stream"):
        read_audio(tiny_video_only)
    assert probe(tiny_audio_only).has_video is False


@pytest.mark.shared
@pytest.mark.parametrize("pct", [1, 50, 99])
def test_truncated_mp4(shared_data, tmp_path, pct):
    data = (shared_data / "video" / "big_buck_bunny_480p_30s.mp4").read_bytes()
    p = tmp_path / f"truncated_{pct}.mp4"
    p.write_bytes(data[: len(data) * pct // 100])  # the index (moov) is at the end: nothing opens
    assert_error(p, CorruptMedia, "not a readable media container")


@pytest.mark.shared
@pytest.mark.parametrize("pct", [1, 50])
def test_truncated_webm_stops_with_a_reason(shared_data, tmp_path, pct):
    data = (shared_data / "video" / "big_buck_bunny_720p_30s.webm").read_bytes()
    p = tmp_path / f"truncated_{pct}.webm"
    p.write_bytes(data[: len(data) * pct // 100])  # headers survive; the data stops early
    readers = {k: v for k, v in READERS.items() if k != "probe"}
    for name, read in readers.items():
        with pytest.raises(CorruptMedia, match="truncated or corrupt") as e:
            read(p)
        assert str(p) in str(e.value), name


def test_streams_of_unknown_codecs_count_as_absent(tiny_av, tmp_path):
    """A Matroska codec id FFmpeg has no decoder for (found by the probe fuzzer): that stream is
    passed over, the other one is read, and with neither the file is corrupt, by name."""
    from avu.media import Segment, read_clip

    data = Path(tiny_av).read_bytes()
    assert data.count(b"V_FFV1") == 1 and data.count(b"A_FLAC") == 1
    no_audio, no_video, neither = (tmp_path / f"{n}.mkv" for n in ("no_audio", "no_video", "neither"))
    no_audio.write_bytes(data.replace(b"A_FLAC", b"A_QQQQ"))
    no_video.write_bytes(data.replace(b"V_FFV1", b"V_QQQQ"))
    neither.write_bytes(data.replace(b"V_FFV1", b"V_QQQQ").replace(b"A_FLAC", b"A_QQQQ"))
    a, v = probe(no_audio), probe(no_video)
    assert (a.has_video, a.has_audio, v.has_video, v.has_audio) == (True, False, False, True)
    for backend in ("decord", "pyav"):
        clip = read_clip(no_audio, Segment(0.0, 1.0), size=32, backend=backend)
        assert clip["audio"] is None and tuple(clip["video"].shape) == (2, 32, 32, 3)
        clip = read_clip(no_video, Segment(0.0, 1.0), backend=backend)
        assert clip["video"] is None and tuple(clip["audio"].shape) == (16000,)
    assert_error(no_audio, NoAudioStream, "no audio stream", {"audio": read_audio})
    assert_error(no_video, NoVideoStream, "no video stream", {"frames_pyav": READERS["frames_pyav"]})
    assert_error(neither, CorruptMedia, "no video or audio stream with a known codec")


def test_bad_subtitles(tmp_path):
    latin = tmp_path / "latin.srt"
    latin.write_bytes("1\n00:00:01,000 --> 00:00:02,000\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(SubtitleError, match="not valid UTF-8"):
        read_subtitles(latin)
    unsorted = tmp_path / "unsorted.srt"
    unsorted.write_text("1\n00:00:05,000 --> 00:00:06,000\nb\n\n2\n00:00:01,000 --> 00:00:02,000\na\n")
    with pytest.raises(SubtitleError, match="unsorted.srt"):
        read_subtitles(unsorted)
    overlap = tmp_path / "overlap.srt"
    overlap.write_text("1\n00:00:01,000 --> 00:00:04,000\na\n\n2\n00:00:02,000 --> 00:00:05,000\nb\n")
    with pytest.raises(SubtitleError, match="overlap"):
        read_subtitles(overlap)


def _avu(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avu", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200"})


def test_cli_one_line_error_no_traceback(tmp_path):
    bad = tmp_path / "noise.mp4"
    bad.write_bytes(os.urandom(4096))
    r = _avu("probe", str(bad))
    assert r.returncode == 1
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and str(bad) in lines[0] and "not a readable media container" in lines[0]
    assert "Traceback" not in r.stderr + r.stdout


def test_cli_probe_json(tiny_av, tmp_path):
    import json

    r = _avu("probe", "--json", str(tiny_av), str(tmp_path / "missing.mp4"))
    assert r.returncode == 1
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert rows[0]["width"] == 64 and rows[0]["num_frames"] == 20 and rows[0]["has_audio"] is True
    assert rows[1] == {"path": str(tmp_path / "missing.mp4"), "error": "no such file"}
