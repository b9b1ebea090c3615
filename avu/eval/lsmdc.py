"""`avu eval lsmdc`: LSMDC text-to-clip and clip-to-text retrieval on the public 1000-clip test file.

A trained model (a checkpoint folder) is scored on the official test clips it can find under the
videos folder; the result says which protocol file was used and which clips were skipped.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from avu._paths import user_config

DEFAULT_CONFIG = user_config("lsmdc.yaml")  # decoding options (frames, size, audio) of the task


def run(annotations: str | Path, videos: str | Path, checkpoint: str | Path, *,
        config: str | Path = DEFAULT_CONFIG) -> dict[str, Any]:
    """R@K of `checkpoint` on the LSMDC test file in `annotations`, with the clips under `videos`."""
    import yaml

    from avu.data.lsmdc import load_lsmdc, lsmdc_split_files, test_protocol
    from avu.models.registry import load_checkpoint
    from avu.train.config import TrainConfig
    from avu.train.tasks.lsmdc import LsmdcTask

    config = Path(config)
    if not config.is_file():
        raise FileNotFoundError(f"{config}: LSMDC config not found")
    raw = yaml.safe_load(config.read_text()) or {}
    raw["data"] = {**raw.get("data", {}), "annotations": str(annotations), "videos": str(videos),
                   "splits": ["test"]}
    task = LsmdcTask(TrainConfig.from_dict(raw, source=str(config)))
    protocol = test_protocol(load_lsmdc(lsmdc_split_files(Path(annotations))["test"]))
    res = task.evaluate(load_checkpoint(Path(checkpoint)), "test")
    return {**res, "protocol": protocol, "skipped": task.skipped}


__all__ = ["DEFAULT_CONFIG", "run"]
