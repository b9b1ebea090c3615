"""A corpus of bad (and awkward but valid) inputs, generated on the spot: never committed media.

`build_corpus(folder)` writes every case into `folder` and returns a list of `Case`s, each saying
what ingest must do with it: a `failed` row with a named error class (a `MediaError` subclass, or
"timeout" for the driver's time-out) and a fragment of the message it must hold, or a `done`
video with an exact number of segments (and, for sidecar subtitles, what the notes and text must
say).
`good_clips(folder, n)` writes plain H.264 + AAC clips. The reliability benchmark
(`avu.bench.reliability`) and the tests (`tests/test_reliability.py`) both use this one copy.

Everything is small (kilobytes, a few seconds of video); the "stall" case is a short clip padded
with a sparse run of zeros that takes a minute to hash but no disk space.
"""
from __future__ import annotations

import os
import random
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from avu.media._write import mux_audio, mux_frames

SR = 16000
WINDOW = 2.0  # the ingest default; expected segment counts assume it


@dataclass
class Case:
    """One input and what ingest must make of it."""

    name: str  # short id, unique in the corpus
    path: Path  # the file, link or folder as ingest sees it
    expect: str  # "failed" or "done"
    reason: str | None = None  # failed: a fragment the error message must hold
    error: str | None = None  # failed: the error's class (avu.media's MediaError subclass name, or "timeout")
    segments: int | None = None  # done: the segment count the index must hold
    notes: str | None = None  # done: a substring the video's notes must hold (sidecar problems)
    text: bool | None = None  # done: True = some segment has subtitle text, False = none has
    what: str = ""  # what the case exercises
    extra_paths: list[Path] = field(default_factory=list)  # paths to hand to ingest explicitly

    def __post_init__(self) -> None:
        if self.expect not in ("failed", "done"):
            raise ValueError(f"{self.name}: expect must be 'failed' or 'done', got {self.expect!r}")
        if self.expect == "failed" and not (self.reason and self.error):
            raise ValueError(f"{self.name}: an expected failure names its error class and a message fragment")


def n_segments(seconds: float, window: float = WINDOW) -> int:
    from avu.media import segments

    return len(segments(seconds, window=window))


# -- writers --------------------------------------------------------------------------------------
def _frame(i: int, w: int, h: int, k: int = 0) -> np.ndarray:
    img = np.full((h, w, 3), (40 * k + 30) % 256, np.uint8)
    x = (i * 3) % max(1, w - min(w, 8))
    img[h // 3: h // 3 + max(1, h // 6), x:x + max(1, w // 8)] = 255
    return img


def tone(seconds: float, hz: float = 330.0) -> np.ndarray:
    n = int(SR * seconds)
    return (0.3 * np.sin(2 * np.pi * hz * np.arange(n) / SR)).astype(np.float32)


def write_clip(path: Path, *, seconds: float = 4.0, fps: int = 10, w: int = 96, h: int = 64,
               video: bool = True, audio: bool = True, codec: str = "libx264", k: int = 0,
               rotation: int | None = None, pts: list[int] | None = None, time_base: Fraction | None = None,
               container_options: dict | None = None) -> Path:
    """A small clip: a bar moving over a plain colour (`k` varies it) and a tone.

    `pts` (with `time_base`) gives explicit frame times: a variable frame rate.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", container_options=container_options or {}) as c:
        s = None
        if video:
            opts = {"preset": "ultrafast"} if codec == "libx264" else {}
            s = c.add_stream(codec, rate=fps, options=opts)
            s.width, s.height = w, h
            s.pix_fmt = "yuv420p" if codec == "libx264" else "bgr0"
            if time_base is not None:
                s.codec_context.time_base = time_base
            if rotation is not None:
                s.set_display_rotation(rotation)
        a = None
        if audio:
            a = c.add_stream("aac", rate=SR)
            a.layout = "mono"
        if s is not None:
            times = pts if pts is not None else list(range(int(seconds * fps)))
            mux_frames(c, s, (_frame(i, w, h, k) for i in range(len(times))), pts=times, time_base=time_base)
        if a is not None:
            mux_audio(c, a, tone(seconds, 220.0 * (1 + k / 4)), SR)
    return path


def good_clips(folder: Path, n: int, *, seconds: float = 4.0, start_k: int = 0) -> list[Case]:
    """`n` distinct H.264 + AAC clips (distinct bytes, so distinct content ids)."""
    return [Case(f"good_{k:02d}", write_clip(folder / f"good_{k:02d}.mp4", seconds=seconds, k=start_k + k),
                 "done", segments=n_segments(seconds), what="a plain valid clip")
            for k in range(n)]


def _garbage_stream(path: Path, rng: random.Random) -> Path:
    """A valid Matroska container whose H.264 video packets are random bytes."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        for i in range(30):
            pkt = av.Packet(rng.randbytes(1500))
            pkt.stream, pkt.pts, pkt.dts, pkt.time_base = s, i, i, Fraction(1, 10)
            pkt.is_keyframe = i % 10 == 0
            c.mux(pkt)
    return path


def _no_packets(path: Path) -> Path:
    """A Matroska file with a video and an audio stream and not a single packet."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("ffv1", rate=10)
        s.width, s.height, s.pix_fmt = 32, 32, "bgr0"
        a = c.add_stream("flac", rate=SR)
        a.layout = "mono"
        c.start_encoding()  # the header, then nothing
    return path


def png_bomb(path: Path, side: int = 16000) -> Path:
    """A greyscale PNG of side x side pixels (256 Mpx at 16000), all zeros: ~250 KB on disk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    ihdr = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])  # 8-bit greyscale
    comp = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte 0 + a row of zeros
    parts = [comp.compress(row) for _ in range(side)]
    parts.append(comp.flush())
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts))
                     + chunk(b"IEND", b""))
    return path


SRT_OK = "1\n00:00:00,500 --> 00:00:01,500\nhello from a sidecar\n\n2\n00:00:02,000 --> 00:00:03,000\nsecond line\n"


def _sidecar_cases(d: Path) -> list[Case]:
    seg = n_segments(4.0)
    out = []
    specs = [
        ("sub_binary", b"\x00\x01\xffgarbage\x00" * 40, "binary data", False, "binary subtitle file"),
        ("sub_latin1", "1\n00:00:00,500 --> 00:00:01,500\ncaf\xe9 cr\xe8me\n".encode("latin-1"),
         "not valid UTF-8", False, "non-UTF-8 subtitle file"),
        ("sub_negative", b"1\n-00:00:01,000 --> 00:00:01,000\nbefore zero\n\n"
                         b"2\n00:00:02,000 --> 00:00:03,000\nafter\n", "repaired", True, "negative cue time"),
        ("sub_overlap", b"1\n00:00:00,500 --> 00:00:02,500\nfirst\n\n2\n00:00:01,500 --> 00:00:03,000\nsecond\n",
         "repaired", True, "overlapping cues"),
    ]
    for k, (name, data, note, text, what) in enumerate(specs):
        video = write_clip(d / f"{name}.mkv", k=20 + k)
        (d / f"{name}.srt").write_bytes(data)
        out.append(Case(name, video, "done", segments=seg, notes=note, text=text, what=what))
    return out


def build_corpus(folder: Path, *, seed: int = 11, stall: bool = True) -> list[Case]:
    """Write every bad-input case under `folder` (created); returns the cases.

    Hand `folder / "bad"` plus each case's `extra_paths` to ingest. `stall=False` leaves out the
    slow-to-hash padded file (it needs a per-video time-out shorter than its hash).
    """
    rng = random.Random(seed)
    d = folder / "bad"
    d.mkdir(parents=True, exist_ok=True)
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    cases: list[Case] = []
    add = cases.append

    (d / "empty.mp4").write_bytes(b"")
    add(Case("zero_bytes", d / "empty.mp4", "failed", "empty file (0 bytes)", "EmptyMedia", what="zero bytes"))

    src_mp4 = write_clip(elsewhere / "src.mp4", seconds=10, k=1).read_bytes()  # index (moov) at the end
    src_fast = write_clip(elsewhere / "src_fast.mp4", seconds=10, k=2,
                          container_options={"movflags": "faststart"}).read_bytes()  # index first
    src_mkv = write_clip(elsewhere / "src.mkv", seconds=10, k=3).read_bytes()
    for pct in (1, 50, 99):
        (d / f"trunc_{pct:02d}.mp4").write_bytes(src_mp4[: len(src_mp4) * pct // 100])
        add(Case(f"truncated_{pct}_mp4", d / f"trunc_{pct:02d}.mp4", "failed", "not a readable media container",
                 "CorruptMedia", what=f"mp4 cut at {pct}% (its index is at the end)"))
    for pct, reason in ((1, "not a readable media container"), (50, "truncated or corrupt"), (99, None)):
        for name, src, ext in (("faststart", src_fast, "mp4"), ("mkv", src_mkv, "mkv")):
            p = d / f"trunc_{name}_{pct:02d}.{ext}"
            p.write_bytes(src[: len(src) * pct // 100])
            if pct == 99:  # the last 0.1 s is gone: what is left decodes, within a second of the end
                add(Case(f"truncated_{pct}_{name}", p, "done", segments=n_segments(10.0),
                         what=f"{name} cut at 99%: all segments, the last one a few frames short"))
            else:
                add(Case(f"truncated_{pct}_{name}", p, "failed", reason, "CorruptMedia", what=f"{name} cut at {pct}%"))

    for ext in ("mp4", "mkv", "webm", "avi", "mov"):
        (d / f"noise.{ext}").write_bytes(rng.randbytes(64 * 1024))
        add(Case(f"random_bytes_{ext}", d / f"noise.{ext}", "failed", "not a readable media container", "CorruptMedia",
                 what=f"random bytes named .{ext}"))

    add(Case("corrupt_video_stream", _garbage_stream(d / "garbage_stream.mkv", rng), "failed",
             "video stream", "CorruptMedia", what="valid Matroska, H.264 packets of random bytes"))
    add(Case("audio_only", write_clip(d / "audio_only.mp4", video=False, seconds=5), "done",
             segments=n_segments(5.0), what="AAC only, named .mp4"))
    add(Case("video_only", write_clip(d / "video_only.mkv", audio=False, seconds=3, k=4), "done",
             segments=n_segments(3.0), what="no audio stream"))
    add(Case("zero_duration", _no_packets(d / "zero_duration.mkv"), "failed", "not a readable media container",
             "CorruptMedia", what="streams declared, no packet"))
    add(Case("one_pixel", write_clip(d / "one_pixel.mkv", w=1, h=1, codec="ffv1", seconds=3), "done",
             segments=n_segments(3.0), what="a 1x1 video"))
    add(Case("8k_header", write_clip(d / "8k.mp4", w=7680, h=4320, fps=2, seconds=2, audio=False), "done",
             segments=n_segments(2.0), what="7680x4320 H.264 (real 8K frames, decoded to 224 px)"))
    vfr_pts = [0, 40, 90, 400, 450, 1200, 1230, 2000, 2600, 2650, 3900]  # ms: gaps of 30 ms to 1.3 s
    add(Case("variable_frame_rate", write_clip(d / "vfr.mkv", codec="ffv1", audio=False, pts=vfr_pts,
                                               time_base=Fraction(1, 1000), fps=25, k=5), "done",
             segments=n_segments(3.9 + 0.04), what="frame gaps from 30 ms to 1.3 s"))
    add(Case("rotated", write_clip(d / "rotated.mp4", w=96, h=64, rotation=90, k=6), "done",
             segments=n_segments(4.0), what="display matrix: 90 degrees"))

    uni = write_clip(d / "vidéo été 日本 №1.mkv", k=7)
    (d / "vidéo été 日本 №1.srt").write_text(SRT_OK, encoding="utf-8")
    add(Case("non_ascii_name", uni, "done", segments=n_segments(4.0), text=True,
             what="non-ASCII name with spaces, and its sidecar"))
    add(Case("space_name", write_clip(d / "name with  spaces.mp4", k=8), "done", segments=n_segments(4.0),
             what="spaces in the name"))

    target = write_clip(elsewhere / "link_target.mp4", k=9)
    (d / "link_to_clip.mp4").symlink_to(target)
    add(Case("symlink", d / "link_to_clip.mp4", "done", segments=n_segments(4.0), what="symlink to a clip"))
    (d / "loop_a.mp4").symlink_to(d / "loop_b.mp4")
    (d / "loop_b.mp4").symlink_to(d / "loop_a.mp4")
    add(Case("symlink_loop_a", d / "loop_a.mp4", "failed", "symlink loop", "UnreadableMedia", what="a -> b -> a"))
    add(Case("symlink_loop_b", d / "loop_b.mp4", "failed", "symlink loop", "UnreadableMedia", what="b -> a -> b"))
    (d / "dangling.mp4").symlink_to(elsewhere / "gone.mp4")
    add(Case("dangling_symlink", d / "dangling.mp4", "failed", "dangling symlink", "MediaNotFound",
             what="link to nothing"))

    locked = write_clip(d / "locked.mp4", k=10)
    locked.chmod(0o000)
    if os.geteuid() == 0:
        add(Case("unreadable", locked, "done", segments=n_segments(4.0),
                 what="mode 000 (run as root, which may read it: indexed)"))
    else:
        add(Case("unreadable", locked, "failed", "permission denied", "UnreadableMedia", what="mode 000"))

    inner = write_clip(d / "folder.mp4" / "inside.mp4", k=11)
    add(Case("directory_named_like_video", inner, "done", segments=n_segments(4.0),
             what="a folder named folder.mp4: walked as a folder, its clip indexed"))

    cases += _sidecar_cases(d)

    bomb = png_bomb(folder / "bomb.png")
    add(Case("png_bomb", bomb, "failed", "over the pixel limit", "MediaTooLarge", what="16000x16000 PNG (250 KB)",
             extra_paths=[bomb]))
    (d / "bomb_png.mkv").write_bytes(bomb.read_bytes())
    add(Case("png_bomb_as_mkv", d / "bomb_png.mkv", "failed", "over the pixel limit", "MediaTooLarge",
             what="the PNG bomb named .mkv"))

    if stall:
        padded = write_clip(d / "padded.mkv", k=12, seconds=2)
        with open(padded, "r+b") as f:
            f.truncate(64 << 30)  # 64 GB, sparse: zeros cost no disk, but the hash reads them all
        add(Case("stall", padded, "failed", "ran longer than", "timeout",
                 what="a clip padded to 64 GB with sparse zeros"))
    return cases


def ingest_paths(folder: Path, cases: list[Case]) -> list[str]:
    """What to hand to ingest for a corpus built in `folder`: its `bad` folder and the extras."""
    extra = [str(p) for c in cases for p in c.extra_paths]
    return [str(folder / "bad"), *dict.fromkeys(extra)]
