"""`avu models`: which pretrained perception model files avu finds (and where), and
`avu models install DIR`: copy them, verified against the sha256 pins, into `~/.cache/avu/models`.

Lookup order: `--models DIR` / `$AVU_MODELS`, then `~/.cache/avu/models`, then `../shared/models`
beside the checkout (`avu.perception.files`). Nothing is ever downloaded.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from avu.cli._console import clean_errors, console, err_console
from avu.cli._output import Col, print_json, print_table

app = typer.Typer(invoke_without_command=True, no_args_is_help=False,
                  help="Pretrained perception models: list what is found, install from a folder.")


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


@app.callback()
@clean_errors
def models(ctx: typer.Context,
           models_dir: Optional[Path] = typer.Option(None, "--models", help="Look here first (else $AVU_MODELS)."),
           as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """List each model file: found or missing, path, size, licence, source."""
    if ctx.invoked_subcommand is not None:
        return
    from avu.perception.files import model_status, ocr_available, search_dirs

    rows = model_status(models_dir)
    ocr = ocr_available()
    if as_json:
        print_json({"search": [str(d) for d in search_dirs(models_dir)], "files": rows,
                    "ocr": {"found": ocr is None, "package": "rapidocr-onnxruntime", "error": ocr}})
    else:
        table = [[escape(r["file"]), "found" if r["found"] else "[red]missing[/red]",
                  escape(r["path"] or (r["error"] or "")), _size(r["bytes"]), escape(r["licence"]),
                  escape(r["source"])] for r in rows]
        table.append(["PP-OCR (rapidocr-onnxruntime)", "found" if ocr is None else "[red]missing[/red]",
                      "inside the wheel" if ocr is None else escape(ocr), "-", "Apache-2.0", "PaddleOCR via RapidOCR"])
        print_table([Col("file"), Col("status", no_wrap=True), Col("path"), Col("size", no_wrap=True, drop=3),
                     Col("licence", drop=2), Col("source", drop=1)], table)
        console.print("looked in: " + ", ".join(escape(str(d)) for d in search_dirs(models_dir)), highlight=False)
    if any(not r["found"] for r in rows) or ocr:
        raise typer.Exit(1)


@app.command()
@clean_errors
def install(src: Path = typer.Argument(..., help="Folder holding the model files (e.g. ../shared/models)."),
            dest: Optional[Path] = typer.Option(None, "--to", help="Install here instead of ~/.cache/avu/models."),
            as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Copy the pinned model files found in SRC into the cache, verifying each sha256."""
    from avu.perception.files import PINS, ModelMissing
    from avu.perception.files import install as install_files

    try:
        done = install_files(src, dest)
    except ModelMissing as e:
        raise RuntimeError(e.message) from None
    lacking = sorted(set(PINS) - {p.name for p in done})
    if as_json:
        print_json({"installed": [str(p) for p in done], "not_in_source": lacking})
        return
    for p in done:
        console.print(f"installed {escape(str(p))}", highlight=False)
    if lacking:
        err_console.print(f"not in {escape(str(src))}: {', '.join(lacking)}", highlight=False)


__all__ = ["app"]
