"""What the ingest driver keeps per video and hands back: `Job` (one video in flight), `Result` (one
per file), the driver's limits, the per-actor call clock (`Watch`) and the `videos` row of a job.
No Ray here: the driver (`pipelines/_driver.py`) and its tests share these."""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from avu.media import MediaError

ASR_SECONDS_PER_SECOND = 1.0  # planning with ASR may take this much longer per second of audio
SPEECH_LOAD_SECONDS = 30.0  # planning that runs ASR or diarization may first load those models on the actor


class IndexWriteError(RuntimeError):
    """The index could not be written (disk full, permissions): the job stops; what was committed
    stays whole and readable, and a re-run resumes."""


@dataclass(frozen=True)
class DriverLimits:
    """How much the driver keeps in flight, and how long a decode-actor call may run."""

    batch: int = 8  # segments per decode/embed call
    ahead: int = 3  # decode/embed batches in flight per video (beyond the one being embedded)
    call_timeout: float = 300.0  # seconds one decode-actor call may run: hash + probe, or a batch
    max_writes: int = 4  # no new video starts while this many finished ones wait at the writer

    def __post_init__(self):
        if self.batch < 1 or self.ahead < 0 or self.call_timeout <= 0 or self.max_writes < 1:
            raise ValueError(f"invalid driver limits: {self}")


@dataclass
class Result:
    """What became of one file."""

    path: str
    video_id: str  # content hash; "path-..." for a file that could not be read
    status: str  # done | failed | skipped
    segments: int = 0  # segment rows written (done)
    duration: float = 0.0  # seconds of media
    seconds: float = 0.0  # wall seconds from the start of its job to its commit
    error: str | None = None  # the reason, for a failed file

    def __post_init__(self):
        if self.status not in ("done", "failed", "skipped"):
            raise ValueError(f"{self.path}: unknown result status {self.status!r}")
        if (self.status == "failed") != (self.error is not None):
            raise ValueError(f"{self.path}: a failed result needs its error, and only a failed one")


@dataclass
class Job:
    """One video in flight on one decode actor."""

    path: str
    decoder: int  # index of its decode actor
    started: float = field(default_factory=time.perf_counter)
    video_id: str | None = None  # content hash, once inspected
    info: object = None  # MediaInfo, once inspected
    plan: object = None  # VideoPlan, once planned
    next_batch: int = 0  # next batch of segments to decode
    pending: list = field(default_factory=list)  # embed/cue references not yet replied
    done_refs: list = field(default_factory=list)  # embed references replied (their rows go to the writer)
    cue_ref: object = None  # the cue rows (embedded by an embed actor)
    failed: str | None = None  # the error, once the video failed

    def row_id(self) -> str:
        """The video's id in the index: its content hash, or one made from its path when unreadable."""
        if self.video_id:
            return self.video_id
        return "path-" + hashlib.blake2b(os.path.abspath(self.path).encode(), digest_size=8).hexdigest()

    def embed_meta(self, i0: int, batch: int) -> dict:
        """What an embed actor needs besides the clips of segments i0..i0+batch."""
        p = self.plan
        return {"video_id": p.video_id, "texts": p.texts[i0:i0 + batch], "seg_offset": i0,
                "aspect": display_aspect(p.info), "text_source": p.text_source, "language": p.language}


def display_aspect(info) -> float:
    """Width / height as displayed (16:9 for audio-only files)."""
    if not info.has_video:
        return 16 / 9
    w, h = info.width, info.height
    return (h / w) if info.rotation in (90, 270) else (w / h)


def video_row(job: Job, cfg, models: dict) -> dict:
    """The `videos` row of a planned job."""
    p = job.plan
    info = p.info
    return {"video_id": p.video_id, "path": job.path, "duration": info.duration, "size_bytes": info.size_bytes,
            "has_video": info.has_video, "has_audio": info.has_audio, "text_source": p.text_source,
            "info_json": json.dumps(info.to_dict()), "config_hash": cfg.hash,
            "config_json": json.dumps(cfg.to_dict()), "models_json": json.dumps(models),
            "notes_json": json.dumps(p.notes), "speakers_json": p.speakers_json,
            "seconds": round(time.perf_counter() - job.started, 3)}


def describe_error(e: BaseException) -> str:
    """One line for a failed row: a media error's reason, else the exception's type and first line."""
    cause = getattr(e, "cause", None) or e
    if isinstance(cause, MediaError):
        return cause.reason
    text = str(cause).splitlines()[0][:300] if str(cause) else ""
    return f"{type(cause).__name__}: {text}"


class Watch:
    """Per decode actor, its calls in order with their time limits; the head call's clock starts
    when the call before it returns (an actor runs one call at a time)."""

    def __init__(self, n: int, clock: Callable[[], float] = time.monotonic):
        self.calls: list[deque] = [deque() for _ in range(n)]  # (ref, limit_s, what)
        self.since = [0.0] * n
        self.clock = clock

    def add(self, i: int, ref, limit: float, what: str) -> None:
        if not self.calls[i]:
            self.since[i] = self.clock()
        self.calls[i].append((ref, limit, what))

    def done(self, i: int, ref) -> None:
        q = self.calls[i]
        for k, call in enumerate(q):
            if call[0] == ref:
                del q[k]
                self.since[i] = self.clock()
                return

    def overdue(self):
        now = self.clock()
        for i, q in enumerate(self.calls):
            if q and now - self.since[i] > q[0][1]:
                yield i, q[0][1], q[0][2]
