"""The summarization commands of `avu`: `summarize` and `eval tvsum-human`.

`register(app, eval_app)` adds them to the typer apps that `avu.cli` builds, so the summarization
front end lives beside `avu.summaries.summarize` and `avu.metrics`. Heavy imports (LanceDB, MiniLM,
h5py) happen inside the commands. A missing index or video, bad media and bad arguments print one
`error: ...` line on stderr and exit with code 1, without a traceback.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from avu.media import MediaError

from avu.cli._console import clean_errors as _clean_errors
from avu.cli._console import console




def hhmmss(t: float) -> str:
    h, rem = divmod(max(0.0, t), 3600)
    m, s = divmod(rem, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:06.3f}"


def _default_mat() -> Path:
    from avu.cli import shared_data  # at run time avu.cli is fully imported

    return shared_data() / "annotations" / "tvsum" / "ydata-tvsum50.mat"


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `summarize` to `app` and `tvsum-human` to `eval_app`."""

    @app.command()
    @_clean_errors
    def summarize(index: str = typer.Argument(..., help="Index folder (or object-store URI)."),
                  video: str = typer.Argument(..., help="Video id, the path it was indexed under, or its file name."),
                  budget: float = typer.Option(0.15, help="Summary length as a fraction of the duration."),
                  query: Optional[str] = typer.Option(None, help="Focus the summary on what is said about this."),
                  out_video: Optional[Path] = typer.Option(None, "--video", help="Write the summary as an mp4."),
                  sheet: Optional[Path] = typer.Option(None, "--sheet", help="Write a PNG of the key frames."),
                  as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
        """Pick the key shots of an indexed video within a length budget; print them and what is said."""
        from avu.store.tables import IndexStore
        from avu.summaries.summarize import contact_sheet, render_summary_video
        from avu.summaries.summarize import summarize as run

        t0 = time.perf_counter()
        store = IndexStore(index)
        summary = run(store, video, budget=budget, query=query)
        outputs = {}
        if out_video is not None:
            outputs["video"] = str(render_summary_video(summary, out_video))
        if sheet is not None:
            outputs["sheet"] = str(contact_sheet(summary, sheet, store.segment_rows(summary.video_id)))
        seconds = time.perf_counter() - t0
        if as_json:
            print(json.dumps({**summary.to_dict(), "outputs": outputs, "seconds": seconds}))
            return
        sel = summary.selected
        console.print(f"{escape(Path(summary.path).name)}: {summary.duration:.1f} s; budget "
                      f"{summary.budget_seconds:.1f} s ({budget:.0%}); {len(sel)} of {len(summary.shots)} shots, "
                      f"{summary.selected_seconds:.1f} s" + (f"; query {escape(query)!r}" if query else ""),
                      highlight=False)
        table = Table("shot", "time", "length", "score")
        for k, s in enumerate(summary.shots):
            if s.selected:
                table.add_row(str(k + 1), f"{hhmmss(s.start)}-{hhmmss(s.end)}", f"{s.duration:.1f} s", f"{s.score:.3f}")
        console.print(table if sel else "no shot fits the budget")
        for c in summary.lines:
            console.print(f"  {hhmmss(c.start)}  {escape(c.text)}", highlight=False)
        if summary.text:
            console.print(f"summary: {escape(summary.text)}", highlight=False)
        for kind, path in outputs.items():
            console.print(f"{kind}: {escape(path)}", highlight=False)

    @eval_app.command("tvsum-human")
    @_clean_errors
    def eval_tvsum_human(mat: Optional[Path] = typer.Option(None, help="ydata-tvsum50.mat [shared annotations]."),
                         as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
        """Human leave-one-out rank correlation on TVSum (Otani et al. 2019: tau .177, rho .204)."""
        from avu.metrics import tvsum_human_leave_one_out

        path = mat or _default_mat()
        if not path.is_file():
            raise MediaError(path, "TVSum annotations not found (set AVU_SHARED_DATA or use --mat)")
        t0 = time.perf_counter()
        r = tvsum_human_leave_one_out(path)
        r = {k: v for k, v in r.items() if k != "per_video"} | {"seconds": time.perf_counter() - t0}
        if as_json:
            print(json.dumps(r))
            return
        table = Table("measure", "measured", "Otani et al. 2019")
        for k in ("kendall_tau", "spearman_rho"):
            table.add_row(k, f"{r[k]:.4f}", f"{r['paper'][k]:.3f}")
        console.print(f"TVSum: {r['videos']} videos, {r['annotators']} annotators; {r['procedure']}", highlight=False)
        console.print(table)
