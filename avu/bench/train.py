"""`avu bench train`: samples per second of one full training step (forward, loss, backward, AdamW).

Inputs have the shapes the avshapes recipe feeds (frames [B, T, 3, S, S], log-mels of the
recipe's `audio_crop` of 2 s (`configs/avshapes.yaml`), 12-word captions) but random values:
throughput does not depend on them, and the benchmark then needs no dataset. On CPU it times
float32; with a CUDA device it times float32 and bfloat16 autocast side by side in the same run
and reports the speed-up and the peak GPU memory of each.
"""
from __future__ import annotations

import time
from typing import Any

import torch

from avu.bench.decode import machine

AUDIO_SECONDS = 2.0  # the avshapes recipe's training crop (configs/avshapes.yaml: audio_crop)
HOP_S = 0.01  # log-mel hop


def _inputs(model, batch: int, device: torch.device) -> dict[str, Any]:
    cfg = model.cfg
    g = torch.Generator().manual_seed(0)
    vocab = max(3, len(cfg.text.vocab))
    return {"video": torch.rand(batch, cfg.visual.num_frames, 3, cfg.visual.frame_size, cfg.visual.frame_size,
                                generator=g).to(device),
            "audio": torch.randn(batch, cfg.audio.n_mels, round(AUDIO_SECONDS / HOP_S), generator=g).to(device),
            "text": torch.randint(2, vocab, (batch, 12), generator=g).to(device),
            "captions": ["a red circle moves left while a dog barks"] * batch}


def _time_steps(model_name: str, batch: int, steps: int, device: torch.device, amp: bool) -> dict[str, Any]:
    from avu.models.model import AVModel, count_parameters
    from avu.models.registry import get_model_config
    from avu.models.text_tower import build_vocab
    from avu.train.config import TrainConfig
    from avu.train.loop import _Step
    from avu.train.objective import Objective

    mcfg = get_model_config(model_name)
    if mcfg.text.kind == "words":
        words = [f"w{i}" for i in range(60)]
        mcfg = mcfg.replace(text={**mcfg.to_dict()["text"], "vocab": list(build_vocab(words))})
    model = AVModel(mcfg).to(device)
    step = _Step(model, Objective(model, TrainConfig())).to(device)
    opt = torch.optim.AdamW(step.parameters(), lr=1e-3)
    x = _inputs(model, batch, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(steps + 2):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = step(x)["total"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    out = {"samples_per_s": round(batch / median, 1), "step_ms": round(1000 * median, 1),
           "params": count_parameters(model)}
    if device.type == "cuda":
        out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def bench_train(*, model: str = "avshapes_fused", batch: int = 64, steps: int = 10) -> dict[str, Any]:
    """Time `steps` training steps (median) on CPU, and on GPU in fp32 and bf16 when one is present."""
    if batch < 2 or steps < 1:
        raise ValueError("batch >= 2 and steps >= 1 are required")
    result: dict[str, Any] = {"model": model, "batch": batch, "steps": steps, "machine": machine(),
                              "torch": torch.__version__, "threads": torch.get_num_threads()}
    result["cpu_fp32"] = _time_steps(model, batch, steps, torch.device("cpu"), amp=False)
    if torch.cuda.is_available():
        dev = torch.device("cuda")
        result["gpu"] = torch.cuda.get_device_name(0)
        result["gpu_fp32"] = _time_steps(model, batch, steps, dev, amp=False)
        result["gpu_bf16"] = _time_steps(model, batch, steps, dev, amp=True)
        result["amp_speedup"] = round(result["gpu_bf16"]["samples_per_s"] / result["gpu_fp32"]["samples_per_s"], 2)
    return result


__all__ = ["bench_train"]
