"""`avu transcribe` and `avu align`: speech to timed cues, and subtitles checked against the speech.

`avu transcribe --speakers` also diarizes the file (`avu.speakers`) and labels each cue `[S1] ...`.
faster-whisper (or PocketSphinx) and the alignment code are imported inside the commands, so
`avu --help` stays fast. Bad media and engine problems print one `error: ...` line, exit code 1.
The speech evaluation and speed benchmark are `avu eval asr` and `avu bench asr`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from avu.cli._console import clean_errors, console
from avu.cli._options import ENGINE_HELP, MODEL_HELP, check_engine
from avu.cli._output import timestamp

app = typer.Typer()

_OUT_SUFFIXES = (".srt", ".vtt", ".json")


def _speakers_line(d) -> str:
    """Who spoke how long ("S1 42.0 s, S2 10.3 s"), or why nobody was found."""
    talk = d.talk_time()
    return ("speakers: " + ", ".join(f"{s} {secs:.1f} s" for s, secs in talk.items())) if talk \
        else f"no speakers: {d.reason}"


@app.command()
@clean_errors
def transcribe(media: Path = typer.Argument(..., help="Audio or video file."),
               out: Optional[Path] = typer.Option(None, help="Write .srt, .vtt or .json (cues and words)."),
               model: Optional[Path] = typer.Option(None, help=MODEL_HELP),
               engine: str = typer.Option("auto", help=ENGINE_HELP),
               language: str = typer.Option("en", help="Spoken language ('auto': detect; multilingual models)."),
               vad: bool = typer.Option(True, help="Skip non-speech with voice activity detection."),
               start: Optional[float] = typer.Option(None, min=0.0, help="Start of the window to transcribe, seconds."),
               end: Optional[float] = typer.Option(None, min=0.0, help="End of the window to transcribe, seconds."),
               speakers: bool = typer.Option(False, "--speakers", help="Label each cue with its speaker (S1, S2, ... "
                                             "by first appearance); .json also gets the turns and talk time.")):
    """Transcribe speech to timed cues and words; print the cues, or write them with --out."""
    from avu.speech.asr import transcribe as run
    from avu.speech.asr import write_transcript

    check_engine(engine)
    if out is not None and out.suffix.lower() not in _OUT_SUFFIXES:
        raise typer.BadParameter(f"use a .srt, .vtt or .json name, not {out.name!r}", param_hint="--out")
    t = run(media, model=model, engine=engine, language=None if language == "auto" else language,
            vad=vad, start=start, end=end)
    who = None
    if speakers:
        from avu.speakers import diarize

        who = diarize(media, start=start, end=end)
    if out is not None:
        if who is None:
            write_transcript(t, out)
        else:
            from avu.speakers.transcript import write_srt_with_speakers

            write_srt_with_speakers(t, who, out)
        console.print(f"{len(t.cues)} cues, {len(t.words)} words ({t.engine}, {t.model}) -> {out}", highlight=False)
    else:
        cues = t.cues
        if who is not None:
            from avu.speakers.transcript import labelled_cues

            cues = labelled_cues(t.cues, who)
        for c in cues:
            console.print(f"[dim]{timestamp(c.start)} --> {timestamp(c.end)}[/dim]  {escape(c.text)}", highlight=False)
        if not t.cues:
            console.print(f"no speech found in {media} ({t.duration:.1f} s)", highlight=False)
    if who is not None:
        console.print(escape(_speakers_line(who)), highlight=False)


@app.command()
@clean_errors
def align(video: Path = typer.Argument(..., help="Media file whose speech the subtitles belong to."),
          subs: Path = typer.Argument(..., help="Subtitles (.srt or .vtt) to check and fix."),
          out: Optional[Path] = typer.Option(None, help="Write the fixed subtitles here (.srt or .vtt)."),
          model: Optional[Path] = typer.Option(None, help=MODEL_HELP),
          engine: str = typer.Option("auto", help=ENGINE_HELP)):
    """Find the subtitles' offset and drift against the speech; write fixed subtitles with --out."""
    from avu.speech.align import align_file

    check_engine(engine)
    if out is not None and out.suffix.lower() not in (".srt", ".vtt"):
        raise typer.BadParameter(f"use a .srt or .vtt name, not {out.name!r}", param_hint="--out")
    r = align_file(video, subs, out, model=model, engine=engine)
    console.print(f"offset {r.offset:+.3f} s, drift {r.drift:+.2f} s/hour (scale {r.scale:.6f}); "
                  f"matched {r.matched}/{r.total} cues, {r.inliers} inliers, "
                  f"median residual {r.residual:.3f} s", highlight=False)
    if out is not None:
        console.print(f"wrote {out}", highlight=False)


__all__ = ["app", "align", "transcribe"]
