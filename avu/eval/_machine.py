"""The machine a figure was measured on: CPU model and core count, recorded beside every result of
`avu eval` and `avu bench`.

It lives with the evaluations because benchmarks may build on evaluations (the diarization speed
runs the evaluation's conversations) but evaluations never import benchmarks: one direction, no
cycle between the two packages.
"""
from __future__ import annotations

import os
import platform


def machine() -> str:
    """CPU model and core count, for the record beside every figure."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


__all__ = ["machine"]
