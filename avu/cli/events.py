"""`avu events`: the event timeline of an indexed video.

Sound events from the AudioSet tags perception stored (521 classes) or, for a video ingested
without perception (or with `--sounds esc10`), from the shipped ESC-10 specialist (ten classes,
with a note saying so); free-text sound prompts are matched to the classes by meaning. With
`--visual`: high motion, scene changes, objects on screen and sight-and-sound agreement. The
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
from avu.cli._output import Col, print_json, print_table, time_range, timestamp

app = typer.Typer()

ESC10_NOTE = ("ESC-10 classes only: dog, rooster, rain, sea waves, crackling fire, crying baby, sneezing, "
              "clock tick, helicopter, chainsaw; other sounds are forced into one of them.")


@app.command()
@clean_errors
def events(index: Path = typer.Argument(..., help="Index folder."),
           video: str = typer.Argument(..., help="Video id, path or file name."),
           threshold: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="Minimum class probability "
                                                     "[AudioSet: the measured default; ESC-10: 0.8]."),
           min_duration: float = typer.Option(2.0, min=0.0, help="Shortest event kept, seconds."),
           out: Optional[Path] = typer.Option(None, help="Also write the events as JSON here."),
           prompt: List[str] = typer.Option([], "--prompt", help="Free-text sound, e.g. \"dog barking\" "
                                            "(repeatable; matched to the classes by meaning)."),
           visual: bool = typer.Option(False, "--visual", help="Add high-motion, scene-change, objects on "
                                       "screen and sight-and-sound events."),
           sounds: str = typer.Option("auto", "--sounds", help="auto: AudioSet tags when the "
                                      "video was perceived, else ESC-10; audioset; esc10."),
           as_json: bool = typer.Option(False, "--json", help="Print one JSON list.")):
    """The event timeline of an indexed video (sounds, prompts, and with --visual what is seen)."""
    from avu.index import open_index

    timeline = open_index(index).events(video, threshold=threshold, min_duration=min_duration,
                                        prompts=prompt or None, visual=visual, sounds=sounds)
    found = [e._asdict() for e in timeline]
    if out:
        out.write_text(json.dumps(found, indent=2))
    if as_json:
        print_json(found)
        return
    rows = [[timestamp(e["start"]), timestamp(e["end"]),
             escape(e["label"]) + (f" (at most {e['count']} at once)" if e.get("count") else ""), e["kind"],
             f"{e['confidence']:.2f}"] for e in found]
    print_table([Col("start", no_wrap=True), Col("end", no_wrap=True), Col("event"), Col("kind", drop=1),
                 Col("confidence", no_wrap=True)], rows,
                empty=f"no events: nothing reached {timeline.threshold_text()} (a short sound such as a "
                      "gunshot scores low over a whole segment: try --threshold 0.1 or --min-duration 0)")
    for m in timeline.prompts:
        console.print(escape(prompt_note(m)), style="dim", highlight=False)
    if timeline.sounds == "esc10":
        console.print(ESC10_NOTE, style="dim", highlight=False)


def prompt_note(m) -> str:
    """One `PromptMatch` in words: the classes the prompt means, and the most it reached where."""
    if m.best <= 0:
        return f"prompt {m.prompt!r} means {m.classes_text()}; none of them was heard here"
    return f"prompt {m.prompt!r} means {m.classes_text()}; it reached {m.best:.2f} at {time_range(m.start, m.end)}"


__all__ = ["app", "events", "prompt_note"]
