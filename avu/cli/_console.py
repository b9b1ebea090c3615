"""The consoles every `avu` command prints to, and the one way bad input ends a command: a single
`error: ...` line on stderr (the file and the reason) and exit code 1, never a traceback.

A closed pipe (`avu search ... --json | head`) is not bad input: `BrokenPipeError` passes through
to typer, which exits quietly, and `avu.cli.main` silences what is left in the stdout buffer.
"""
from __future__ import annotations

import functools
import sys
from typing import Callable

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


# Error classes by module: an exception can only have been raised once its module is loaded, so
# checking loaded modules never imports LanceDB or torch just to print an error line.
_ERROR_CLASSES = (("avu.media._errors", "MediaError"), ("avu.store.tables", "InvalidIndex"))


def user_errors() -> tuple[type[BaseException], ...]:
    """What a user can cause: bad media, a missing or foreign index, bad values, tool failures."""
    loaded = [getattr(sys.modules[m], name) for m, name in _ERROR_CLASSES if m in sys.modules]
    return (*loaded, ValueError, KeyError, RuntimeError, OSError)


def fail(e: BaseException) -> typer.Exit:
    """Print `error: <reason>` on stderr; return the exit (code 1) for the caller to raise."""
    msg = e.args[0] if isinstance(e, KeyError) and e.args else e
    err_console.print(f"[red]error:[/red] {escape(str(msg))}", highlight=False)
    return typer.Exit(1)


def clean_errors(fn: Callable) -> Callable:
    """Decorate a command so that user errors become one line and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, BrokenPipeError):  # a command's own exit, a closed pipe: pass on
            raise
        except user_errors() as e:
            raise fail(e) from None

    return wrapper
