"""`avu demo` / `make demo`: the main job on real media, end to end, with a readable report.

Ingest the shared clips and speech recordings (or procedural clips made with FFmpeg when
`../shared/data` is absent, or the paths given) with the Ray pipeline into `OUT/index`: decode every
2 s segment, attach sidecar subtitles or transcribe speech offline, embed what is said, and commit
each video. Then report per video what the index holds (streams, segments, the loudest and the
busiest moments, the first lines said, who speaks when (speaker turns and talk time), what is seen,
heard and read (the perception labels most often on top), the sound events: AudioSet tags, or the
ESC-10 model for a video not perceived) and run example queries through the search API: what is
said, and queries aimed at what is seen, heard and read on screen, each hit with its reasons. The report is printed and
written to OUT/report.json and OUT/report.md.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import List

import typer
from rich.console import Console
from rich.markup import escape

from avu._paths import shared_data
from avu.cli._console import clean_errors, console
from avu.cli._output import Col, print_table, time_range, timestamp

app = typer.Typer()

QUERIES = ["this audiobook is in the public domain",  # verbatim, from the manifesto
           "where can I read the text of this book",  # a paraphrase of what is said
           "the history of class struggles"]  # free text about the topic
PERCEPTION_QUERIES = [("a rabbit in a meadow", "seen"), ("a flower", "seen"),  # what is seen (labels)
                      ("birds chirping", "heard"), ("explosions and gunfire", "heard"),  # what is heard
                      ("the communist manifesto", "read")]  # on-screen text (the manifesto's title card)
SOUND_PROMPTS = ["a helicopter flying overhead", "water splashing"]  # free-text sounds, matched to classes by meaning


def make_procedural_clips(folder: Path) -> list[Path]:
    """Two short audio-visual clips from FFmpeg's test sources (used when no real media exists)."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise RuntimeError("no media given, ../shared/data is absent, and ffmpeg is missing to make clips")
    folder.mkdir(parents=True, exist_ok=True)
    specs = {"testsrc_tone.mp4": ("testsrc2=size=320x240:rate=25", "sine=frequency=440:sample_rate=44100"),
             "mandelbrot_noise.mp4": ("mandelbrot=size=320x240:rate=25", "anoisesrc=color=pink:sample_rate=44100")}
    out = []
    for name, (v, a) in specs.items():
        path = folder / name
        if not path.exists():
            subprocess.run([exe, "-v", "error", "-y", "-f", "lavfi", "-i", v, "-f", "lavfi", "-i", a,
                            "-t", "8", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)],
                           check=True)
        out.append(path)
    return out


def speech_files(shared: Path) -> list[Path]:
    """The shared speech recordings (audio only: they go through ASR like any file without subtitles)."""
    folder = shared / "speech"
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".wav", ".mp3", ".flac")) \
        if folder.is_dir() else []


def _video_report(idx, v: dict) -> dict:
    info = v["info"] or {}
    segs = idx.segments(v["video_id"])
    loud = max((s for s in segs if s["audio_db"] is not None), key=lambda s: s["audio_db"], default=None)
    busy = max((s for s in segs if s["motion"] is not None), key=lambda s: s["motion"], default=None)
    lines = idx.subtitles(v["video_id"])
    return {
        "file": Path(v["path"]).name, "path": v["path"], "video_id": v["video_id"], "duration": v["duration"],
        "codecs": "/".join(c for c in (info.get("video_codec"), info.get("audio_codec")) if c),
        "segments": v["n_segments"], "text_source": v["text_source"], "lines": len(lines),
        "loudest": {"start": loud["start"], "dbfs": round(loud["audio_db"], 1)} if loud else None,
        "most_motion": {"start": busy["start"], "motion": round(busy["motion"], 1)} if busy else None,
        "first_lines": [{"start": c.start, "end": c.end, "text": c.text} for c in lines[:3]],
        "events": [e._asdict() for e in idx.events(v["video_id"])],
        "speakers": _speakers(idx, v), "perceived": _perceived(idx, v),
        "summary": _summary(idx, v),
        "ingest_seconds": v["seconds"],
    }


def _speakers(idx, v: dict) -> dict:
    """Who speaks when: talk time per speaker, the first turns, or why there are none."""
    turns = idx.speakers(v["video_id"])
    talk: dict[str, float] = {}
    for t in turns:
        talk[t.speaker] = round(talk.get(t.speaker, 0.0) + t.end - t.start, 2)
    why = None if turns else ((v.get("speakers") or {}).get("reason") or "not diarized (no audio, or speakers off)")
    return {"talk_time_s": talk, "turns": [t.to_dict() for t in turns[:6]], "n_turns": len(turns), "reason": why}


def _perceived(idx, v: dict) -> dict:
    """Per modality (seen, objects, heard, read) the labels most often best in a segment, with counts."""
    out = {}
    for m in ("seen", "objects", "heard", "read"):
        counts: dict[str, int] = {}
        for seg in idx.perception(v["video_id"]):
            top = (seg.get(m) or [None])[0]
            label = top[0] if isinstance(top, (list, tuple)) else top
            if label:
                counts[label] = counts.get(label, 0) + 1
        out[m] = sorted(counts.items(), key=lambda kv: -kv[1])[:3]
    return out


def _perception_query(idx, text: str, modality: str) -> dict:
    """A query searched in one perception modality, or why the index cannot answer it."""
    try:
        hits = idx.search(text, k=3, modalities=[modality])
    except ValueError as e:
        return {"query": text, "modality": modality, "hits": [], "reason": str(e)}
    return {"query": text, "modality": modality, "hits": [h.to_dict() for h in hits], "reason": hits.reason}


def _summary(idx, v: dict) -> dict:
    """Key shots in 15% of the duration and the lines said in them, or why there are none."""
    from avu.summaries.summarize import BUDGET, BudgetTooShort

    try:
        s = idx.summary(v["video_id"], budget=BUDGET)
    except ValueError as e:  # the report names the file: a short budget's reason without it
        return {"budget_seconds": round(BUDGET * float(v.get("duration") or 0.0), 2), "shots": [], "lines": [],
                "reason": e.reason if isinstance(e, BudgetTooShort) else str(e)}
    shots = [{"start": round(x.start, 2), "end": round(x.end, 2)} for x in s.shots if x.selected]
    return {"budget_seconds": round(s.budget_seconds, 2), "shots": shots,
            "lines": [{"start": c.start, "end": c.end, "text": c.text} for c in s.lines[:4]]}


@app.command()
@clean_errors
def demo(paths: List[Path] = typer.Argument(None, help="Media files or folders (default: the shared clips)."),
         out: Path = typer.Option(Path("runs/demo"), help="Where the report goes.")):
    """The main job on real media: index every clip (2 s segments, subtitles or speech, what is seen, heard
    and read), then report it with search examples, sound events, speakers and summaries."""
    run_demo(paths or [], out=out, shared=shared_data(), console=console)


def run_demo(paths: list[Path], *, out: Path, shared: Path, console: Console) -> dict:
    """Ingest `paths` (default: the shared media) into OUT/index, then report and write the report."""
    from avu.cli.ingest import ingest_with_progress
    from avu.index import open_index
    from avu.ingest import IngestConfig

    if not paths:
        paths = [shared / "video", *speech_files(shared)] if (shared / "video").is_dir() \
            else make_procedural_clips(out / "media")
    index = out / "index"
    results = ingest_with_progress(paths, index, IngestConfig())
    idx = open_index(index)
    videos = [_video_report(idx, v) for v in idx.videos()]
    failed = [{"path": r.path, "error": r.error} for r in results if r.status == "failed"]
    queries = []
    for q in QUERIES:
        hits = idx.search(q, k=3)
        queries.append({"query": q, "hits": [h.to_dict() for h in hits]})
    queries += [_perception_query(idx, q, m) for q, m in PERCEPTION_QUERIES]
    sounds = []
    for prompt in SOUND_PROMPTS:
        timelines = [(v, idx.events(v["video_id"], prompts=[prompt])) for v in videos]
        found = [{"file": v["file"], "start": e.start, "end": e.end, "confidence": round(e.confidence, 3)}
                 for v, t in timelines for e in t]
        used = sorted({(t.sounds, t.threshold, t.min_duration, t.threshold_text()) for _, t in timelines})
        closest = max(((v, t.prompts[0]) for v, t in timelines if t.prompts), key=lambda vm: vm[1].best, default=None)
        sounds.append({"prompt": prompt, "events": sorted(found, key=lambda e: -e["confidence"])[:5],
                       "thresholds": [{"sounds": u[0], "threshold": u[1], "min_duration": u[2], "text": u[3]}
                                      for u in used],
                       "closest": None if closest is None else {  # what the prompt means, the most it reached
                           "file": closest[0]["file"], "start": closest[1].start, "end": closest[1].end,
                           "score": round(closest[1].best, 3), "means": closest[1].classes_text()}})
    report = {"index": str(index), "videos": videos, "failed": failed, "queries": queries, "sounds": sounds,
              "total_video_seconds": round(sum(v["duration"] for v in videos), 3)}
    _print(report, console)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(_markdown(report))
    console.print(f"report written to {out / 'report.json'} and {out / 'report.md'}")
    console.print(f"search it yourself:  avu search {index} \"what is said\"")
    console.print(f"open the dashboard:  avu dashboard {index}")
    return report


def _print(report: dict, console: Console) -> None:
    rows = []
    for r in report["videos"]:
        loud = r["loudest"]
        rows.append([escape(r["file"]), r["codecs"], f"{r['duration']:.1f}s", str(r["segments"]),
                     f"{r['lines']} lines ({r['text_source']})" if r["lines"] else "-",
                     ("silent" if loud["dbfs"] < -100 else f"{timestamp(loud['start'])} ({loud['dbfs']} dBFS)")
                     if loud else "-",
                     timestamp(r["most_motion"]["start"]) if r["most_motion"] else "-"])
    print_table([Col("video"), Col("codecs", drop=3), Col("duration", no_wrap=True), Col("segments", drop=2),
                 Col("speech", drop=4), Col("loudest at", drop=1), Col("most motion at", no_wrap=True, drop=5)],
                rows, out=console)
    for r in report["videos"]:
        for line in r["first_lines"]:
            console.print(f"  {r['file']} {timestamp(line['start'])}  {line['text']}", highlight=False)
        for e in r["events"]:
            console.print(f"  {r['file']} {time_range(e['start'], e['end'])}  sound: {e['label']} "
                          f"({e['confidence']:.2f})", highlight=False)
        sp = r.get("speakers") or {}
        if sp.get("talk_time_s"):
            n = sp["n_turns"]
            who = ", ".join(f"{s} {t:.1f} s" for s, t in sp["talk_time_s"].items()) + f" ({n} turn{'s' * (n != 1)})"
        else:
            who = f"none ({sp.get('reason')})"
        console.print(f"  {r['file']} speakers: {who}", highlight=False)
        for t in sp.get("turns", []):
            console.print(f"    {t['speaker']} {time_range(t['start'], t['end'])}", highlight=False)
        for m, top in (r.get("perceived") or {}).items():
            if top:
                console.print(escape(f"  {r['file']} {m}: " + ", ".join(f"{lab} ({n})" for lab, n in top)),
                              highlight=False)
        if r.get("summary"):
            shots = ", ".join(time_range(x["start"], x["end"]) for x in r["summary"]["shots"])
            console.print(escape(f"  {r['file']} summary ({r['summary']['budget_seconds']:.3g} s): "
                                 f"{shots or 'none: ' + r['summary'].get('reason', 'no shot selected')}"),
                          highlight=False)
            for line in r["summary"]["lines"]:
                console.print(f"    {timestamp(line['start'])}  {line['text']}", highlight=False)
    for q in report["queries"]:
        about = f" ({q['modality']})" if q.get("modality") else ""
        console.print(f"[bold]query:[/bold] {escape(q['query'])}" + about,
                      highlight=False)
        for h in q["hits"]:
            why = ", ".join(f"{m} {v:.2f}" for m, v in h["scores_by_modality"].items() if v)
            console.print(escape(f"  {h['score']:.3f}  {Path(h['path']).name} {time_range(h['start'], h['end'])}  "
                                 f"[{why}]  {h['subtitle'] or ''} {_reasons(h)}"), highlight=False)
        if not q["hits"]:
            console.print(escape(f"  no hits{': ' + q['reason'] if q.get('reason') else ''}"), highlight=False)
    for snd in report.get("sounds", []):
        console.print(f"[bold]sound:[/bold] {snd['prompt']}", highlight=False)
        for e in snd["events"]:
            console.print(f"  {e['confidence']:.2f}  {e['file']} {time_range(e['start'], e['end'])}", highlight=False)
        if not snd["events"]:
            console.print(f"  {_no_events(snd)}", highlight=False)


def _no_events(snd: dict) -> str:
    """What no event reached: each threshold used (with its sound source) and the shortest duration,
    what the prompt means and the most it reached."""
    used = [t["text"] for t in snd.get("thresholds", [])]
    out = "no events: nothing reached " + (" or ".join(used) if used else "the threshold")
    c = snd.get("closest")
    if c:
        out += f"; it means {c['means']}; " + (f"the most it reached: {c['score']:.2f} ({c['file']} "
                                               f"{time_range(c['start'], c['end'])})" if c["score"] > 0 else
                                               "none of these was heard")
    return out


def _reasons(h: dict) -> str:
    """What matched, per modality: the best label or line (`Hit.matched`), and the speaker."""
    parts = [f"{m}: {(v[0][0] if isinstance(v[0], (list, tuple)) else v[0])}"
             for m, v in (h.get("matched") or {}).items() if v and m != "speech"]
    if h.get("speaker"):
        parts.append(f"speaker {h['speaker']}")
    return f"({'; '.join(parts)})" if parts else ""


def _markdown(report: dict) -> str:
    lines = ["# avu demo report", "", f"Index: `{report['index']}`", "",
             "| video | codecs | duration | segments | speech | loudest at | most motion at |",
             "|---|---|---|---|---|---|---|"]
    for r in report["videos"]:
        loud = r["loudest"]
        loud_at = f"{timestamp(loud['start'])} ({loud['dbfs']} dBFS)" if loud else "-"
        busy_at = timestamp(r["most_motion"]["start"]) if r["most_motion"] else "-"
        lines.append(f"| {r['file']} | {r['codecs']} | {r['duration']:.1f}s | {r['segments']} | "
                     f"{r['lines']} lines ({r['text_source'] or '-'}) | {loud_at} | {busy_at} |")
    lines += ["", "Sound events (AudioSet tags when perceived, else the ESC-10 model; at least 2 s):", ""]
    lines += [f"- `{r['file']}` {time_range(e['start'], e['end'])}: {e['label']} ({e['confidence']:.2f})"
              for r in report["videos"] for e in r["events"]] or ["- none"]
    lines += ["", "Speakers (who speaks when) and what is seen, heard and read most often:", ""]
    for r in report["videos"]:
        sp = r.get("speakers") or {}
        talk = ", ".join(f"{s} {t:.1f} s" for s, t in sp.get("talk_time_s", {}).items()) or f"none ({sp.get('reason')})"
        seen = "; ".join(f"{m}: " + ", ".join(lab for lab, _ in top) for m, top in (r.get("perceived") or {}).items()
                         if top)
        lines.append(f"- `{r['file']}` speakers: {talk}" + (f"; {seen}" if seen else ""))
    lines += ["", "Summaries (key shots in 15% of the duration, and the lines said in them):", ""]
    for r in report["videos"]:
        sm = r.get("summary")
        if sm:
            shots = ", ".join(time_range(x["start"], x["end"]) for x in sm["shots"]) or \
                f"none: {sm.get('reason', 'no shot selected')}"
            said = " / ".join(c["text"] for c in sm["lines"])
            lines.append(f"- `{r['file']}` ({sm['budget_seconds']:.3g} s): {shots}" + (f" — {said}" if said else ""))
    for q in report["queries"]:
        lines += ["", f"**{q['query']}**" + (f" ({q['modality']})" if q.get("modality") else ""), ""]
        lines += [f"- {h['score']:.3f} `{Path(h['path']).name}` {time_range(h['start'], h['end'])}: "
                  f"{h['subtitle'] or ''} {_reasons(h)}" for h in q["hits"]] \
            or [f"- no hits{': ' + q['reason'] if q.get('reason') else ''}"]
    for snd in report.get("sounds", []):
        lines += ["", f"**sound: {snd['prompt']}**", ""]
        lines += [f"- {e['confidence']:.2f} `{e['file']}` {time_range(e['start'], e['end'])}" for e in snd["events"]] \
            or [f"- {_no_events(snd)}"]
    for f in report["failed"]:
        lines.append(f"\nFailed: `{f['path']}`: {f['error']}")
    return "\n".join(lines) + "\n"
