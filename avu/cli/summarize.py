"""`avu summarize`: the key shots of an indexed video within a length budget, and what is said in them.

LanceDB, MiniLM and the renderers are imported inside the command. A missing index or video, bad
media and bad arguments print one `error: ...` line on stderr and exit with code 1. The TVSum
human baseline is `avu eval tvsum-human` (`avu.cli.eval`).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from avu.cli._console import clean_errors, console
from avu.cli._output import Col, print_json, print_table, time_range, timestamp

app = typer.Typer()


@app.command()
@clean_errors
def summarize(index: str = typer.Argument(..., help="Index folder (or object-store URI)."),
              video: str = typer.Argument(..., help="Video id, the path it was indexed under, or its file name."),
              budget: float = typer.Option(0.15, min=0.0, max=1.0,
                                           help="Summary length as a fraction of the duration."),
              query: Optional[str] = typer.Option(None, help="Focus the summary on what is said about this."),
              out_video: Optional[Path] = typer.Option(None, "--video", help="Write the summary as an mp4."),
              sheet: Optional[Path] = typer.Option(None, "--sheet", help="Write a PNG of the key frames."),
              as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Pick the key shots of an indexed video within a length budget; print them and what is said."""
    from avu.store.tables import IndexStore
    from avu.summaries.render import contact_sheet, render_summary_video
    from avu.summaries.summarize import summarize as run

    t0 = time.perf_counter()
    store = IndexStore(index)
    summary = run(store, video, budget=budget, query=query)
    outputs = {}
    if sheet is not None:  # first: it fails fast (an audio-only video has no key frames), rendering takes a while
        outputs["sheet"] = str(contact_sheet(summary, sheet, store.segment_rows(summary.video_id)))
    if out_video is not None:
        outputs["video"] = str(render_summary_video(summary, out_video))
    seconds = time.perf_counter() - t0
    if as_json:
        print_json({**summary.to_dict(), "outputs": outputs, "seconds": seconds})
        return
    sel = summary.selected
    console.print(f"{escape(Path(summary.path).name)}: {summary.duration:.1f} s; budget "
                  f"{summary.budget_seconds:.1f} s ({budget:.0%}); {len(sel)} of {len(summary.shots)} shots, "
                  f"{summary.selected_seconds:.1f} s" + (f"; query {escape(query)!r}" if query else ""),
                  highlight=False)
    rows = [[str(k + 1), time_range(s.start, s.end), f"{s.duration:.1f} s", f"{s.score:.3f}"]
            for k, s in enumerate(summary.shots) if s.selected]
    print_table([Col("shot", no_wrap=True), Col("time", no_wrap=True), Col("length", no_wrap=True),
                 Col("score", no_wrap=True)], rows if sel else [], empty="no shot fits the budget")
    for c in summary.lines:
        console.print(f"  {timestamp(c.start)}  {escape(c.text)}", highlight=False)
    if summary.text:
        console.print(f"summary: {escape(summary.text)}", highlight=False)
    for kind, path in outputs.items():
        console.print(f"{kind}: {escape(path)}", highlight=False)


__all__ = ["app", "summarize"]
