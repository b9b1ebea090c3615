"""`avu bench NAME`: the speed (and reliability) benchmarks, each printing one JSON object with `--json`.

The measuring code is `avu.bench.NAME`; the commands here turn options into arguments and print
the result: one JSON document with `--json`, else a short table or line. Side by side figures
(e.g. decoding next to the ffmpeg binary) are measured in the same run.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from avu._paths import shared_data
from avu.cli._console import clean_errors, console
from avu.cli._options import ENGINE_HELP, MODEL_HELP, check_engine, int_list
from avu.cli._output import Col, print_json, print_table

app = typer.Typer(no_args_is_help=True, help="Benchmarks; each prints one JSON object with --json.")


@app.command("decode")
@clean_errors
def decode(clip: Optional[Path] = typer.Option(None, help="Clip to decode (default: a shared H.264 clip)."),
           size: int = typer.Option(224, min=1, help="Output side in pixels."),
           threads: int = typer.Option(0, min=0, help="Decoder threads (0: one per core)."),
           repeats: int = typer.Option(3, min=1, help="Best of this many runs per figure."),
           as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Frames/s of read_frames (full rate and 1 fps) per backend next to the ffmpeg binary, and the
    CPU seconds of reading the clip as ingest does (2 s windows in order, 2 fps)."""
    from avu.bench.decode import bench_decode

    clip = clip or shared_data() / "video" / "big_buck_bunny_480p_30s.mp4"
    result = bench_decode(clip, size=size, threads=threads or None, repeats=repeats)
    if as_json:
        print_json(result)
        return
    rows = [["ffmpeg binary", f"{result['ffmpeg_fps']:.0f}", "-", "1.000", "-"]]
    rows += [[name, f"{r['fps_full']:.0f}", f"{r['fps_1hz']:.0f}", f"{r['ratio_vs_ffmpeg']:.3f}",
              f"{r['stream_cpu_s']:.2f}"] for name, r in result["backends"].items()]
    console.print(f"{escape(str(clip))} ({result['frames']} frames, {result['threads']} threads, {size}x{size} RGB)",
                  highlight=False)
    print_table([Col("decoder"), Col("frames/s full rate", no_wrap=True), Col("frames/s at 1 fps", no_wrap=True),
                 Col("vs ffmpeg", no_wrap=True), Col("CPU s, 2 s windows at 2 fps", no_wrap=True)], rows)


@app.command("ingest")
@clean_errors
def ingest(repeats: int = typer.Option(2, min=1, help="Best of this many runs per decoder count."),
           perception: bool = typer.Option(False, "--perception/--pipeline",
                                           help="Perception and diarization on (default: the pipeline alone)."),
           as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Ingest real-time factor with 1 and 2 decode actors, peak memory (1x vs 10x input), decode limit."""
    from avu.bench.ingest import bench_ingest

    result = bench_ingest(shared_data(), repeats=repeats, perception=perception)
    if as_json:
        print_json(result)
        return
    keys = ("rt_factor_1", "rt_factor_2", "scaling_2_vs_1", "peak_rss_mb", "peak_rss_mb_one_clip", "peak_rss_mb_10x",
            "ffmpeg_decode_rt_factor", "fraction_of_decode_limit", "writer_segments_per_s", "driver_calls_per_s")
    print_table([Col("figure"), Col("value", no_wrap=True)], [[k, str(result[k])] for k in keys if k in result])


@app.command("query")
@clean_errors
def query(sizes: str = typer.Option("10000,100000,1000000", help="Comma-separated table sizes."),
          queries: int = typer.Option(50, min=1, help="Queries per size."),
          fused: bool = typer.Option(True, "--fused/--speech-only",
                                     help="Time Index.search fused over every text modality (speech, seen, heard, "
                                          "read), as a default text query searches; or one speech column."),
          as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Search latency (p50/p95, text encoding included) and ANN recall@10 at 10k/100k/1M segments: by
    default of the fused text search (four columns), with --speech-only of one speech column."""
    if fused:
        from avu.bench.query_fused import bench_query_fused as run
    else:
        from avu.bench.query import bench_query as run

    result = run(int_list(sizes, "--sizes"), queries=queries)
    if as_json:
        print_json(result)
        return
    print_table([Col("segments", no_wrap=True), Col("index"), Col("p50 ms", no_wrap=True), Col("p95 ms", no_wrap=True),
                 Col("recall@10", no_wrap=True)],
                [[n, str(r.get("index", r.get("indexes"))), f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}",
                  f"{r['recall_at_10']:.3f}"] for n, r in result["sizes"].items()])


@app.command("reliability")
@clean_errors
def reliability(good: int = typer.Option(4, min=0, help="Plain clips ingested beside the bad inputs."),
                decoders: int = typer.Option(2, min=1, help="Decode actors."),
                call_timeout: float = typer.Option(20.0, min=0.1, help="Per-call decode time-out, seconds."),
                as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Ingest a generated corpus of bad inputs with good clips: tried, handled, crashed, lost segments."""
    import contextlib

    from avu.bench.reliability import bench_reliability

    with contextlib.redirect_stdout(sys.stderr):  # Ray's notices (a killed actor's retries) stay off the JSON
        result = bench_reliability(good=good, decoders=decoders, call_timeout=call_timeout)
    if as_json:
        print_json(result)
        return
    rows = [[d["case"], d["expect"], str(d["status"]), f"{d['segments']}/{d['expected_segments']}",
             "yes" if d["handled"] else "[red]no[/red]", escape((d["error"] or "")[:80])] for d in result["cases"]]
    print_table([Col("case"), Col("expected", drop=2), Col("got", no_wrap=True), Col("segments", no_wrap=True, drop=1),
                 Col("handled", no_wrap=True), Col("error", drop=3)], rows)
    console.print(" ".join(f"{k} {result[k]}" for k in ("tried", "handled", "crashed", "lost_segments",
                                                          "duplicate_segments", "ingest_s")))


@app.command("asr")
@clean_errors
def asr(media: Optional[Path] = typer.Option(None, help="File to transcribe [shared manifesto.mp4]."),
        model: Optional[Path] = typer.Option(None, help=MODEL_HELP),
        engine: str = typer.Option("auto", help=ENGINE_HELP),
        repeats: int = typer.Option(2, min=1, help="Warm runs; the best counts."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Transcription speed: x real time, warm, and the first call with the model load."""
    from avu.bench.asr import bench_asr

    path = media or shared_data() / "video" / "manifesto.mp4"
    r = bench_asr(path, model=model, engine=check_engine(engine), repeats=repeats)
    if as_json:
        print_json(r)
        return
    console.print(f"{escape(str(path))}: {r['audio_s']:.1f} s of audio, {r['engine']} ({r['model']}) on "
                  f"{r['machine']}: {r['x_realtime']:.1f}x real time warm ({r['warm_s']:.2f} s), "
                  f"first call {r['cold_s']:.2f} s", highlight=False)


@app.command("diarization")
@clean_errors
def diarization(repeats: int = typer.Option(2, min=1, help="Warm runs; the best counts."),
                shared: Optional[Path] = typer.Option(None, help="Shared data folder [../shared/data]."),
                as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Speaker diarization speed: x real time (wall and CPU time) on the shared speech, stage by stage."""
    from avu.bench.diarization import run

    print_json(run(shared, repeats=repeats), indent=None if as_json else 1)


@app.command("perception")
@clean_errors
def perception(threads: int = typer.Option(1, min=1, help="Threads per model."),
               repeats: int = typer.Option(3, min=1, help="Timed passes; the best counts."),
               max_segments: Optional[int] = typer.Option(None, "--max-segments", min=1,
                                                          help="Segments per clip for the Perceiver part."),
               models_dir: Optional[Path] = typer.Option(None, "--models", help="Perception model files."),
               ingest: bool = typer.Option(True, "--ingest/--no-ingest",
                                           help="Also time `avu ingest` of the clips with perception on."),
               as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Items per second of each perception model, the Perceiver's cost per 2 s segment, and
    ingest with perception on (`ingest_rt_factor`, video seconds per wall second)."""
    from avu.bench.perception import run

    print_json(run(models_dir=models_dir, threads=threads, repeats=repeats, max_segments=max_segments,
                   ingest=ingest), indent=None if as_json else 1)


@app.command("train")
@clean_errors
def train(model: str = typer.Option("avshapes_fused", "--model", help="Model config name."),
          batch: int = typer.Option(64, "--batch", min=2, help="Pairs per step."),
          steps: int = typer.Option(10, "--steps", min=1, help="Timed steps (after 2 warm-up steps)."),
          as_json: bool = typer.Option(False, "--json", help="Print one JSON object only.")):
    """Training throughput (samples/s) of a model's full step; on GPU also fp32 vs bfloat16 and peak memory."""
    from avu.bench.train import bench_train

    print_json(bench_train(model=model, batch=batch, steps=steps), indent=None if as_json else 1)


__all__ = ["app", "asr", "decode", "diarization", "ingest", "perception", "query", "reliability", "train"]
