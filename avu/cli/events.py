"""`avu events`: the event timeline of an indexed video.

Sound events of the shipped ESC-10 model (or free-text sound prompts scored through the ten
classes' meaning) and, with `--visual`, high-motion, scene-change and sound + motion events. The
ESC-10 training and evaluation commands are `avu train-esc10` (`avu.cli.train`) and `avu eval
esc10` / `avu eval ave` (`avu.cli.eval`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from avu.cli._console import clean_errors, console
from avu.cli._output import Col, print_json, print_table, timestamp

app = typer.Typer()

ESC10_NOTE = ("ESC-10 classes only: dog, rooster, rain, sea waves, crackling fire, crying baby, sneezing, "
              "clock tick, helicopter, chainsaw; other sounds are forced into one of them.")


@app.command()
@clean_errors
def events(index: Path = typer.Argument(..., help="Index folder."),
           video: str = typer.Argument(..., help="Video id or path."),
           threshold: float = typer.Option(0.8, min=0.0, max=1.0, help="Minimum ESC-10 class probability."),
           min_duration: float = typer.Option(2.0, min=0.0, help="Shortest event kept, seconds."),
           out: Optional[Path] = typer.Option(None, help="Also write the events as JSON here."),
           prompt: List[str] = typer.Option([], "--prompt", help="Free-text sound, e.g. \"dog barking\" "
                                            "(repeatable; scored through the ten classes' meaning)."),
           visual: bool = typer.Option(False, "--visual", help="Add high-motion, scene-change and "
                                       "sound + motion events."),
           as_json: bool = typer.Option(False, "--json", help="Print one JSON list.")):
    """The event timeline of an indexed video (the shipped ESC-10 model's ten classes, or prompts)."""
    from avu.index import open_index

    found = [e._asdict() for e in open_index(index).events(video, threshold=threshold, min_duration=min_duration,
                                                           prompts=prompt or None, visual=visual)]
    if out:
        out.write_text(json.dumps(found, indent=2))
    if as_json:
        print_json(found)
        return
    rows = [[timestamp(e["start"]), timestamp(e["end"]), escape(e["label"]), e["kind"], f"{e['confidence']:.2f}"]
            for e in found]
    print_table([Col("start", no_wrap=True), Col("end", no_wrap=True), Col("event"), Col("kind", drop=1),
                 Col("confidence", no_wrap=True)], rows, empty="no events above the threshold")
    console.print(ESC10_NOTE, style="dim", highlight=False)


__all__ = ["app", "events"]
