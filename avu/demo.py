"""`avu demo` / `make demo`: the main job on real media, end to end, with a readable report.

Until the ingest pipeline lands this is what exists, done for real: find the videos, probe them,
stream every 2 s segment through the decoders (frames at 2 fps, 224 px; 16 kHz mono audio),
attach sidecar subtitles to segments, and report per video the streams, decode speed, the
loudest moment and the biggest visual change, and the subtitle lines. The report is printed and
written to OUT/report.json and OUT/report.md. With no shared media, procedural clips are made.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from avu.media import (VIDEO_EXTENSIONS, MediaError, assign_cues, find_sidecars, iter_clips,
                       probe, read_subtitles, segments)

WINDOW, FPS, SIZE, SR = 2.0, 2.0, 224, 16000


def find_videos(paths: list[Path]) -> list[Path]:
    """Files as given; folders searched recursively for video extensions; sorted, unique."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += [f for f in sorted(p.rglob("*")) if f.suffix.lower() in VIDEO_EXTENSIONS and f.is_file()]
        else:
            found.append(p)
    return list(dict.fromkeys(found))


def make_procedural_clips(folder: Path) -> list[Path]:
    """Two short audio-visual clips from FFmpeg's test sources (used when no real media exists)."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise RuntimeError("no media given, ../shared/data is absent, and ffmpeg is missing to make clips")
    folder.mkdir(parents=True, exist_ok=True)
    specs = {"testsrc_tone.mp4": ("testsrc2=size=320x240:rate=25", "sine=frequency=440:sample_rate=44100"),
             "mandelbrot_noise.mp4": ("mandelbrot=size=320x240:rate=25", "anoisesrc=color=pink:sample_rate=44100")}
    out = []
    for name, (v, a) in specs.items():
        path = folder / name
        if not path.exists():
            subprocess.run([exe, "-v", "error", "-y", "-f", "lavfi", "-i", v, "-f", "lavfi", "-i", a,
                            "-t", "8", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)],
                           check=True)
        out.append(path)
    return out


def analyse(path: Path, progress: Progress, task) -> dict:
    """Decode one video segment by segment; return its report row."""
    info = probe(path)
    segs = segments(info.duration, window=WINDOW)
    cues, sub_file = [], None
    for side in find_sidecars(path):
        try:
            cues, sub_file = read_subtitles(side.path, repair=True), side.path.name
            break
        except MediaError as e:
            progress.console.print(f"[yellow]warning:[/yellow] {e}")
    per_seg = assign_cues(cues, segs)
    loud, change, prev, frames_read = [], [], None, 0
    t0 = time.perf_counter()
    for seg, clip in zip(segs, iter_clips(path, segs, fps=FPS, size=SIZE, sr=SR)):
        if clip["audio"] is not None and clip["audio"].numel():
            rms = float(clip["audio"].pow(2).mean().sqrt())
            loud.append((20 * torch.log10(torch.tensor(rms + 1e-9)).item(), seg.start))
        if clip["video"] is not None and len(clip["video"]):
            v = clip["video"].float()
            frames_read += len(v)
            if prev is not None:
                change.append((float((v[0] - prev).abs().mean()), seg.start))
            prev = v[-1]
        progress.advance(task, seg.duration)
    secs = time.perf_counter() - t0
    lines = [{"start": c.start, "end": c.end, "text": c.text} for c in cues]
    return {
        "file": path.name, "path": str(path), "duration": info.duration,
        "video": f"{info.video_codec} {info.width}x{info.height} {info.fps:.2f} fps" if info.has_video else None,
        "audio": f"{info.audio_codec} {info.sample_rate} Hz {info.channels} ch" if info.has_audio else None,
        "segments": len(segs), "frames_read": frames_read, "decode_seconds": round(secs, 3),
        "realtime_factor": round(info.duration / secs, 1) if secs else None,
        "loudest": {"start": max(loud)[1], "dbfs": round(max(loud)[0], 1)} if loud else None,
        "biggest_visual_change": {"at": max(change)[1], "mean_abs_diff": round(max(change)[0], 1)} if change else None,
        "subtitles": sub_file, "cues": len(cues),
        "segments_with_speech": sum(1 for s in per_seg if s), "first_lines": lines[:3],
    }


def run_demo(paths: list[Path], *, out: Path, shared: Path, console: Console) -> dict:
    if not paths:
        paths = [shared / "video"] if (shared / "video").is_dir() else make_procedural_clips(out / "media")
    videos = find_videos(paths)
    infos = {}
    for v in videos:
        try:
            infos[v] = probe(v)
        except MediaError as e:
            console.print(f"[yellow]skipped:[/yellow] {e}")
    rows, failed = [], []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("decoding video seconds", total=round(sum(i.duration for i in infos.values())))
        for v in infos:
            try:
                rows.append(analyse(v, progress, task))
            except MediaError as e:
                failed.append({"path": str(v), "error": e.reason})
                console.print(f"[red]failed:[/red] {e}")
    report = {"videos": rows, "failed": failed,
              "total_video_seconds": round(sum(r["duration"] for r in rows), 3),
              "total_decode_seconds": round(sum(r["decode_seconds"] for r in rows), 3)}
    _print(report, console)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(_markdown(report))
    console.print(f"report written to {out / 'report.json'} and {out / 'report.md'}")
    return report


def _print(report: dict, console: Console) -> None:
    t = Table("video", "codecs", "duration", "segments", "x realtime", "loudest at", "visual change at", "subtitles")
    for r in report["videos"]:
        codecs = "/".join(x.split()[0] for x in (r["video"], r["audio"]) if x)
        loud = r["loudest"]
        t.add_row(r["file"], codecs, f"{r['duration']:.1f}s", str(r["segments"]), f"{r['realtime_factor']}",
                  ("silent" if loud["dbfs"] < -100 else f"{loud['start']:.0f}s ({loud['dbfs']} dBFS)") if loud else "-",
                  f"{r['biggest_visual_change']['at']:.0f}s" if r["biggest_visual_change"] else "-",
                  f"{r['cues']} cues" if r["subtitles"] else "-")
    console.print(t)
    for r in report["videos"]:
        for line in r["first_lines"]:
            console.print(f"  {r['file']} {line['start']:7.2f}s  {line['text']}", highlight=False)


def _markdown(report: dict) -> str:
    lines = ["# avu demo report", "", "| video | streams | duration | segments | x realtime | subtitles |",
             "|---|---|---|---|---|---|"]
    for r in report["videos"]:
        streams = " + ".join(x for x in (r["video"], r["audio"]) if x)
        lines.append(f"| {r['file']} | {streams} | {r['duration']:.1f}s | {r['segments']} | "
                     f"{r['realtime_factor']} | {r['cues']} cues |")
    for f in report["failed"]:
        lines.append(f"\nFailed: `{f['path']}`: {f['error']}")
    return "\n".join(lines) + "\n"
