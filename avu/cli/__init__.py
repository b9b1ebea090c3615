"""The `avu` command: a thin typer front end over the library, with rich tables.

Bad input never prints a traceback: a `MediaError` becomes one line naming the file and the
reason, and the exit code is non-zero.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from avu._paths import REPO, shared_data  # noqa: F401  (shared_data: used by the command modules)
from avu.cli._console import clean_errors, console, err_console
from avu.media import MediaError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="avu: audio-visual video understanding (decode, segment, index, search).")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks; each prints one JSON object with --json.")
app.add_typer(bench_app, name="bench")
eval_app = typer.Typer(no_args_is_help=True, help="Evaluations on real data; each prints one JSON object with --json.")
app.add_typer(eval_app, name="eval")

def _fmt_streams(info) -> str:
    parts = []
    if info.has_video:
        rot = f" rot{info.rotation}" if info.rotation else ""
        parts.append(f"{info.video_codec} {info.width}x{info.height} {info.fps:.2f}fps{rot}")
    if info.has_audio:
        parts.append(f"{info.audio_codec} {info.sample_rate}Hz {info.channels}ch")
    return " + ".join(parts)


@app.command()
def probe(paths: List[Path] = typer.Argument(..., help="Media files to probe."),
          as_json: bool = typer.Option(False, "--json", help="One JSON object per file.")):
    """Print the streams, duration, frame rate, size and codecs of media files."""
    from avu.media import probe as probe_file

    table = Table("file", "container", "streams", "duration", "frames")
    failed = 0
    for p in paths:
        try:
            info = probe_file(p)
        except MediaError as e:
            failed += 1
            if as_json:
                print(json.dumps({"path": str(p), "error": e.reason}))
            else:
                err_console.print(f"[red]error:[/red] {e}", highlight=False)
            continue
        if as_json:
            print(json.dumps(info.to_dict()))
        else:
            table.add_row(p.name, info.container.split(",")[0], _fmt_streams(info),
                          f"{info.duration:.3f}s", str(info.num_frames or "-"))
    if not as_json and table.row_count:
        console.print(table)
    if failed:
        raise typer.Exit(1)


@bench_app.command("decode")
@clean_errors
def bench_decode_cmd(clip: Optional[Path] = typer.Option(None, help="Clip to decode (default: a shared H.264 clip)."),
                     size: int = typer.Option(224, help="Output side in pixels."),
                     threads: int = typer.Option(0, help="Decoder threads (0: one per core)."),
                     repeats: int = typer.Option(3, help="Best of this many runs per figure."),
                     as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Frames/s of read_frames (full rate and 1 fps) per backend next to the ffmpeg binary."""
    from avu.bench.decode import bench_decode

    clip = clip or shared_data() / "video" / "big_buck_bunny_480p_30s.mp4"
    result = bench_decode(clip, size=size, threads=threads or None, repeats=repeats)
    if as_json:
        print(json.dumps(result))
        return
    table = Table("decoder", "frames/s full rate", "frames/s at 1 fps", "vs ffmpeg")
    table.add_row("ffmpeg binary", f"{result['ffmpeg_fps']:.0f}", "-", "1.000")
    for name, r in result["backends"].items():
        table.add_row(name, f"{r['fps_full']:.0f}", f"{r['fps_1hz']:.0f}", f"{r['ratio_vs_ffmpeg']:.3f}")
    console.print(f"{clip} ({result['frames']} frames, {result['threads']} threads, {size}x{size} RGB)")
    console.print(table)


@bench_app.command("ingest")
@clean_errors
def bench_ingest_cmd(repeats: int = typer.Option(2, help="Best of this many runs per decoder count."),
                     as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Ingest real-time factor with 1 and 2 decode actors, peak memory (1x vs 10x input), decode limit."""
    from avu.bench.ingest import bench_ingest

    result = bench_ingest(shared_data(), repeats=repeats)
    if as_json:
        print(json.dumps(result))
        return
    table = Table("figure", "value")
    for k in ("rt_factor_1", "rt_factor_2", "scaling_2_vs_1", "peak_rss_mb", "peak_rss_mb_10x",
              "ffmpeg_decode_rt_factor", "fraction_of_decode_limit"):
        table.add_row(k, str(result[k]))
    console.print(table)


@bench_app.command("query")
@clean_errors
def bench_query_cmd(sizes: str = typer.Option("10000,100000,1000000", help="Comma-separated table sizes."),
                    queries: int = typer.Option(50, help="Queries per size."),
                    as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Search latency (p50/p95, text encoding included) and ANN recall@10 at 10k/100k/1M segments."""
    from avu.bench.query import bench_query

    result = bench_query(tuple(int(x) for x in sizes.split(",")), queries=queries)
    if as_json:
        print(json.dumps(result))
        return
    table = Table("segments", "index", "p50 ms", "p95 ms", "recall@10")
    for n, r in result["sizes"].items():
        table.add_row(n, str(r.get("index")), f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}", f"{r['recall_at_10']:.3f}")
    console.print(table)


@bench_app.command("reliability")
@clean_errors
def bench_reliability_cmd(good: int = typer.Option(4, help="Plain clips ingested beside the bad inputs."),
                          decoders: int = typer.Option(2, help="Decode actors."),
                          call_timeout: float = typer.Option(20.0, help="Per-call decode time-out, seconds."),
                          as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Ingest a generated corpus of bad inputs with good clips: tried, handled, crashed, lost segments."""
    import contextlib

    from avu.bench.reliability import bench_reliability

    with contextlib.redirect_stdout(sys.stderr):  # Ray's notices (a killed actor's retries) stay off the JSON
        result = bench_reliability(good=good, decoders=decoders, call_timeout=call_timeout)
    if as_json:
        print(json.dumps(result))
        return
    table = Table("case", "expected", "got", "segments", "handled", "error")
    for d in result["cases"]:
        table.add_row(d["case"], d["expect"], str(d["status"]), f"{d['segments']}/{d['expected_segments']}",
                      "yes" if d["handled"] else "[red]no[/red]", (d["error"] or "")[:80])
    console.print(table)
    console.print(" ".join(f"{k} {result[k]}" for k in ("tried", "handled", "crashed", "lost_segments",
                                                          "duplicate_segments", "ingest_s")))


@app.command()
@clean_errors
def ingest(paths: List[Path] = typer.Argument(..., help="Video files, folders (recursive) or .txt lists of paths."),
           index: Path = typer.Option(..., "--index", help="Index folder (created if missing)."),
           config: Optional[Path] = typer.Option(None, help="Ingest YAML (configs/ingest/default.yaml)."),
           window: Optional[float] = typer.Option(None, help="Segment length, seconds [2.0]."),
           hop: Optional[float] = typer.Option(None, help="Seconds between segment starts [window]."),
           fps: Optional[float] = typer.Option(None, help="Frames sampled per second [2]."),
           size: Optional[int] = typer.Option(None, help="Frame side in pixels [224]."),
           decoders: int = typer.Option(0, help="Decode actors (0: one per CPU)."),
           embedders: int = typer.Option(1, help="Embed actors."),
           ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster (default: local Ray)."),
           asr: Optional[str] = typer.Option(None, help="auto: transcribe videos without subtitles; off."),
           strict: bool = typer.Option(False, help="Exit non-zero if any video failed.")):
    """Decode, segment, embed and index videos with Ray actors (resumable: done videos are skipped)."""
    from avu.ingest import IngestConfig

    if hop is None and window is not None:
        hop = window
    over = dict(window=window, hop=hop, fps=fps, size=size, asr=asr)
    cfg = (IngestConfig.from_yaml(config, **over) if config
           else IngestConfig(**{k: v for k, v in over.items() if v is not None}))
    results = _ingest_with_progress(paths, index, cfg, decoders, embedders, ray_address)
    failed = [r for r in results if r.status == "failed"]
    if strict and failed:
        raise typer.Exit(1)


def _ingest_with_progress(paths, index, cfg, decoders, embedders, ray_address):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from avu.ingest import discover
    from pipelines.ingest import run_ingest

    total = len(discover(paths))
    stats = {"done": 0, "failed": 0, "skipped": 0, "seconds": 0.0}
    t0 = time.perf_counter()
    cols = (TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn())
    with Progress(*cols, console=console) as progress:
        task = progress.add_task("ingest", total=total, stats="")

        def on_result(r):
            stats[r.status] += 1
            if r.status == "done":
                stats["seconds"] += r.duration
            wall = time.perf_counter() - t0
            progress.update(task, advance=1, stats=(
                f"done {stats['done']}  failed {stats['failed']}  skipped {stats['skipped']}  "
                f"{stats['seconds'] / 3600:.3f} video-h  {stats['seconds'] / wall:.1f}x real time"))

        results = run_ingest([str(p) for p in paths], str(index), cfg, decoders=decoders or None,
                             embedders=embedders, ray_address=ray_address, progress=on_result)
    table = Table("video", "status", "segments", "duration", "time", "error")
    for r in sorted(results, key=lambda r: r.path):
        style = {"done": "green", "failed": "red", "skipped": "dim"}[r.status]
        table.add_row(Path(r.path).name, f"[{style}]{r.status}[/{style}]", str(r.segments or "-"),
                      f"{r.duration:.1f}s" if r.duration else "-", f"{r.seconds:.1f}s" if r.seconds else "-",
                      r.error or "")
    console.print(table)
    return results


def hhmmss(t: float) -> str:
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:06.3f}"


@app.command()
@clean_errors
def search(index: Path = typer.Argument(..., help="Index folder."),
           query: str = typer.Argument(..., help="What is said or shown; or VIDEO@START-END for a clip."),
           k: int = typer.Option(5, "--k", help="Number of hits."),
           where: Optional[str] = typer.Option(None, help="SQL over videos, e.g. \"duration > 60\"."),
           as_json: bool = typer.Option(False, "--json", help="One JSON list of hits.")):
    """Find the moments that match a query, with per-modality reasons."""
    from avu.index import open_index

    q = query
    if "@" in query and "-" in query.rsplit("@", 1)[1]:
        video, span = query.rsplit("@", 1)
        a, b = span.split("-", 1)
        q = (video, float(a), float(b))
    try:
        hits = open_index(index).search(q, k=k, where=where)
    except (ValueError, KeyError) as e:
        err_console.print(f"[red]error:[/red] {e}", highlight=False)
        raise typer.Exit(1)
    if as_json:
        print(json.dumps([{key: v for key, v in h.to_dict().items() if key != "events"} for h in hits]))
        return
    table = Table("video", "time", "score", "why", "said")
    for h in hits:
        why = ", ".join(f"{m} {v:.2f}" for m, v in h.scores_by_modality.items() if v)
        table.add_row(Path(h.path).name, f"{hhmmss(h.start)}-{hhmmss(h.end)}", f"{h.score:.3f}", why,
                      h.subtitle or "")
    console.print(table if hits else "no hits")


@app.command()
@clean_errors
def events(index: Path = typer.Argument(..., help="Index folder."),
           video: str = typer.Argument(..., help="Video id or path."),
           threshold: float = typer.Option(0.8, help="Minimum ESC-10 class probability."),
           min_duration: float = typer.Option(2.0, help="Shortest event kept, seconds."),
           out: Optional[Path] = typer.Option(None, help="Also write the events as JSON here."),
           prompt: List[str] = typer.Option([], "--prompt", help="Free-text sound, e.g. \"dog barking\" "
                                            "(repeatable; scored through the ten classes' meaning)."),
           visual: bool = typer.Option(False, "--visual", help="Add high-motion, scene-change and "
                                       "sound + motion events."),
           as_json: bool = typer.Option(False, "--json", help="Print one JSON list.")):
    """The event timeline of an indexed video (the shipped ESC-10 model's ten classes, or prompts)."""
    from avu.index import open_index

    found = [e._asdict() for e in open_index(index).events(video, threshold=threshold, min_duration=min_duration,
                                                           prompts=prompt or None, visual=visual)]
    if out:
        out.write_text(json.dumps(found, indent=2))
    if as_json:
        print(json.dumps(found))
        return
    table = Table("start", "end", "event", "kind", "confidence")
    for e in found:
        table.add_row(hhmmss(e["start"]), hhmmss(e["end"]), e["label"], e["kind"], f"{e['confidence']:.2f}")
    console.print(table if found else "no events above the threshold")
    console.print("ESC-10 classes only: dog, rooster, rain, sea waves, crackling fire, crying baby, sneezing, "
                  "clock tick, helicopter, chainsaw; other sounds are forced into one of them.", style="dim")


@app.command()
@clean_errors
def dashboard(index: Path = typer.Argument(..., help="Index folder."),
              port: int = typer.Option(8501, help="Port."),
              host: str = typer.Option("127.0.0.1", help="Address to bind (loopback unless you say otherwise)."),
              reports: Path = typer.Option(Path("runs"), help="Folder of JSON reports for the Reports page.")):
    """Open the Streamlit dashboard on an index: search, video timeline and player, corpus, reports."""
    import subprocess

    from avu.store import IndexStore

    IndexStore.check(index)  # a clear error before starting a server
    app_py = REPO / "dashboard" / "app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app_py), "--server.address", host,
           "--server.port", str(port), "--server.headless", "true", "--server.maxUploadSize", "20",
           "--browser.gatherUsageStats", "false", "--", "--index", str(index.resolve()),
           "--reports", str(reports.resolve())]
    console.print(f"avu dashboard on http://{host}:{port}  (Ctrl-C stops it)")
    raise typer.Exit(subprocess.call(cmd))


@app.command()
@clean_errors
def demo(paths: List[Path] = typer.Argument(None, help="Media files or folders (default: the shared clips)."),
         out: Path = typer.Option(Path("runs/demo"), help="Where the report goes.")):
    """The main job on real media: probe, decode every clip in 2 s segments, read subtitles; report."""
    from avu.cli.demo import run_demo

    run_demo(paths or [], out=out, shared=shared_data(), console=console)


def _register_tasks() -> None:
    from avu.cli.events import register as events
    from avu.cli.speech import register as speech
    from avu.cli.summarize import register as summarize
    from avu.cli.train import register as training

    speech(app, bench_app, eval_app)
    summarize(app, eval_app)
    events(app, eval_app)
    training(app, eval_app, bench_app)


_register_tasks()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
