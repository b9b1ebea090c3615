"""`avu search`: the moments of an index that match a query, with per-modality reasons.

A query is text (what is said or shown) or `VIDEO@START-END` (a clip of an indexed video, found by
what it looks and sounds like). `-m` narrows the modalities compared and `-w` sets their weights in
the fusion rule (`avu.index.fusion`), as `Index.search(modalities=..., weights=...)` does. Below
the hits, one line says what was searched (the modalities the index holds, those compared, those
it could not use and why), a weak best hit is labelled weak, and "no hits" says why. The table
keeps the whole time range and every hit's reason at 80 columns (the reason wraps: each
modality's score with what matched, then the line said); `--json` prints one JSON list of hits
(the notes then go to stderr when there is something to say: a weak best hit, a modality not
used, no hits).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from avu.cli._console import clean_errors, console, err_console
from avu.cli._output import Col, print_json, print_table, time_range

app = typer.Typer()

COLUMNS = [Col("video", min_width=10), Col("time", no_wrap=True), Col("score", no_wrap=True),
           Col("why", min_width=24)]


def parse_query(query: str) -> str | tuple[str, float, float]:
    """Text as it is, or `VIDEO@START-END` as (video, start, end)."""
    if "@" in query and "-" in query.rsplit("@", 1)[1]:
        video, span = query.rsplit("@", 1)
        a, b = span.split("-", 1)
        return video, float(a), float(b)
    return query


def parse_modalities(values: list[str] | None) -> list[str] | None:
    """`-m seen -m heard` or `-m seen,heard` as one list (None: no -m, the index's default modalities)."""
    if not values:
        return None
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    if not names:
        raise ValueError(f"--modality names no modality: {values!r}")
    if "voice" in names:
        raise ValueError("voice is not a text modality: give a recording with --voice")
    return names


def parse_weights(values: list[str] | None, modalities: list[str] | None = None) -> dict[str, float] | None:
    """`--weight speech=2 --weight phrase=0` as {modality: weight}. A malformed, repeated, negative
    or non-finite weight, or one for a modality left out by `-m`, is a ValueError (`Index.search`
    checks the names)."""
    out: dict[str, float] = {}
    for v in values or []:
        name, sep, number = (x.strip() for x in v.partition("="))
        try:
            w = float(number) if sep and name else math.nan
        except ValueError:
            w = math.nan
        if not (math.isfinite(w) and w >= 0):
            raise ValueError(f"--weight wants MODALITY=NUMBER, a finite number >= 0 (e.g. speech=2), got {v!r}")
        if name in out:
            raise ValueError(f"--weight {name} is given twice ({out[name]:g} and {w:g})")
        if modalities is not None and name not in modalities and name != "phrase":
            raise ValueError(f"--weight {name}: {name} is not compared (-m {','.join(modalities)})")
        out[name] = w
    return out or None


def _why(h) -> str:
    """A hit's reason: each modality's score with the label or text that matched it, then the line
    said in the moment (the speech evidence's text, or what is said there when it matched otherwise)."""
    parts = []
    for m, v in h.scores_by_modality.items():
        if not v:
            continue
        first = (h.matched.get(m) or [None])[0] if m != "speech" else None  # the line said comes last, whole
        label = first[0] if isinstance(first, (list, tuple)) else first
        parts.append(f"{m} {v:.2f}" + (f" ({label})" if label else ""))
    said = f'said "{h.subtitle}"' if h.subtitle else ""
    return "; ".join(x for x in (", ".join(parts), said) if x)


def hit_rows(hits) -> list[list[str]]:
    """The table rows of `hits` (video file, time range, score, the reason with the line said)."""
    return [[escape(Path(h.path).name), time_range(h.start, h.end), f"{h.score:.3f}", escape(_why(h))]
            for h in hits]


def notes(result) -> list[str]:
    """What a user should know besides the hits: what was searched, a weak best hit, why no hits."""
    out = [f"searched {', '.join(result.searched) or 'nothing'} (the index holds {', '.join(result.held) or 'none'})"]
    out += [f"not searched: {m} ({why})" for m, why in result.unavailable.items()]
    if result.weak:
        out.append(f"weak: the best score {result[0].score:.3f} is below {result.weak_below:.2f}; "
                   "nothing may match this query")
    if not result:
        out.append(f"no hits: {result.reason}" if result.reason else "no hits")
    return out


@app.command()
@clean_errors
def search(index: Path = typer.Argument(..., help="Index folder."),
           query: str = typer.Argument(..., help="What is said or shown; or VIDEO@START-END for a clip."),
           k: int = typer.Option(5, "--k", "-k", min=1, help="Number of hits."),
           modality: Optional[List[str]] = typer.Option(
               None, "--modality", "-m", help="Compare only these (repeat or comma-separate: speech, seen, heard, "
                                              "read, visual, audio, fused). Default: all the index holds."),
           weight: Optional[List[str]] = typer.Option(
               None, "--weight", "-w", help="A modality's weight in the fusion, MODALITY=NUMBER (default 1; 0 leaves "
                                            "it out, 2 counts it twice; 'phrase' weighs a verbatim occurrence)."),
           where: Optional[str] = typer.Option(None, help="SQL over videos, e.g. \"duration > 60\"; with --voice "
                                                          "also \"speaker = 'S2'\"."),
           voice: bool = typer.Option(False, "--voice", help="QUERY is a recording: find where that voice speaks."),
           as_json: bool = typer.Option(False, "--json", help="One JSON list of hits.")):
    """Find the moments that match a query, with per-modality reasons."""
    from avu.index import open_index

    chosen = parse_modalities(modality)
    weights = parse_weights(weight, chosen)
    if voice and (chosen or weights):
        raise ValueError("--voice searches the voice alone: drop --modality and --weight")
    result = open_index(index).search(query if voice else parse_query(query), k=k, where=where,
                                      modalities=["voice"] if voice else chosen, weights=weights)
    if as_json:
        print_json([{key: v for key, v in h.to_dict().items() if key != "events"} for h in result])
        if result.weak or result.unavailable or not result:
            for line in notes(result):
                err_console.print(escape(line), style="dim", highlight=False)
        return
    if result:
        print_table(COLUMNS, hit_rows(result))
    for line in notes(result):
        console.print(escape(line), style="yellow" if line.startswith(("weak", "not", "no hits")) else "dim",
                      highlight=False)


__all__ = ["app", "hit_rows", "notes", "parse_modalities", "parse_query", "parse_weights", "search"]
