"""`avu eval tvsum-human`: the human leave-one-out rank correlation on TVSum (Otani et al. 2019).

Each annotator's frame scores are correlated with every other annotator's (Kendall's tau-b and
Spearman's rho; `avu.metrics.tvsum_human_leave_one_out`), the figure a summarizer is read against:
the paper reports tau .177 and rho .204 on the official `ydata-tvsum50.mat`.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from avu._paths import shared_data


def default_mat() -> Path:
    """The official annotations in the shared data (`annotations/tvsum/ydata-tvsum50.mat`)."""
    return shared_data() / "annotations" / "tvsum" / "ydata-tvsum50.mat"


def run(mat: str | Path | None = None) -> dict[str, Any]:
    """The leave-one-out figures over the 50 videos (without the per-video list), and the seconds taken."""
    from avu.media._errors import MediaError
    from avu.metrics import tvsum_human_leave_one_out

    path = Path(mat) if mat is not None else default_mat()
    if not path.is_file():
        raise MediaError(path, "TVSum annotations not found (set AVU_SHARED_DATA or use --mat)")
    t0 = time.perf_counter()
    r = tvsum_human_leave_one_out(path)
    return {k: v for k, v in r.items() if k != "per_video"} | {"seconds": time.perf_counter() - t0}


__all__ = ["default_mat", "run"]
