"""How `avu` commands print, in one place: JSON documents, tables that read at 80 columns, times.

- `print_json(obj)`: `--json` prints exactly one JSON document with a trailing newline on stdout
  (progress and notices go to stderr), flushed at once so that a closed pipe (`... --json | head`)
  surfaces inside the command, where typer ends it quietly.
- `fit_table(columns, rows)`: a rich table that fits the terminal. Columns marked `no_wrap` (time
  ranges, numbers, statuses) are never wrapped or cut; text columns wrap; when even that does not
  fit, the columns with the highest `drop` rank are left out, one at a time (and on a terminal too
  narrow for the rest, every column folds: a character is never cut off).
- `time_range(start, end)` / `timestamp(t)`: every time a command prints goes through
  `avu.media.subtitles.format_timestamp` ("hh:mm:ss.mmm").
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Sequence

from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from avu.cli._console import console as _stdout_console

WRAP_MIN = 10  # narrowest a wrapping text column may get, in cells
_BORDER = 3  # cells a column adds to the default box beyond its text: padding 1 + 1 + a rule


@dataclass(frozen=True)
class Col:
    """One column of a `fit_table`."""

    header: str
    no_wrap: bool = False  # never wrap or cut this column (a time range, a number, a status)
    drop: int = 0  # 0: always kept; otherwise left out when the table does not fit, highest first
    justify: str = "left"  # "left", "right" or "center"
    min_width: int = WRAP_MIN  # a wrapping column is not squeezed below this (fewer when its text is short)
    hide_empty: bool = False  # leave the column out when none of its cells holds anything


def print_json(obj: Any, *, indent: int | None = None) -> None:
    """One JSON document and a newline on stdout, flushed (a closed pipe shows here, not at exit)."""
    sys.stdout.write(json.dumps(obj, indent=indent) + "\n")
    sys.stdout.flush()


def timestamp(t: float) -> str:
    """`t` seconds as "hh:mm:ss.mmm" (negative times, from float noise, print as zero)."""
    from avu.media.subtitles import format_timestamp

    return format_timestamp(max(0.0, float(t)))


def time_range(start: float, end: float) -> str:
    """"hh:mm:ss.mmm-hh:mm:ss.mmm": one cell that a table never cuts (see `fit_table`)."""
    return f"{timestamp(start)}-{timestamp(end)}"


def _cells(cell: str) -> int:
    """The printed width of a cell (markup such as "[red]no[/red]" takes no room)."""
    return max((Text.from_markup(line).cell_len for line in cell.split("\n")), default=0)


def _natural(col: Col, values: list[str]) -> int:
    """The width a column takes when nothing has to wrap: its widest cell or header."""
    return max([_cells(col.header), *(_cells(v) for v in values)])


def _needed(col: Col, values: list[str]) -> int:
    """The narrowest a column can be: its widest cell when it may not wrap, else `min_width`."""
    widest = _natural(col, values)
    return widest if col.no_wrap else min(widest, max(col.min_width, _cells(col.header)))


def _widths(columns: Sequence[Col], rows: Sequence[Sequence[str]], keep: list[int], width: int) -> dict[int, int]:
    """Text widths of the kept columns within `width`: unwrapped ones at their widest cell; the rest
    share the room evenly up to a common cap, so a short column is shown whole before a long one grows."""
    natural = {i: _natural(columns[i], [r[i] for r in rows]) for i in keep}
    out = {i: _needed(columns[i], [r[i] for r in rows]) for i in keep}
    room = width - 1 - sum(out[i] + _BORDER for i in keep)
    growing = sorted((i for i in keep if natural[i] > out[i]), key=lambda i: natural[i] - out[i])
    while growing and room > 0:
        share = room // len(growing)
        i = growing[0]
        add = min(natural[i] - out[i], share)
        if add == 0:  # less room than columns: hand out the last cells one at a time
            for i in growing[:room]:
                out[i] += 1
            break
        if add == natural[i] - out[i]:  # the smallest wish fits: grant it whole
            out[i], room = natural[i], room - add
            growing.pop(0)
            continue
        for i in growing:  # every wish exceeds an even share: each gets the share
            out[i] += share
        room -= share * len(growing)
        growing = [i for i in growing if natural[i] > out[i]]
    return out


def fit_table(columns: Sequence[Col], rows: Sequence[Sequence[str]], *, width: int | None = None) -> Table:
    """A rich table of `rows` (strings, rich markup allowed) that fits `width` cells (default: the
    terminal's): text columns wrap, `no_wrap` columns keep every character, and droppable columns
    go (highest `drop` first) until the rest fits."""
    width = width or _stdout_console.width
    keep = [i for i, c in enumerate(columns) if not (c.hide_empty and rows and not any(r[i] for r in rows))]

    def total(idx: list[int]) -> int:
        return 1 + sum(_needed(columns[i], [r[i] for r in rows]) + _BORDER for i in idx)

    for i in sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: -columns[i].drop):
        if total(keep) <= width:
            break
        keep.remove(i)
    if total(keep) > width:  # too narrow even so: every column folds rather than lose characters
        table = Table(*(Column(columns[i].header, justify=columns[i].justify, overflow="fold") for i in keep))
    else:
        widths = _widths(columns, rows, keep, width)
        table = Table(*(Column(columns[i].header, no_wrap=columns[i].no_wrap, justify=columns[i].justify,
                               overflow="fold", width=widths[i]) for i in keep))
    for r in rows:
        table.add_row(*(r[i] for i in keep))
    return table


def print_table(columns: Sequence[Col], rows: Sequence[Sequence[str]], *, empty: str | None = None,
                out: Console | None = None) -> None:
    """Print `fit_table(columns, rows)` on `out` (stdout's console), or `empty` when there are no rows."""
    out = out or _stdout_console
    if not rows and empty is not None:
        out.print(empty, highlight=False)
        return
    out.print(fit_table(columns, rows, width=out.width))


__all__ = ["Col", "fit_table", "print_json", "print_table", "time_range", "timestamp"]
