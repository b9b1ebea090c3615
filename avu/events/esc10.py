"""ESC-10 from scratch: data, augmentation, training and 5-fold cross-validation.

ESC-10 (Piczak 2015) is the 10-class subset of ESC-50: 400 five-second clips, 40 per class,
split into 5 official folds (`meta.csv`, ESC-50's columns). All clips are decoded once with
`read_audio` and turned into log-mels once (`log_mel`, 64 bins, 10 ms hop), so an epoch costs
only the network. Augmentation works on the cached log-mels:

- random circular time shift, then a random crop of `crop_seconds` (training only);
- random gain: a constant added to the log power (+-`gain_db` dB);
- between-class mixing (mixup) done in the power domain, `log(l e^a + (1-l) e^b)`, labels mixed;
- SpecAugment frequency and time masks (filled with the clip's mean log power).

Evaluation classifies the full 5 s clip (the encoder pools over time, any length works),
averaging the softmax over `eval_shifts` circular shifts of it. `cross_validate(cfg)` trains one
model per held-out fold (recipe choices are made by `avu.events.esc10_nested`, on validation folds
inside the training folds, never on the test fold); `train_all(cfg, out_dir)` trains on all 400
clips (or on chosen folds, `folds=[1, 2, 3, 4]`, scoring the folds left out) and writes
`esc10.safetensors` and `esc10.json`
(or `<name>.*`, e.g. the held-out model `esc10_heldout5.*` that the boundary test uses).

Reruns: `train` seeds torch's global and its own generators from `seed`, fixes the thread count
and runs under `torch.use_deterministic_algorithms`, so the same recipe, folds and machine give
the same weights and accuracies (tested on a small recipe). Different thread counts or CPUs may
still round differently; `seed_spread` measures how much the figures move with the seed.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from safetensors.torch import save_file

from avu._paths import shared_data
from avu.data.esc10 import CLIP_SECONDS, HOP_MS, SR, Esc10Data, load_esc10, read_meta
from avu.models.audio import AudioClassifier, create_audio_encoder

_LN10_OVER_10 = math.log(10.0) / 10.0  # dB -> natural-log power


@dataclass
class Esc10Config:
    """The ESC-10 recipe (`configs/esc10.yaml` sets every field; see that file for the values)."""

    data_dir: str = ""  # folder with meta.csv and audio/; "" = $AVU_SHARED_DATA/esc10 or ../shared/data/esc10
    n_mels: int = 64  # log-mel bins (25 ms windows, 10 ms hop, 16 kHz)
    stem_channels: int = 16  # encoder: channels of the 2-D residual stem (0 = 1-D only)
    stem_stages: int = 1  # encoder: 2-D stem stages (stride 2 each, channels doubling)
    width: int = 64  # encoder: channels of the first 1-D stage
    stage_mults: tuple[int, ...] = (1, 2, 2, 4)  # encoder: channel multiplier per 1-D stage
    blocks_per_stage: int = 1  # encoder: residual blocks per stage
    kernel: int = 5  # encoder: temporal kernel of the 1-D convolutions
    embed_dim: int = 128  # encoder: embedding size
    dropout: float = 0.1  # encoder: dropout before the embedding projection
    head_dropout: float = 0.3  # classifier: dropout before the linear head
    epochs: int = 60  # passes over the training folds
    batch_size: int = 32  # clips per step
    lr: float = 3e-3  # peak learning rate (one-cycle schedule, AdamW)
    weight_decay: float = 1e-3  # AdamW weight decay
    label_smoothing: float = 0.0  # cross-entropy label smoothing
    crop_seconds: float = 4.0  # training crop length after a random circular shift
    gain_db: float = 6.0  # random gain range, +- dB
    mixup_alpha: float = 0.4  # Beta(a, a) mixing weight; 0 = no mixing
    mixup_prob: float = 0.8  # fraction of batches that are mixed
    freq_masks: int = 2  # SpecAugment: frequency masks per clip
    freq_mask_width: int = 8  # SpecAugment: max bins per frequency mask
    time_masks: int = 2  # SpecAugment: time masks per clip
    time_mask_width: int = 40  # SpecAugment: max frames per time mask
    ema_decay: float = 0.0  # exponential moving average of the weights used at the end (0 = off)
    eval_shifts: int = 1  # test-time circular shifts averaged (1 = the clip as is)
    seed: int = 0  # seed of initialisation, shuffling and augmentation
    threads: int = 2  # torch CPU threads

    def __post_init__(self) -> None:
        self.stage_mults = tuple(int(m) for m in self.stage_mults)
        if self.epochs < 1 or self.batch_size < 2 or self.lr <= 0:
            raise ValueError(f"epochs >= 1, batch_size >= 2 and lr > 0 required: {self}")
        if not 0.5 <= self.crop_seconds <= CLIP_SECONDS:
            raise ValueError(f"crop_seconds must be in [0.5, {CLIP_SECONDS}], got {self.crop_seconds}")

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Esc10Config":
        data = yaml.safe_load(Path(path).read_text()) or {}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown config keys {unknown}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stage_mults"] = list(self.stage_mults)
        return d

    def model_config(self) -> dict[str, Any]:
        return {"n_mels": self.n_mels, "stem_channels": self.stem_channels,
                "stem_stages": self.stem_stages, "width": self.width,
                "stage_mults": list(self.stage_mults), "blocks_per_stage": self.blocks_per_stage,
                "kernel": self.kernel, "embed_dim": self.embed_dim, "dropout": self.dropout}


def data_dir(cfg: Esc10Config) -> Path:
    if cfg.data_dir:
        return Path(cfg.data_dir).expanduser()
    shared = shared_data()
    return Path(shared) / "esc10"


def build_model(cfg: Esc10Config, n_classes: int = 10) -> AudioClassifier:
    return AudioClassifier(create_audio_encoder(**cfg.model_config()), n_classes, dropout=cfg.head_dropout)


def augment(mel: torch.Tensor, cfg: Esc10Config, g: torch.Generator) -> torch.Tensor:
    """Shift + crop, gain and SpecAugment for a batch [B, F, T] -> [B, F, crop]."""
    b, nf, t = mel.shape
    crop = min(t, int(round(cfg.crop_seconds * 1000 / HOP_MS)))
    shifts = torch.randint(0, t, (b,), generator=g)
    starts = torch.randint(0, t - crop + 1, (b,), generator=g)
    idx = (torch.arange(crop)[None, :] + starts[:, None] + shifts[:, None]) % t  # [B, crop]
    out = torch.gather(mel, 2, idx[:, None, :].expand(b, nf, crop)).clone()
    if cfg.gain_db > 0:
        out += ((torch.rand(b, 1, 1, generator=g) * 2 - 1) * cfg.gain_db * _LN10_OVER_10)
    fill = out.mean(dim=(1, 2), keepdim=True)
    for n_masks, width, axis, size in ((cfg.freq_masks, cfg.freq_mask_width, 1, nf),
                                       (cfg.time_masks, cfg.time_mask_width, 2, crop)):
        for _ in range(n_masks):
            w = torch.randint(0, width + 1, (b, 1), generator=g)
            s = (torch.rand(b, 1, generator=g) * (size - w + 1)).long()
            pos = torch.arange(size)[None, :]
            m = (pos >= s) & (pos < s + w)  # [B, size]
            m = m[:, :, None] if axis == 1 else m[:, None, :]
            out = torch.where(m, fill, out)
    return out


def mix(mel: torch.Tensor, y: torch.Tensor, cfg: Esc10Config, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Between-class mixing in the power domain; returns the mixed log-mels and soft targets."""
    if cfg.mixup_alpha <= 0 or torch.rand((), generator=g).item() >= cfg.mixup_prob:
        return mel, y
    beta = torch.distributions.Beta(cfg.mixup_alpha, cfg.mixup_alpha)
    lam = beta.sample((mel.shape[0],)).clamp(1e-3, 1 - 1e-3)  # uses the global RNG, seeded in train()
    perm = torch.randperm(mel.shape[0], generator=g)
    lam3 = lam[:, None, None]
    mixed = torch.logaddexp(mel + lam3.log(), mel[perm] + (1 - lam3).log())
    return mixed, lam[:, None] * y + (1 - lam[:, None]) * y[perm]


@contextlib.contextmanager
def deterministic(threads: int):
    """Deterministic torch kernels and a fixed CPU thread count inside the block (restored after)."""
    was, n = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(max(1, threads))
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was)
        torch.set_num_threads(n)


def train(cfg: Esc10Config, data: Esc10Data, train_folds: Sequence[int], *,
          eval_fold: int | None = None, log: bool = False) -> tuple[AudioClassifier, dict[str, Any]]:
    """Train a classifier on `train_folds`; report accuracy on `eval_fold` when given (deterministic:
    the same recipe, folds and thread count give the same model)."""
    with deterministic(cfg.threads):
        return _train(cfg, data, train_folds, eval_fold=eval_fold, log=log)


def _train(cfg: Esc10Config, data: Esc10Data, train_folds: Sequence[int], *,
           eval_fold: int | None, log: bool) -> tuple[AudioClassifier, dict[str, Any]]:
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    sel = torch.isin(data.folds, torch.tensor(list(train_folds)))
    x, y = data.mels[sel], data.targets[sel]
    n_classes = len(data.labels)
    model = build_model(cfg, n_classes)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch,
                                                pct_start=0.15)
    ema = (torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
        if cfg.ema_decay > 0 else None)
    history: list[float] = []
    t0 = time.time()
    for epoch in range(cfg.epochs):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        total, count = 0.0, 0
        for i in range(0, len(x), cfg.batch_size):
            j = perm[i:i + cfg.batch_size]
            if len(j) < 2:
                continue
            xb = augment(x[j], cfg, g)
            yb = F.one_hot(y[j], n_classes).float()
            xb, yb = mix(xb, yb, cfg, g)
            if cfg.label_smoothing > 0:
                yb = yb * (1 - cfg.label_smoothing) + cfg.label_smoothing / n_classes
            loss = torch.sum(-yb * F.log_softmax(model(xb), -1), -1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                ema.update_parameters(model)
            total += loss.item() * len(j)
            count += len(j)
        history.append(total / max(count, 1))
        if ema is not None and epoch == cfg.epochs - 1:
            model.load_state_dict(ema.module.state_dict())
        if log and (epoch % 10 == 9 or epoch == cfg.epochs - 1):
            msg = f"epoch {epoch + 1}/{cfg.epochs} loss {history[-1]:.3f} {time.time() - t0:.0f}s"
            if eval_fold is not None:
                msg += f" fold{eval_fold} acc {evaluate(model, data, eval_fold, cfg.eval_shifts):.3f}"
            print(msg, flush=True)
    info: dict[str, Any] = {"loss_history": history, "seconds": time.time() - t0}
    if eval_fold is not None:
        info["accuracy"] = evaluate(model, data, eval_fold, cfg.eval_shifts)
    return model, info


@torch.no_grad()
def predict(model: AudioClassifier, mels: torch.Tensor, shifts: int = 1, batch: int = 80) -> torch.Tensor:
    """Class probabilities [B, C] for full clips, averaged over `shifts` circular time shifts."""
    model.eval()
    out = []
    for i in range(0, len(mels), batch):
        m = mels[i:i + batch]
        t = m.shape[-1]
        p = sum(F.softmax(model(torch.roll(m, k * t // shifts, dims=-1)), -1) for k in range(shifts))
        out.append(p / shifts)
    return torch.cat(out)


def evaluate(model: AudioClassifier, data: Esc10Data, fold: int, shifts: int = 1) -> float:
    sel = data.folds == fold
    pred = predict(model, data.mels[sel], shifts).argmax(-1)
    return float((pred == data.targets[sel]).float().mean())


def cross_validate(cfg: Esc10Config, *, data: Esc10Data | None = None, folds: Sequence[int] = (1, 2, 3, 4, 5),
                   log: bool = False) -> dict[str, Any]:
    """Train on 4 folds, test on the 5th, for each official fold: accuracies, mean, wall time."""
    t0 = time.time()
    torch.set_num_threads(cfg.threads)
    data = data or load_esc10(data_dir(cfg), n_mels=cfg.n_mels)
    all_folds = sorted(set(data.folds.tolist()))
    accs = []
    for k in folds:
        _, info = train(cfg, data, [f for f in all_folds if f != k], eval_fold=k, log=log)
        accs.append(round(info["accuracy"], 4))
        if log:
            print(f"fold {k}: {info['accuracy']:.4f} ({info['seconds']:.0f}s)", flush=True)
    return {"folds": accs, "mean_accuracy": round(float(np.mean(accs)), 4), "seed": cfg.seed,
            "seconds": round(time.time() - t0, 1)}


def seed_spread(cfg: Esc10Config, seeds: Sequence[int] = (0, 1, 2), *, data: Esc10Data | None = None,
                folds: Sequence[int] = (1, 2, 3, 4, 5), log: bool = False) -> dict[str, Any]:
    """`cross_validate` once per seed: each seed's fold accuracies and mean, and the spread of the means."""
    data = data or load_esc10(data_dir(cfg), n_mels=cfg.n_mels)
    runs = [cross_validate(Esc10Config(**{**cfg.to_dict(), "seed": s}), data=data, folds=folds, log=log)
            for s in seeds]
    means = [r["mean_accuracy"] for r in runs]
    return {"seeds": list(seeds), "folds": list(folds), "runs": runs, "mean_of_means": round(float(np.mean(means)), 4),
            "min": min(means), "max": max(means), "spread": round(max(means) - min(means), 4)}


def train_all(cfg: Esc10Config, out_dir: str | Path, *, command: str = "", cv: dict[str, Any] | None = None,
              data: Esc10Data | None = None, log: bool = False, folds: Sequence[int] | None = None,
              name: str = "esc10") -> Path:
    """Train on `folds` (default: all) and write `<name>.safetensors` + `<name>.json`.

    With a subset of the folds, the model is also scored on the folds left out ("held_out" in the
    json: accuracy per left-out fold), which makes it a clean model for tests on those clips.
    """
    torch.set_num_threads(cfg.threads)
    data = data or load_esc10(data_dir(cfg), n_mels=cfg.n_mels)
    available = sorted(set(data.folds.tolist()))
    chosen = sorted(set(folds)) if folds else available
    if not chosen or any(f not in available for f in chosen):
        raise ValueError(f"training folds must be a non-empty subset of {available}, got {list(folds or [])}")
    model, info = train(cfg, data, chosen, log=log)
    sel = torch.isin(data.folds, torch.tensor(chosen))
    pred = predict(model, data.mels, cfg.eval_shifts).argmax(-1)
    train_acc = float((pred[sel] == data.targets[sel]).float().mean())
    extra: dict[str, Any] = {"command": command, "cross_validation": cv, "train_folds": chosen,
                             "train_accuracy": round(train_acc, 4), "train_seconds": round(info["seconds"], 1),
                             "final_loss": round(info["loss_history"][-1], 4)}
    left_out = [f for f in available if f not in chosen]
    if left_out:
        extra["held_out"] = {str(f): round(float((pred[data.folds == f] == data.targets[data.folds == f])
                                                 .float().mean()), 4) for f in left_out}
    return save_model(model, cfg, data.labels, out_dir, extra=extra, name=name)


def save_model(model: AudioClassifier, cfg: Esc10Config, labels: Sequence[str], out_dir: str | Path, *,
               extra: dict[str, Any] | None = None, name: str = "esc10") -> Path:
    """Write `<name>.safetensors` (the state dict) and `<name>.json` (labels, configs, `extra`)."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"model name must be a plain file stem, got {name!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{name}.safetensors"
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(state, str(weights), metadata={"format": "pt", "model": "avu.models.audio.AudioClassifier"})
    meta = {
        "labels": list(labels),
        "model": {"class": "avu.models.audio.AudioClassifier", "encoder": cfg.model_config(),
                  "n_classes": len(labels), "head_dropout": cfg.head_dropout},
        "mel": {"sr": SR, "n_mels": cfg.n_mels, "win_ms": 25.0, "hop_ms": HOP_MS, "log": "natural", "eps": 1e-6},
        "clip_seconds": CLIP_SECONDS,
        "recipe": cfg.to_dict(),
        **(extra or {}),
        "parameters": sum(v.numel() for v in model.parameters()),
        "tensors": {k: list(v.shape) for k, v in state.items()},
    }
    weights.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return weights


__all__ = ["Esc10Config", "Esc10Data", "data_dir", "load_esc10", "read_meta", "build_model", "augment", "mix", "train",
           "deterministic", "predict", "evaluate", "cross_validate", "seed_spread", "train_all", "save_model"]
