"""Tasks the trainer knows: each loads its splits, makes training batches and evaluates retrieval.

A task object (`CaptionTask`; clip tasks: `ClipTask`) has `splits` (name -> split),
`captions(split)`, `batch(split, idx, *, train, g)`
(a dict with "video" [B, T, 3, S, S] float, "audio" [B, M, F] log-mel, "text" features of the
model's text tower and "captions"), and `evaluate(model, split)` (text-to-video and
video-to-text R@1/5/10, MdR, MnR through `avu.metrics.retrieval_metrics`).
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from avu.models.model import AVModel, prepare_frames
from avu.train.config import TrainConfig

HOP_S = 0.01  # log-mel hop


class CaptionTask:
    """What every task shares: its captions featurised once per tokenisation, rows of them per batch."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self._text: dict[tuple, torch.Tensor] = {}  # (TextConfig, split) -> featurised captions

    def captions(self, split: str) -> list[str]:
        return self.splits[split].captions

    def text_rows(self, model: AVModel, split: str, rows) -> torch.Tensor:
        """Text-tower features of captions `rows` of `split` (word ids trimmed to the longest row)."""
        key = (model.cfg.text, split)  # the tokenisation, not the object (ids get reused)
        if key not in self._text:
            self._text[key] = model.text.featurize(self.captions(split))
        text = self._text[key][rows]
        if text.dtype == torch.long:  # drop padding columns no row of this batch needs
            text = text[:, : max(1, int((text != 0).sum(1).max()))]
        return text


class ClipTask(CaptionTask):
    """Video clips with one caption each (avshapes, LSMDC): splits hold frames, log-mels, captions."""

    def batch(self, model: AVModel, split: str, idx: torch.Tensor, *, train: bool,
              g: torch.Generator | None = None, device: str | torch.device = "cpu") -> dict[str, Any]:
        from avu.train.tasks._features import clip_batch

        cached = clip_batch(self, model, split, idx, train=train, g=g, device=device)  # pretrained towers
        if cached is not None:
            return cached
        s = self.splits[split]
        frames = s.frames[idx]
        t = model.cfg.visual.num_frames
        if t < frames.shape[1]:  # evenly spaced subset of the decoded frames
            frames = frames[:, torch.linspace(0, frames.shape[1] - 1, t).round().long()]
        if train and self.cfg.frame_jitter:  # shift the picture by up to 3 px (circularly) per clip
            shifts = torch.randint(-3, 4, (len(idx), 2), generator=g)
            frames = torch.stack([torch.roll(f, (int(dy), int(dx)), dims=(1, 2))
                                  for f, (dy, dx) in zip(frames, shifts)])
        video = prepare_frames(frames, model.cfg.visual.frame_size)
        mel = s.mels[idx].float()
        crop = int(round(self.cfg.audio_crop / HOP_S))
        if train and 0 < crop < mel.shape[-1]:
            starts = torch.randint(0, mel.shape[-1] - crop + 1, (len(idx),), generator=g)
            mel = torch.stack([m[:, int(a):int(a) + crop] for m, a in zip(mel, starts)])
        text = self.text_rows(model, split, idx)
        return {"video": video.to(device), "audio": mel.to(device), "text": text.to(device),
                "captions": [s.captions[int(i)] for i in idx]}

    @torch.no_grad()
    def embed(self, model: AVModel, split: str, *, batch: int = 80, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """(video embeddings, text embeddings) of a whole split, in order."""
        model.eval()
        n = len(self.splits[split])
        vs, ts = [], []
        for a in range(0, n, batch):
            idx = torch.arange(a, min(n, a + batch))
            b = self.batch(model, split, idx, train=False, device=device)
            vs.append(model.encode_video(b).float().cpu())
            ts.append(model.encode_text(b["text"]).float().cpu())
        return torch.cat(vs), torch.cat(ts)

    def evaluate(self, model: AVModel, split: str = "test", *, device="cpu") -> dict[str, Any]:
        from avu.metrics import retrieval_metrics

        v, t = self.embed(model, split, device=device)
        sim = (t @ v.T).numpy()
        gt = [{i} for i in range(len(v))]
        return {"t2v": retrieval_metrics(sim, gt), "v2t": retrieval_metrics(sim.T, gt), "n": len(v)}


class AvShapesTask(ClipTask):
    """The avshapes benchmark (`avu.data.avshapes`): one caption per video."""

    name = "avshapes"

    def __init__(self, cfg: TrainConfig, *, progress: Callable[[int, int], None] | None = None):
        from avu.data.avshapes import AvShapesConfig, build

        super().__init__(cfg)
        opts = dict(cfg.data)
        if "train_folds" in opts:
            opts["train_folds"] = tuple(opts["train_folds"])
        self.data_cfg = AvShapesConfig(**opts)
        self.splits = build(self.data_cfg, cfg.data_cache, progress=progress)


def create_task(cfg: TrainConfig, **kwargs: Any):
    if cfg.task == "avshapes":
        return AvShapesTask(cfg, **kwargs)
    if cfg.task == "coco":
        from avu.train.tasks.image_text import CocoTask

        return CocoTask(cfg, **kwargs)
    if cfg.task == "lsmdc":
        from avu.train.tasks.lsmdc import LsmdcTask

        return LsmdcTask(cfg, **kwargs)
    raise ValueError(f"unknown task {cfg.task!r}")


__all__ = ["CaptionTask", "ClipTask", "AvShapesTask", "create_task"]
