"""`avu bench reliability`: the bad-input corpus and a few good clips through one real ingest.

The corpus (`avu.bench._badmedia`: zero bytes, truncations, random bytes, a corrupt stream,
audio- or video-only, zero duration, 1x1, 8K, variable frame rate, rotation, awkward names,
symlinks and a loop, no permissions, a folder named like a video, broken sidecar subtitles,
decompression bombs, a file that stalls) is written to a temporary folder with `good` plain clips
beside it and ingested with `pipelines.ingest.run_ingest` on a local Ray, as `avu ingest` would.

Then each case is checked against the index itself: a `done` video with exactly the segments its
duration gives (and the subtitle text or notes it should have), or a `failed` row whose error is
the expected one, class and message. A failed row holds only the error's text, and ingest writes
a media error as its bare reason (`pipelines._jobs.describe_error`), any other exception as
`Type: message`. So the class is established by replaying the decode actor's steps on the file in
this process (`replay`: hash, probe, plan, read every segment, as `pipelines._actors.Decoder`
does): the row is right when the replayed error's reason is the row's text, its class is the
case's `error`, and the case's message fragment is in it; a time-out (`error="timeout"`) is
checked by its text alone. Counted: `tried` (bad cases), `handled` (cases that ended as
expected), `crashed` (cases the job lost, whose worker process died, or that failed with an
exception that is not a media error or a time-out, e.g. an internal `TypeError`; every case if
the job itself raised), `lost_segments` (expected segments missing from the index, good clips
included) and `duplicate_segments`, with one detail row per case.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

from avu.bench._badmedia import Case, build_corpus, good_clips, ingest_paths

_TYPE_PREFIX = re.compile(r"^([A-Z][A-Za-z0-9_]*): ")  # how ingest writes an exception that is not a media error


def replay(path: str | Path, cfg=None) -> BaseException | None:
    """The first error the decode actor's steps raise on `path` in this process (None: it ingests)."""
    from avu.ingest import IngestConfig
    from avu.ingest.discover import content_id
    from avu.ingest.plan import plan_video
    from avu.media import Segment, probe
    from avu.media.clips import ClipReader

    cfg = cfg or IngestConfig(asr="off")
    try:
        vid = content_id(path)
        info = probe(path)
        plan = plan_video(path, cfg, video_id=vid, info=info)
        with ClipReader(path, fps=cfg.fps, size=cfg.size, sr=cfg.sample_rate, info=info) as reader:
            for start, end in plan.spans:
                reader.read(Segment(start, end))
    except Exception as e:  # noqa: BLE001 - the error is what is being looked for
        return e
    return None


def error_class(case: Case, error: str) -> str:
    """The class of the error behind a failed row's text (see the module docstring): `timeout`,
    `worker died`, the type an unexpected exception's text names, or the media error's class found
    by `replay` ("?" when the replay raises a different error than the row holds)."""
    from avu.media import MediaError

    if error.startswith("timed out:"):
        return "timeout"
    if error.startswith("worker died"):
        return "worker died"
    m = _TYPE_PREFIX.match(error)
    if m:
        return m.group(1)
    e = replay(case.path)
    return type(e).__name__ if isinstance(e, MediaError) and e.reason == error else "?"


def _is_media_error(name: str) -> bool:
    import avu.media as media

    cls = getattr(media, name, None)
    return isinstance(cls, type) and issubclass(cls, media.MediaError)


def evaluate(cases: list[Case], index: str | Path, results: list, *, job_error: str | None = None) -> list[dict]:
    """One detail row per case: what happened to it, whether that was right, what was lost."""
    from avu.store import IndexStore

    store = IndexStore(index)
    rows = {r["path"]: r for r in store.video_rows()}
    by_path = {r.path: r for r in results}
    out = []
    for c in cases:
        key = str(c.path)
        res, row = by_path.get(key), rows.get(key)
        d = {"case": c.name, "what": c.what, "expect": c.expect, "status": row["status"] if row else None,
             "error": row["error"] if row else None, "error_class": None, "expected_error": c.error,
             "segments": 0, "expected_segments": c.segments or 0, "lost_segments": 0, "duplicate_segments": 0}
        if row is not None and row["status"] == "failed":
            d["error_class"] = error_class(c, row["error"] or "")
        unexpected = d["error_class"] not in (None, "timeout", "?") and not _is_media_error(d["error_class"])
        d["crashed"] = bool(job_error or res is None or unexpected
                            or (res.status == "failed" and (res.error or "").startswith("worker died")))
        ok = False
        if row is not None and row["status"] == "done":
            segs = store.segment_rows(row["video_id"], columns=["seg", "text"])
            nums = [r["seg"] for r in segs]
            d["segments"] = len(set(nums))
            d["duplicate_segments"] = len(nums) - len(set(nums))
            ok = c.expect == "done" and sorted(set(nums)) == list(range(c.segments or 0))
            if c.notes is not None:
                ok = ok and c.notes in (row["notes_json"] or "")
            if c.text is not None:
                ok = ok and any(r["text"] for r in segs) == c.text
        elif row is not None and row["status"] == "failed":
            ok = (c.expect == "failed" and d["error_class"] == c.error and bool(c.reason)
                  and c.reason in (row["error"] or ""))
        if c.expect == "done":
            d["lost_segments"] = max(0, (c.segments or 0) - d["segments"])
        d["handled"] = bool(ok and not d["crashed"])
        out.append(d)
    return out


def bench_reliability(*, good: int = 4, decoders: int = 2, call_timeout: float = 20.0,
                      workdir: str | Path | None = None) -> dict:
    """Build the corpus, ingest it with `good` plain clips, and report (see the module docstring).

    `call_timeout` is the per-call decode time-out used for the run (the default ingest allows
    300 s; the stalled case takes minutes to hash, so the benchmark uses a shorter one).
    """
    from avu.ingest import IngestConfig
    from pipelines.ingest import IngestOptions, run_ingest

    tmp = Path(tempfile.mkdtemp(prefix="avu-reliability-", dir=workdir))
    try:
        t0 = time.perf_counter()
        cases = build_corpus(tmp)
        goods = good_clips(tmp / "bad", good, start_k=30)
        built = time.perf_counter() - t0
        index = tmp / "index"
        job_error, results, stats = None, [], {}
        t1 = time.perf_counter()
        try:
            opts = IngestOptions(config=IngestConfig(asr="off"), decoders=decoders, call_timeout=call_timeout)
            results = run_ingest(ingest_paths(tmp, cases), str(index), opts, stats=stats)
        except Exception as e:  # noqa: BLE001 - a job that raises is what this benchmark counts
            job_error = f"{type(e).__name__}: {e}"
        seconds = time.perf_counter() - t1
        details = evaluate(cases + goods, index, results, job_error=job_error)
        bad = details[:len(cases)]
        return {
            "tried": len(bad),
            "handled": sum(d["handled"] for d in bad),
            "crashed": sum(d["crashed"] for d in details),
            "lost_segments": sum(d["lost_segments"] for d in details),
            "duplicate_segments": sum(d["duplicate_segments"] for d in details),
            "good_clips": len(goods),
            "good_indexed": sum(d["handled"] for d in details[len(cases):]),
            "expected_failed": sum(c.expect == "failed" for c in cases),
            "expected_done": sum(c.expect == "done" for c in cases),
            "files_ingested": len(results),
            "job_error": job_error,
            "decoders": decoders,
            "call_timeout_s": call_timeout,
            "corpus_build_s": round(built, 2),
            "ingest_s": round(seconds, 2),
            "max_in_flight": stats.get("max_in_flight"),
            "cases": details,
        }
    finally:
        for p in tmp.rglob("*"):  # the unreadable case: make it removable
            if p.is_file() and not p.is_symlink():
                p.chmod(0o644)
        shutil.rmtree(tmp, ignore_errors=True)
