"""`avu bench decode`: frame-reading throughput of each backend next to the ffmpeg binary.

For one clip, on the same cores and thread count: `ffmpeg -threads T -i clip -vf
scale=224:224,format=rgb24 -f null -` is the decode limit; each backend's `read_frames` at the
full frame rate (resized to 224 px) and at 1 frame per second are timed against it. Each figure
is the best of `repeats` runs, so a background hiccup does not decide the ratio.

`stream_cpu_s` is what an ingest decode actor pays per backend: CPU seconds of the whole process
(decoder threads included) to read the clip as a clip stream does, 2 s windows in time order at
2 fps and 224 px on one thread (`VideoFile.arrays` window after window).
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from avu.eval._machine import machine  # the benchmarks import it from here too
from avu.media.frames import BACKENDS, VideoFile, default_threads, read_frames
from avu.media.probe import probe


def _best_of(repeats: int, fn, clock=time.perf_counter) -> tuple[float, object]:
    """The least `clock` seconds `fn` took over `repeats` runs, and its last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        t = clock()
        result = fn()
        best = min(best, clock() - t)
    return best, result


def ffmpeg_decode_seconds(clip: str | Path, *, size: int = 224, threads: int, repeats: int = 3) -> float:
    """Wall seconds for the ffmpeg binary to decode, scale and convert every frame (best of N)."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise RuntimeError("the ffmpeg binary is not on PATH (Debian: apt-get install -y ffmpeg)")
    cmd = [exe, "-hide_banner", "-nostats", "-loglevel", "error", "-threads", str(threads),
           "-i", str(clip), "-an", "-sn", "-vf", f"scale={size}:{size},format=rgb24", "-f", "null", "-"]
    secs, _ = _best_of(repeats, lambda: subprocess.run(cmd, check=True, capture_output=True))
    return secs


def stream_cpu_seconds(clip: str | Path, backend: str, *, size: int = 224, window: float = 2.0,
                       fps: float = 2.0, repeats: int = 3) -> tuple[float, int]:
    """Process CPU seconds (best of N) to read `clip` window by window in time order, and the frames read."""
    duration = probe(clip).duration

    def read() -> int:
        n, t = 0, 0.0
        with VideoFile(clip, size=size, backend=backend, threads=1) as v:
            while t < duration:
                n += len(v.arrays(fps=fps, start=t, end=min(t + window, duration))[1])
                t += window
        return n

    return _best_of(repeats, read, clock=time.process_time)


def bench_decode(clip: str | Path, *, size: int = 224, threads: int | None = None,
                 repeats: int = 3) -> dict:
    """Measure and return `{"clip", "ffmpeg_fps", "backends": {name: {...}}, ...}`."""
    threads = threads or default_threads()
    info = probe(clip)
    ff_secs = ffmpeg_decode_seconds(clip, size=size, threads=threads, repeats=repeats)
    n_frames = len(read_frames(clip, backend="pyav", size=(16, 16), threads=threads))
    ffmpeg_fps = n_frames / ff_secs
    out = {"clip": str(clip), "video_seconds": round(info.duration, 3), "frames": n_frames,
           "size": size, "threads": threads, "repeats": repeats,
           "ffmpeg_fps": round(ffmpeg_fps, 1), "backends": {},
           "machine": machine()}
    for backend in BACKENDS:
        full_s, full = _best_of(repeats, lambda: read_frames(clip, size=size, backend=backend, threads=threads))
        hz_s, hz = _best_of(repeats, lambda: read_frames(clip, fps=1, size=size, backend=backend, threads=threads))
        stream_s, stream_n = stream_cpu_seconds(clip, backend, size=size, repeats=repeats)
        out["backends"][backend] = {
            "frames_full": len(full),  # frames decoded at the full rate: every frame of the clip
            "frames_1hz": len(hz),  # frames decoded at 1 fps: one a second
            "fps_full": round(len(full) / full_s, 1),
            "fps_1hz": round(len(hz) / hz_s, 1),
            "ratio_vs_ffmpeg": round(len(full) / full_s / ffmpeg_fps, 3),
            "stream_cpu_s": round(stream_s, 3),  # CPU s to read the clip as ingest does (2 s windows, 2 fps)
            "stream_frames": stream_n,
        }
    return out
