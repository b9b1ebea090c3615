"""The ingest driver without Ray: calls run in this process, one when the driver waits for it.

`InlineBackend` is the driver's `Backend` where a call is an object that runs its actor method the
first time the driver waits for (or gets) it, oldest first; subclasses choose another order, stall
calls or fail them (the driver's tests). `TrivialDecoder` / `TrivialEmbedder` / `TrivialWriter` do
no media work at all, so `driver_calls_per_s` measures the state machine's own capacity: how many
decode and embed replies one driver process can handle per second (`avu bench ingest`).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from avu.ingest import IngestConfig, VideoPlan
from avu.media import MediaInfo
from pipelines._driver import Driver
from pipelines._jobs import DriverLimits, describe_error


class InlineCall:
    """A submitted call: runs once, on first wait or get."""

    __slots__ = ("actor", "method", "args", "ran", "value", "error")

    def __init__(self, actor: Any, method: str, args: tuple):
        self.actor, self.method, self.args = actor, method, args
        self.ran, self.value, self.error = False, None, None

    def __repr__(self) -> str:
        return f"<{type(self.actor).__name__}.{self.method}>"


class InlineBackend:
    """See the module docstring. A call nobody waits for (a decoder's `release`) never runs."""

    def __init__(self):
        self.killed: list[Any] = []  # actors the driver killed, in order

    def call(self, actor: Any, method: str, *args: Any) -> InlineCall:
        return InlineCall(actor, method, args)

    def pick(self, refs: list[InlineCall]) -> InlineCall | None:
        """The call that replies next (None: none within the time-out); oldest first here."""
        return refs[0] if refs else None

    def idle(self, timeout: float) -> None:
        """Nothing replied within `timeout` seconds."""
        time.sleep(timeout)

    def wait(self, refs: list, timeout: float) -> list:
        ref = self.pick(refs)
        if ref is None:
            self.idle(timeout)
            return []
        self.run(ref)
        return [ref]

    def run(self, ref: InlineCall) -> None:
        if ref.ran:
            return
        ref.ran = True
        try:
            args = [self.get(a) if isinstance(a, InlineCall) else a for a in ref.args]
            ref.value = getattr(ref.actor, ref.method)(*args)
        except Exception as e:  # noqa: BLE001 - the call's error, raised again by get()
            ref.error = e

    def get(self, ref: InlineCall) -> Any:
        self.run(ref)
        if ref.error is not None:
            raise ref.error
        return ref.value

    def kill(self, actor: Any) -> None:
        self.killed.append(actor)

    def error_text(self, error: BaseException) -> str:
        return describe_error(error)


class TrivialDecoder:
    """Every file is a `seconds`-long video with audio, one segment per `window` seconds."""

    def __init__(self, cfg: IngestConfig, seconds: float = 60.0):
        self.cfg, self.seconds = cfg, seconds

    def pid(self) -> int:
        return os.getpid()

    def inspect(self, path: str) -> tuple[str, MediaInfo]:
        info = MediaInfo(path=path, container="trivial", duration=self.seconds, size_bytes=1, has_video=True,
                         has_audio=True, width=64, height=36)
        return f"trivial-{path}", info

    def plan(self, path: str, video_id: str, info: MediaInfo) -> VideoPlan:
        n = max(1, int(info.duration // self.cfg.window))
        spans = [(i * self.cfg.window, (i + 1) * self.cfg.window) for i in range(n)]
        return VideoPlan(video_id=video_id, path=path, info=info, spans=spans, texts=[None] * n)

    def decode(self, path: str, spans: list) -> list[dict]:
        return [{"start": s, "end": e} for s, e in spans]

    def release(self, path: str) -> None:
        return None


class TrivialEmbedder:
    """A row per clip holding only its segment number."""

    def embed(self, clips: list[dict], meta: dict) -> list[dict]:
        return [{"video_id": meta["video_id"], "seg": meta["seg_offset"] + i} for i in range(len(clips))]

    def cues(self, video_id: str, cues: list, text_source, language) -> list[dict]:
        return []

    def pack(self, index: str, video_id: str, cue_rows: list[dict], *row_lists: list[dict]) -> list[dict]:
        """The video's rows in one list (the real actor writes them as fragments)."""
        return [r for rows in row_lists for r in rows]


class TrivialWriter:
    """Keeps each video's rows in memory: `written[video_id]`, `failed[video_id]`."""

    def __init__(self):
        self.written: dict[str, list[dict]] = {}
        self.failed: dict[str, str] = {}

    def write(self, index: str, video: dict, rows: list[dict]) -> int:
        self.written[video["video_id"]] = rows
        return len(rows)

    def fail(self, index: str, video: dict, error: str) -> None:
        self.failed[video["video_id"]] = error


def inline_driver(files: list[str], *, backend: InlineBackend | None = None, decoders: int = 2,
                  new_decoder: Callable[[], Any] | None = None, seconds: float = 60.0,
                  limits: DriverLimits = DriverLimits(), **kw) -> tuple[Driver, TrivialWriter]:
    """A driver over trivial actors in this process (and its writer, to look at what it wrote)."""
    cfg = IngestConfig(asr="off")
    make = new_decoder or (lambda: TrivialDecoder(cfg, seconds))
    writer = TrivialWriter()
    driver = Driver(files, index="memory", config=cfg, decoders=[make() for _ in range(decoders)],
                    embedders=[TrivialEmbedder()], writer=writer, new_decoder=make,
                    backend=backend or InlineBackend(), already=kw.pop("already", {}), models={}, limits=limits, **kw)
    return driver, writer


def driver_calls_per_s(*, videos: int = 200, seconds: float = 600.0, repeats: int = 3) -> dict:
    """Decode and embed replies per second through the driver with trivial actors (best of `repeats`)."""
    best = 0.0
    calls = 0
    for _ in range(repeats):
        stats: dict = {}
        driver, writer = inline_driver([f"v{i}" for i in range(videos)], seconds=seconds, stats=stats)
        t = time.perf_counter()
        driver.run()
        dt = time.perf_counter() - t
        if len(writer.written) != videos:
            raise RuntimeError(f"driver benchmark: {videos - len(writer.written)} videos were not written")
        calls = stats["replies"]["decode"] + stats["replies"]["embed"]
        best = max(best, calls / dt)
    return {"driver_calls_per_s": round(best, 1), "driver_calls": calls, "driver_videos": videos,
            "driver_segments_per_video": int(seconds // 2.0)}
