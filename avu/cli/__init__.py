"""The `avu` command: a thin typer front end over the library, one module per command group.

Each module has its own `app = typer.Typer()` whose commands are top-level functions, testable on
their own (`typer.testing.CliRunner().invoke(avu.cli.search.app, [...])`); this file only joins
them. Modules of top-level commands are merged into `avu` (nameless `add_typer`), groups get their
name (`avu bench ...`, `avu eval ...`). Shared helpers: `_console` (consoles, `clean_errors`: bad
input is one `error:` line and exit code 1), `_output` (JSON, tables that fit 80 columns, times),
`_options` (option parsing). Command modules import only typer and rich at the top and everything
heavy inside the commands, so `avu --help` starts fast.
"""
from __future__ import annotations

import os
import sys

import typer

from avu.cli import bench, demo, events, ingest, misc, models, search, speakers, speech, summarize, train
from avu.cli import eval as eval_commands
from avu.cli._console import err_console

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="avu: audio-visual video understanding (decode, segment, index, search).")
for _module in (misc, ingest, search, events, demo, speech, speakers, summarize, train):
    app.add_typer(_module.app)
app.add_typer(bench.app, name="bench")
app.add_typer(eval_commands.app, name="eval")
app.add_typer(models.app, name="models")


def main() -> None:
    """The `avu` entry point: Ctrl-C ends with code 130, a closed stdout pipe ends quietly."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    finally:
        _quiet_closed_stdout()


def _quiet_closed_stdout() -> None:
    """Flush stdout; if the reader has gone (`avu ... | head`), point stdout at /dev/null so that
    Python's own flush at exit does not print `BrokenPipeError` (the recipe in Python's docs)."""
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


__all__ = ["app", "main"]
