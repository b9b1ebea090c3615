"""`avu bench asr`: transcription speed on real speech (x real time, warm, and the first call).

The quality of the same transcription (WER, timing error, paraphrase retrieval) is `avu eval asr`
(`avu.eval.asr`).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from avu.bench.decode import machine
from avu.speech.asr import Engine, transcribe


def bench_asr(media: Path, *, model: str | os.PathLike | None = None, engine: Engine = "auto",
              repeats: int = 2) -> dict:
    """Transcription speed: the first call (model load included) and the best of `repeats` warm calls."""
    t = time.perf_counter()
    tr = transcribe(media, model=model, engine=engine)
    cold = time.perf_counter() - t
    warm = float("inf")
    for _ in range(max(1, repeats)):
        t = time.perf_counter()
        transcribe(media, model=model, engine=engine)
        warm = min(warm, time.perf_counter() - t)
    return {"media": str(media), "engine": tr.engine, "model": tr.model, "machine": machine(),
            "audio_s": round(tr.duration, 2), "cold_s": round(cold, 3), "warm_s": round(warm, 3),
            "x_realtime": round(tr.duration / warm, 1), "words": len(tr.words)}
