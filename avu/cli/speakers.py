"""`avu speakers INDEX VIDEO`: who speaks when in an indexed video (the turns ingest stored,
`Index.speakers`) and each speaker's talk time.

The index is opened inside the command. A missing index or video prints one `error: ...` line on
stderr and exits with code 1; a video indexed without speakers (no audio, `speakers: off`, or an
index from before them) says so. `avu transcribe FILE --speakers` diarizes a file directly.
"""
from __future__ import annotations

from typing import Optional

import typer
from rich.markup import escape

from avu.cli._console import clean_errors, console
from avu.cli._output import Col, print_json, print_table, time_range

app = typer.Typer()


@app.command()
@clean_errors
def speakers(index: str = typer.Argument(..., help="Index folder (or object-store URI)."),
             video: str = typer.Argument(..., help="Video id, the path it was indexed under, or its file name."),
             where: Optional[str] = typer.Option(None, help="Keep some voices: \"speaker = 'S2'\" or "
                                                            "\"speaker IN ('S1', 'S3')\"."),
             as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Print the speaker turns of an indexed video and the talk time per speaker."""
    from avu.index import open_index

    idx = open_index(index)
    row = idx.video(video)
    turns = idx.speakers(video, where=where)
    stored = row.get("speakers")
    talk: dict[str, float] = {}
    for t in turns:
        talk[t.speaker] = talk.get(t.speaker, 0.0) + t.end - t.start
    reason = None if turns else (stored or {}).get("reason") or (
        "no turn passes the filter" if stored else "not diarized at ingest (no audio, speakers: off, "
                                                   "or an index from before speakers: ingest again)")
    if as_json:
        print_json({"video_id": row["video_id"], "path": row["path"], "turns": [t.to_dict() for t in turns],
                    "talk_time_s": {s: round(v, 2) for s, v in talk.items()}, "reason": reason})
        return
    console.print(f"{escape(row['path'] or row['video_id'])}: " + (
        ", ".join(f"{s} {v:.1f} s" for s, v in talk.items()) if talk else f"no speakers ({escape(reason)})"),
        highlight=False)
    print_table([Col("speaker", no_wrap=True), Col("time", no_wrap=True), Col("length", no_wrap=True),
                 Col("confidence", no_wrap=True)],
                [[t.speaker, time_range(t.start, t.end), f"{t.end - t.start:.1f} s", f"{t.confidence:.2f}"]
                 for t in turns], empty="no speaker turns")
