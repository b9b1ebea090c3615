"""`avu search`: the moments of an index that match a query, with per-modality reasons.

A query is text (what is said or shown) or `VIDEO@START-END` (a clip of an indexed video, found by
what it looks and sounds like). The table keeps the whole time range at 80 columns and leaves out
the per-modality column first; `--json` prints one JSON list of hits.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from avu.cli._console import clean_errors
from avu.cli._output import Col, print_json, print_table, time_range

app = typer.Typer()

COLUMNS = [Col("video", min_width=10), Col("time", no_wrap=True), Col("score", no_wrap=True),
           Col("why", drop=1, min_width=14), Col("said", min_width=24)]


def parse_query(query: str) -> str | tuple[str, float, float]:
    """Text as it is, or `VIDEO@START-END` as (video, start, end)."""
    if "@" in query and "-" in query.rsplit("@", 1)[1]:
        video, span = query.rsplit("@", 1)
        a, b = span.split("-", 1)
        return video, float(a), float(b)
    return query


def hit_rows(hits) -> list[list[str]]:
    """The table rows of `hits` (video file, time range, score, modality scores, the line said)."""
    return [[escape(Path(h.path).name), time_range(h.start, h.end), f"{h.score:.3f}",
             ", ".join(f"{m} {v:.2f}" for m, v in h.scores_by_modality.items() if v), escape(h.subtitle or "")]
            for h in hits]


@app.command()
@clean_errors
def search(index: Path = typer.Argument(..., help="Index folder."),
           query: str = typer.Argument(..., help="What is said or shown; or VIDEO@START-END for a clip."),
           k: int = typer.Option(5, "--k", min=1, help="Number of hits."),
           where: Optional[str] = typer.Option(None, help="SQL over videos, e.g. \"duration > 60\"."),
           as_json: bool = typer.Option(False, "--json", help="One JSON list of hits.")):
    """Find the moments that match a query, with per-modality reasons."""
    from avu.index import open_index

    hits = open_index(index).search(parse_query(query), k=k, where=where)
    if as_json:
        print_json([{key: v for key, v in h.to_dict().items() if key != "events"} for h in hits])
        return
    print_table(COLUMNS, hit_rows(hits), empty="no hits")


__all__ = ["app", "hit_rows", "parse_query", "search"]
