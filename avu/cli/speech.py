"""The speech commands of `avu`: `transcribe`, `align`, `eval asr` and `bench asr`.

`register(app, bench_app, eval_app)` adds them to the typer apps that `avu.cli` builds; this
module stays apart from `avu.cli` so that the speech front end and the library under it can change
together. Heavy imports (faster-whisper, sentence-transformers) happen inside the commands, so
`avu --help` stays fast. Bad media and engine problems print one `error: ...` line, exit code 1.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from avu.media import MediaError

from avu.cli._console import clean_errors as _clean_errors
from avu.cli._console import console

_ENGINES = ("auto", "whisper", "pocketsphinx")
_OUT_SUFFIXES = (".srt", ".vtt", ".json")
_MODEL_HELP = "CTranslate2 Whisper model folder [bundled tiny.en]."




def _check_engine(engine: str) -> str:
    if engine not in _ENGINES:
        raise typer.BadParameter(f"must be one of {', '.join(_ENGINES)}, not {engine!r}",
                                 param_hint="--engine")
    return engine


def _shared(shared: Optional[Path]) -> Path:
    if shared is not None:
        return shared
    from avu.cli import shared_data  # at run time avu.cli is fully imported

    return shared_data()


def _ts(seconds: float) -> str:
    from avu.media.subtitles import format_timestamp

    return format_timestamp(seconds)


def register(app: typer.Typer, bench_app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `transcribe` and `align` to `app`, `asr` to `bench_app` and to `eval_app`."""

    @app.command()
    @_clean_errors
    def transcribe(media: Path = typer.Argument(..., help="Audio or video file."),
                   out: Optional[Path] = typer.Option(None, help="Write .srt, .vtt or .json (cues and words)."),
                   model: Optional[Path] = typer.Option(None, help=_MODEL_HELP),
                   engine: str = typer.Option("auto", help="auto, whisper or pocketsphinx."),
                   language: str = typer.Option("en", help="Spoken language ('auto': detect; multilingual models)."),
                   vad: bool = typer.Option(True, help="Skip non-speech with voice activity detection."),
                   start: Optional[float] = typer.Option(None, help="Start of the window to transcribe, seconds."),
                   end: Optional[float] = typer.Option(None, help="End of the window to transcribe, seconds.")):
        """Transcribe speech to timed cues and words; print the cues, or write them with --out."""
        from avu.speech.asr import transcribe as run, write_transcript

        _check_engine(engine)
        if out is not None and out.suffix.lower() not in _OUT_SUFFIXES:
            raise typer.BadParameter(f"use a .srt, .vtt or .json name, not {out.name!r}", param_hint="--out")
        t = run(media, model=model, engine=engine, language=None if language == "auto" else language,
                vad=vad, start=start, end=end)
        if out is not None:
            write_transcript(t, out)
            console.print(f"{len(t.cues)} cues, {len(t.words)} words ({t.engine}, {t.model}) -> {out}",
                          highlight=False)
            return
        for c in t.cues:
            console.print(f"[dim]{_ts(c.start)} --> {_ts(c.end)}[/dim]  {escape(c.text)}", highlight=False)
        if not t.cues:
            console.print(f"no speech found in {media} ({t.duration:.1f} s)", highlight=False)

    @app.command()
    @_clean_errors
    def align(video: Path = typer.Argument(..., help="Media file whose speech the subtitles belong to."),
              subs: Path = typer.Argument(..., help="Subtitles (.srt or .vtt) to check and fix."),
              out: Optional[Path] = typer.Option(None, help="Write the fixed subtitles here (.srt or .vtt)."),
              model: Optional[Path] = typer.Option(None, help=_MODEL_HELP),
              engine: str = typer.Option("auto", help="auto, whisper or pocketsphinx.")):
        """Find the subtitles' offset and drift against the speech; write fixed subtitles with --out."""
        from avu.speech.align import align_file

        _check_engine(engine)
        if out is not None and out.suffix.lower() not in (".srt", ".vtt"):
            raise typer.BadParameter(f"use a .srt or .vtt name, not {out.name!r}", param_hint="--out")
        r = align_file(video, subs, out, model=model, engine=engine)
        console.print(f"offset {r.offset:+.3f} s, drift {r.drift:+.2f} s/hour (scale {r.scale:.6f}); "
                      f"matched {r.matched}/{r.total} cues, {r.inliers} inliers, "
                      f"median residual {r.residual:.3f} s", highlight=False)
        if out is not None:
            console.print(f"wrote {out}", highlight=False)

    @eval_app.command("asr")
    @_clean_errors
    def eval_asr_cmd(as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
                     model: Optional[Path] = typer.Option(None, help=_MODEL_HELP),
                     engine: str = typer.Option("auto", help="auto, whisper or pocketsphinx."),
                     shared: Optional[Path] = typer.Option(None, help="Shared data folder [../shared/data].")):
        """WER, timing error and paraphrase retrieval on the real speech in the shared data."""
        from avu.bench.asr import eval_asr

        _check_engine(engine)
        root = _shared(shared)
        if not (root / "video" / "manifesto.mp4").is_file():
            raise MediaError(root, "shared data not found (set AVU_SHARED_DATA or use --shared)")
        r = eval_asr(root, model=model, engine=engine)
        if as_json:
            print(json.dumps(r))
            return
        table = Table("file", "WER", "timing error", "audio", "note")
        for name, f in r["files"].items():
            table.add_row(name, "-" if f["wer"] is None else f"{f['wer']:.3f}",
                          "-" if f["timing_error_s"] is None else f"{f['timing_error_s']:.3f} s",
                          f"{f['audio_s']:.1f} s", escape(f.get("note") or ""))
        console.print(f"{r['engine']} ({r['model']}) on {r['machine']}", highlight=False)
        console.print(table)
        met = r["targets_met"]
        console.print(f"mean WER {r['mean_wer']:.3f} (pooled {r['pooled_wer']:.3f}); paraphrase rank-1 "
                      f"{r['paraphrase_rank1']:.3f} of {r['paraphrase']['queries']}; targets met: "
                      + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in met.items())
                      + f"; {r['seconds']:.1f} s", highlight=False)

    @bench_app.command("asr")
    @_clean_errors
    def bench_asr_cmd(media: Optional[Path] = typer.Option(None, help="File to transcribe [shared manifesto.mp4]."),
                      model: Optional[Path] = typer.Option(None, help=_MODEL_HELP),
                      engine: str = typer.Option("auto", help="auto, whisper or pocketsphinx."),
                      repeats: int = typer.Option(2, help="Warm runs; the best counts."),
                      as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
        """Transcription speed: x real time, warm, and the first call with the model load."""
        from avu.bench.asr import bench_asr

        _check_engine(engine)
        path = media or _shared(None) / "video" / "manifesto.mp4"
        r = bench_asr(path, model=model, engine=engine, repeats=repeats)
        if as_json:
            print(json.dumps(r))
            return
        console.print(f"{path}: {r['audio_s']:.1f} s of audio, {r['engine']} ({r['model']}) on {r['machine']}: "
                      f"{r['x_realtime']:.1f}x real time warm ({r['warm_s']:.2f} s), "
                      f"first call {r['cold_s']:.2f} s", highlight=False)
