"""Data-parallel training through Ray Train (`TorchTrainer`), locally or on a Ray cluster.

`run_train(cfg, workers=N, gpus_per_worker=G, ray_address=...)` builds the task's data once on
the driver (so workers read the cache instead of rendering it N times), then starts N workers
that each run `avu.train.loop.fit` with the model wrapped by `ray.train.torch.prepare_model`
(DistributedDataParallel; gradients are averaged every step) and their shard of every epoch.
Rank 0 evaluates, writes `train.jsonl` / `last/` / `best/` / `result.json` under `cfg.out`, and
reports each evaluation's checkpoint to Ray Train, which keeps copies under `cfg.out/ray/` (on a
cluster, point `out` at storage every node shares). With `workers=1` and no Ray address the
plain single-process `fit` runs instead.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from avu.train.config import TrainConfig


def _worker_loop(config: dict[str, Any]) -> None:
    import ray.train
    import ray.train.torch

    from avu.train.loop import Worker, fit

    cfg = TrainConfig.from_dict(config["cfg"])
    ctx = ray.train.get_context()

    def report(metrics: dict, ckpt_dir: Path | None) -> None:
        ck = ray.train.Checkpoint.from_directory(str(ckpt_dir)) if ckpt_dir is not None else None
        ray.train.report(metrics, checkpoint=ck)

    def wrap(module):
        return ray.train.torch.prepare_model(module, parallel_strategy_kwargs={"find_unused_parameters": True})

    worker = Worker(rank=ctx.get_world_rank(), world=ctx.get_world_size(), wrap=wrap,
                    device=ray.train.torch.get_device(), report=report)
    fit(cfg, resume=config["resume"], worker=worker)


def run_train(cfg: TrainConfig, *, workers: int = 1, gpus_per_worker: float = 0.0, ray_address: str | None = None,
              resume: bool = False, progress: Callable[[str, dict], None] | None = None) -> dict[str, Any]:
    """Train with `workers` data-parallel workers (Ray Train) or in this process; returns the result."""
    from avu.train.loop import fit
    from avu.train.tasks import create_task

    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = Path(cfg.out).resolve()
    cfg = TrainConfig.from_dict({**cfg.to_dict(), "out": str(out), "data_cache": str(Path(cfg.data_cache).resolve())})
    task = create_task(cfg)  # builds (or loads) the data cache here, once
    if workers == 1 and not ray_address and not gpus_per_worker:
        return fit(cfg, task=task, resume=resume, progress=progress)

    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from pipelines._pool import POOL
    from pipelines._ray import ray_session

    with ray_session(ray_address, cpus=max(2, workers)):
        POOL.release()  # the idle actors of an earlier ingest hold CPUs the trainers need
        threads = max(1, cfg.threads // workers) if not gpus_per_worker else cfg.threads
        wcfg = TrainConfig.from_dict({**cfg.to_dict(), "threads": threads, "max_minutes": 0.0,
                                      "device": "cuda" if gpus_per_worker else "cpu"})
        trainer = TorchTrainer(
            _worker_loop,
            train_loop_config={"cfg": wcfg.to_dict(), "resume": resume},
            scaling_config=ScalingConfig(num_workers=workers, use_gpu=bool(gpus_per_worker),
                                         resources_per_worker={"CPU": 1, **({"GPU": gpus_per_worker}
                                                                            if gpus_per_worker else {})}),
            run_config=RunConfig(storage_path=str(out / "ray"), name="train"))
        result = trainer.fit()
        if result.error:
            raise RuntimeError(f"Ray Train failed: {result.error}")
        path = out / "result.json"
        doc = json.loads(path.read_text()) if path.is_file() else {"metrics": result.metrics}
        doc["ray_checkpoint"] = result.checkpoint.path if result.checkpoint else None
        return doc


__all__ = ["run_train"]
