"""The consoles every `avu` command prints to, and the one way bad input ends a command: a single
`error: ...` line on stderr (the file and the reason) and exit code 1, never a traceback."""
from __future__ import annotations

import functools
from typing import Callable

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def user_errors() -> tuple[type[BaseException], ...]:
    """What a user can cause: bad media, a missing or foreign index, bad values, tool failures."""
    from avu.store.tables import InvalidIndex
    from avu.media import MediaError

    return (MediaError, InvalidIndex, ValueError, KeyError, RuntimeError, OSError)


def fail(e: BaseException) -> typer.Exit:
    msg = e.args[0] if isinstance(e, KeyError) and e.args else e
    err_console.print(f"[red]error:[/red] {escape(str(msg))}", highlight=False)
    return typer.Exit(1)


def clean_errors(fn: Callable) -> Callable:
    """Decorate a command so that user errors become one line and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):  # a command's own exit (typer.Exit is a RuntimeError): pass it on
            raise
        except user_errors() as e:
            raise fail(e) from None

    return wrapper
