"""Process-level settings of an actor: its thread count, the decode actors' memory guard
(RLIMIT_DATA over the start-up size) and handing freed memory back to the system."""
from __future__ import annotations

import ctypes
import os
import sys


def limit_threads(n: int) -> None:
    """At most `n` compute threads: OMP_NUM_THREADS for libraries loaded later (torch reads it when
    imported), and torch's pool now if it is already loaded. Torch is not imported for this: a decode
    actor never needs it (~2 s and ~300 MB)."""
    os.environ["OMP_NUM_THREADS"] = str(max(1, n))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(max(1, n))


def malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _data_bytes() -> int | None:
    """This process's data segment (VmData: what RLIMIT_DATA counts), or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def limit_memory(mb: int) -> int | None:
    """Cap this process's data segment at its current size + `mb` MiB; returns the cap (bytes)."""
    import resource

    used = _data_bytes()
    if used is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = used + (int(mb) << 20)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    return cap
