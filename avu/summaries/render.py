"""A summary as media: the chosen shots cut from the source into one mp4 (`render_summary_video`,
the ffmpeg binary, arguments as a list) and their key frames in a grid (`contact_sheet`)."""
from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from avu.summaries.summarize import Summary


def render_summary_video(summary: Summary, out_mp4: str | os.PathLike, *, source: str | os.PathLike | None = None,
                         timeout: float | None = None) -> Path:
    """Concatenate the selected shots of the source video into `out_mp4` (H.264 + AAC) with the
    ffmpeg binary: each shot is an input seeked with -ss/-t, joined by the concat filter (exact cuts,
    re-encoded). Arguments are passed as a list, never through a shell."""
    from avu.media import MediaNotFound, probe

    shots = summary.selected
    if not shots:
        raise ValueError(f"{summary.path}: the summary selects no shot (budget {summary.budget_seconds:.2f} s)")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("the ffmpeg binary is not on PATH")
    src = Path(source or summary.path)
    if not src.is_file():
        raise MediaNotFound(src, "source video not found (moved since it was indexed?)")
    info = probe(src)
    out = Path(out_mp4)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    for s in shots:
        cmd += ["-ss", f"{s.start:.3f}", "-t", f"{s.duration:.3f}", "-i", str(src)]
    streams = (["v"] if info.has_video else []) + (["a"] if info.has_audio else [])
    pads = "".join(f"[{i}:{k}:0]" for i in range(len(shots)) for k in streams)
    labels = "".join("[vc]" if k == "v" else "[a]" for k in streams)
    graph = f"{pads}concat=n={len(shots)}:v={int(info.has_video)}:a={int(info.has_audio)}{labels}"
    if info.has_video:  # H.264 in yuv420p needs even sizes
        graph += ";[vc]scale=trunc(iw/2)*2:trunc(ih/2)*2[v]"
    cmd += ["-filter_complex", graph]
    for k in streams:
        cmd += ["-map", f"[{k}]"]
    if info.has_video:
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
    if info.has_audio:
        cmd += ["-c:a", "aac", "-b:a", "128k"]
    cmd += ["-movflags", "+faststart", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"ffmpeg failed to write {out}: {tail}")
    return out


def _hhmmss(t: float) -> str:
    m, s = divmod(max(0.0, t), 60)
    h, m = divmod(int(m), 60)
    return f"{h:02d}:{m:02d}:{s:04.1f}"


def contact_sheet(summary: Summary, out_png: str | os.PathLike, segments: list[dict], *,
                  columns: int = 4) -> Path:
    """A grid of the selected shots' key frames (the most important segment's `keyframe_jpeg` in
    each shot), each captioned with the shot's time range and score."""
    from PIL import Image, ImageDraw, ImageFont

    starts = np.array([float(r["start"]) for r in segments])
    tiles = []
    for s in summary.selected:
        inside = [i for i, t in enumerate(starts) if s.start <= t < s.end and segments[i].get("keyframe_jpeg")]
        if not inside:  # a piece of one segment: the segment it lies in
            inside = [i for i, r in enumerate(segments)
                      if r["start"] < s.end and r["end"] > s.start and r.get("keyframe_jpeg")]
        if not inside:
            continue
        best = max(inside, key=lambda i: summary.importance[i] if i < len(summary.importance) else 0.0)
        img = Image.open(io.BytesIO(segments[best]["keyframe_jpeg"])).convert("RGB")
        tiles.append((img, f"{_hhmmss(s.start)}-{_hhmmss(s.end)}  {s.score:.2f}"))
    if not tiles:
        raise ValueError(f"{summary.path}: no key frames for the selected shots (audio only, or none selected)")
    font = ImageFont.load_default()
    tw = max(t.width for t, _ in tiles)
    th = max(t.height for t, _ in tiles)
    cap = 16
    cols = max(1, min(columns, len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    sheet = Image.new("RGB", (cols * (tw + 4) + 4, rows * (th + cap + 4) + 4), (20, 20, 20))
    draw = ImageDraw.Draw(sheet)
    for k, (img, text) in enumerate(tiles):
        x, y = 4 + (k % cols) * (tw + 4), 4 + (k // cols) * (th + cap + 4)
        sheet.paste(img, (x, y))
        draw.text((x + 2, y + th + 2), text, fill=(235, 235, 235), font=font)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG")
    return out
