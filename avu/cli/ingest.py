"""`avu ingest`: decode, segment, embed and index videos with the Ray pipeline, behind a progress bar.

`ingest_with_progress` is the one way a command runs an ingest in front of a user (`avu demo` uses
it too): the inputs are checked first (a path that does not exist or a folder with no video is a
usage error, exit code 2, and no index is created), then a rich progress bar that keeps a usable
width at 80 columns (its counts shorten before the bar shrinks) runs while `pipelines.ingest`
works (Ray's own messages go to its log file, not into the bar), then a table of every file's
outcome. Ray and the pipeline are imported inside, so `avu --help` does not pay for them.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from avu.cli._console import clean_errors, console, err_console
from avu.cli._output import Col, print_table

app = typer.Typer()

BAR_WIDTH = 20  # cells of the bar itself; the counts beside it shorten at narrow widths instead
WIDE = 110  # terminal width from which the counts are spelt out in full


@app.command()
@clean_errors
def ingest(paths: List[Path] = typer.Argument(..., help="Video files, folders (recursive) or .txt lists of paths."),
           index: Path = typer.Option(..., "--index", help="Index folder (created if missing)."),
           config: Optional[Path] = typer.Option(None, help="Ingest YAML (configs/ingest/default.yaml)."),
           window: Optional[float] = typer.Option(None, min=0.01, help="Segment length, seconds [2.0]."),
           hop: Optional[float] = typer.Option(None, min=0.01, help="Seconds between segment starts [window]."),
           fps: Optional[float] = typer.Option(None, min=0.01, help="Frames sampled per second [2]."),
           size: Optional[int] = typer.Option(None, min=1, help="Frame side in pixels [224]."),
           decoders: int = typer.Option(0, min=0, help="Decode actors (0: one per CPU)."),
           embedders: int = typer.Option(1, min=1, help="Embed actors."),
           ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster (default: local Ray)."),
           asr: Optional[str] = typer.Option(None, help="auto: transcribe videos without subtitles; off."),
           speakers: Optional[str] = typer.Option(None, help="auto: diarize every video with audio; off."),
           perception: Optional[str] = typer.Option(
               None, help="Perception modalities, comma-separated (heard,seen,objects,read), or off [all]."),
           strict: bool = typer.Option(False, help="Exit non-zero if any video failed.")):
    """Decode, segment, embed and index videos with Ray actors (resumable: done videos are skipped)."""
    from dataclasses import replace

    from avu.ingest import IngestConfig

    if hop is None and window is not None:
        hop = window
    over = dict(window=window, hop=hop, fps=fps, size=size, asr=asr, speakers=speakers)
    cfg = (IngestConfig.from_yaml(config, **over) if config
           else IngestConfig(**{k: v for k, v in over.items() if v is not None}))
    if perception is not None:  # the modalities only: the config's models folder and fps stay
        cfg = replace(cfg, perception=replace(cfg.perception, enable=_modalities(perception)))
    results = ingest_with_progress(paths, index, cfg, decoders=decoders or None, embedders=embedders,
                                   ray_address=ray_address)
    if strict and any(r.status == "failed" for r in results):
        raise typer.Exit(1)


def _modalities(value: str) -> tuple[str, ...]:
    """`--perception`: comma-separated modalities, or `off` for none (checked by `PerceptionConfig`)."""
    return () if value.strip().lower() == "off" else tuple(m.strip() for m in value.split(",") if m.strip())


def _counts(stats: dict, wall: float, width: int) -> str:
    """The counts beside the bar: spelt out on a wide terminal, short enough for 80 columns otherwise."""
    rate = stats["seconds"] / wall if wall > 0 else 0.0
    if width >= WIDE:
        return (f"done {stats['done']}  failed {stats['failed']}  skipped {stats['skipped']}  "
                f"{stats['seconds'] / 3600:.3f} video-h  {rate:.1f}x real time")
    return f"{stats['done']} done {stats['failed']} failed {stats['skipped']} skipped {rate:.1f}x"


def ingest_with_progress(paths: list[Path], index: Path, cfg, *, decoders: int | None = None, embedders: int = 1,
                         ray_address: str | None = None) -> list:
    """Run the ingest of `paths` into `index` (`pipelines.ingest.run_ingest`) with a progress bar,
    print each file's outcome in a table, and return the results (one per file). Inputs that name
    nothing to ingest are a usage error (`typer.BadParameter`), raised before any index exists."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from avu.ingest import IngestInputError, discover
    from pipelines.ingest import IngestOptions, run_ingest

    try:
        total = len(discover(paths))
    except IngestInputError as e:
        raise typer.BadParameter(str(e), param_hint="PATHS") from None
    opts = IngestOptions(config=cfg, decoders=decoders, embedders=embedders, ray_address=ray_address)
    stats = {"done": 0, "failed": 0, "skipped": 0, "seconds": 0.0}
    t0 = time.perf_counter()
    cols = (TextColumn("[bold]ingest"), BarColumn(bar_width=BAR_WIDTH), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn())
    # the bar redraws itself below anything printed while it runs (redirected stdout and stderr)
    with Progress(*cols, console=console, redirect_stdout=True, redirect_stderr=True) as progress:
        task = progress.add_task("ingest", total=total, stats="")

        def on_result(r) -> None:
            stats[r.status] += 1
            if r.status == "done":
                stats["seconds"] += r.duration
            progress.update(task, advance=1, stats=_counts(stats, time.perf_counter() - t0, console.width))

        run_stats: dict = {}
        results = run_ingest([str(p) for p in paths], str(index), opts, progress=on_result, stats=run_stats)
    for modality, why in (run_stats.get("perception_missing") or {}).items():  # said once per run
        err_console.print(f"[yellow]note[/yellow]: {modality} not perceived: {escape(why)}")
    rows = []
    for r in sorted(results, key=lambda r: r.path):
        style = {"done": "green", "failed": "red", "skipped": "dim"}[r.status]
        rows.append([escape(Path(r.path).name), f"[{style}]{r.status}[/{style}]", str(r.segments or "-"),
                     f"{r.duration:.1f}s" if r.duration else "-", f"{r.seconds:.1f}s" if r.seconds else "-",
                     escape(r.error or "")])
    print_table([Col("video"), Col("status", no_wrap=True), Col("segments", no_wrap=True, drop=1),
                 Col("duration", no_wrap=True, drop=2), Col("time", no_wrap=True, drop=3),
                 Col("error", hide_empty=True)], rows)
    return results


__all__ = ["app", "ingest", "ingest_with_progress"]
