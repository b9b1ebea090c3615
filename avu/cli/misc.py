"""`avu probe` and `avu dashboard`: the commands that are neither indexing nor evaluation.

`probe` reads container headers only (PyAV), so it starts fast; `dashboard` checks the index and
starts Streamlit on `dashboard/app.py`, bound to the loopback address unless told otherwise.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List

import typer
from rich.markup import escape

from avu.cli._console import clean_errors, console, err_console
from avu.cli._output import Col, print_json, print_table

app = typer.Typer()


def _fmt_streams(info) -> str:
    parts = []
    if info.has_video:
        rot = f" rot{info.rotation}" if info.rotation else ""
        parts.append(f"{info.video_codec} {info.width}x{info.height} {info.fps:.2f}fps{rot}")
    if info.has_audio:
        parts.append(f"{info.audio_codec} {info.sample_rate}Hz {info.channels}ch")
    return " + ".join(parts)


@app.command()
def probe(paths: List[Path] = typer.Argument(..., help="Media files to probe."),
          as_json: bool = typer.Option(False, "--json", help="One JSON object per file.")):
    """Print the streams, duration, frame rate, size and codecs of media files."""
    from avu.media._errors import MediaError
    from avu.media.probe import probe as probe_file

    rows, failed = [], 0
    for p in paths:
        try:
            info = probe_file(p)
        except MediaError as e:
            failed += 1
            if as_json:
                print_json({"path": str(p), "error": e.reason})
            else:
                err_console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
            continue
        if as_json:
            print_json(info.to_dict())
        else:
            rows.append([escape(p.name), escape(info.container.split(",")[0]), _fmt_streams(info),
                         f"{info.duration:.3f}s", str(info.num_frames or "-")])
    if rows:
        print_table([Col("file"), Col("container", drop=1), Col("streams"), Col("duration", no_wrap=True),
                     Col("frames", no_wrap=True, drop=2)], rows)
    if failed:
        raise typer.Exit(1)


@app.command()
@clean_errors
def dashboard(index: Path = typer.Argument(..., help="Index folder."),
              port: int = typer.Option(8501, min=1, max=65535, help="Port."),
              host: str = typer.Option("127.0.0.1", help="Address to bind (loopback unless you say otherwise)."),
              reports: Path = typer.Option(Path("runs"), help="Folder of JSON reports for the Reports page.")):
    """Open the Streamlit dashboard on an index: search, video timeline and player, corpus, reports."""
    import subprocess

    from avu._paths import REPO
    from avu.store import IndexStore

    IndexStore.check(index)  # a clear error before starting a server
    app_py = REPO / "dashboard" / "app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app_py), "--server.address", host,
           "--server.port", str(port), "--server.headless", "true", "--server.maxUploadSize", "20",
           "--browser.gatherUsageStats", "false", "--", "--index", str(index.resolve()),
           "--reports", str(reports.resolve())]
    console.print(f"avu dashboard on http://{host}:{port}  (Ctrl-C stops it)")
    raise typer.Exit(subprocess.call(cmd))


__all__ = ["app", "dashboard", "probe"]
