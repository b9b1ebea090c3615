"""Image-text retrieval on the shared core (COCO / Flickr30k protocol): the `coco` training task.

Images go through the model's visual tower as one-frame videos; captions through its text
tower. Data comes from official files: COCO captions JSON files (`annotations`, a list) with an
image folder, or a Karpathy split file (`karpathy`: dataset_coco.json / dataset_flickr30k.json).
With a Karpathy file its train/val/test splits are used (restval joins train). With plain COCO
caption files, the images found are pooled, ordered by id, and the last `test_images` form the
test split (the 154 shared images: 104 train, 50 test); validation is then the training images
(so it shows whether the mechanics work, not generalisation). Evaluation follows the protocol
in `avu.data.coco.evaluate_image_text`: every caption (5 per image) is a text-to-image query;
image-to-text scores the best-ranked of an image's 5 captions; 1K folds are averaged.

Training takes one random caption per image per epoch, so a batch never holds two captions of
the same image (they would be false negatives for the contrastive loss).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from avu._paths import shared_data
from avu.models.model import AVModel, prepare_frames
from avu.models.pretrained import pretrained_backbones
from avu.train.config import TrainConfig
from avu.train.tasks import CaptionTask
from avu.train.tasks._features import image_features


def _load_image(path: Path, size: int) -> np.ndarray:
    """Centre square crop, resized to size x size, RGB uint8."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        return np.asarray(im.resize((size, size), Image.BICUBIC))


class _ImageSplit:
    def __init__(self, images, size: int):
        from avu.data.coco import protocol_captions

        self.images = list(images)
        self.texts, self.item_of_text = protocol_captions(self.images)
        self.frames = torch.from_numpy(np.stack([_load_image(im.path, size) for im in self.images])) if self.images \
            else torch.zeros(0, size, size, 3, dtype=torch.uint8)

    def __len__(self) -> int:  # one training item per image
        return len(self.images)


class CocoTask(CaptionTask):
    """See the module docstring. `cfg.data`: annotations, images, karpathy, test_images, size, protocol."""

    name = "coco"

    def __init__(self, cfg: TrainConfig, progress=None):
        from avu.data.coco import load_coco_captions, load_karpathy

        d = {"annotations": [], "images": "", "karpathy": "", "test_images": 50, "size": 128, "protocol": "1k",
             **cfg.data}
        unknown = set(d) - {"annotations", "images", "karpathy", "test_images", "size", "protocol"}
        if unknown:
            raise ValueError(f"coco task: unknown data options {sorted(unknown)}")
        super().__init__(cfg)
        self.protocol = d["protocol"]
        shared = shared_data() / "coco"
        images_dir = Path(d["images"] or shared / "images")
        if d["karpathy"]:
            by_split = {s: load_karpathy(d["karpathy"], images_dir, s, restval_as_train=True)
                        for s in ("train", "val", "test")}
        else:
            files = d["annotations"] or sorted(str(p) for p in shared.glob("captions_*.json"))
            if not files:
                raise FileNotFoundError(f"coco task: no caption files given and none in {shared}")
            pool = [im for f in files for im in load_coco_captions(f, images_dir, missing="skip")]
            pool.sort(key=lambda im: im.image_id)
            n_test = int(d["test_images"])
            if not 0 < n_test < len(pool):
                raise ValueError(f"coco task: test_images must be in 1..{len(pool) - 1}, got {n_test}")
            train = pool[:-n_test]
            by_split = {"train": train, "val": train, "test": pool[-n_test:]}
        self.splits = {s: _ImageSplit(v, int(d["size"])) for s, v in by_split.items()}

    def captions(self, split: str) -> list[str]:
        return self.splits[split].texts

    def batch(self, model: AVModel, split: str, idx: torch.Tensor, *, train: bool,
              g: torch.Generator | None = None, device: Any = "cpu") -> dict[str, Any]:
        s = self.splits[split]
        frames = s.frames[idx]
        flip = torch.rand(len(idx), generator=g) < 0.5 if train else torch.zeros(len(idx), dtype=torch.bool)
        if pretrained_backbones(model.cfg):  # frozen MobileNetV2 features, cached (flipped ones too)
            f = image_features(self, split)
            video = torch.where(flip[:, None], f["flipped"][idx], f["features"][idx]).unsqueeze(1)
        else:  # random horizontal flips
            frames = torch.where(flip[:, None, None, None], frames.flip(2), frames)
            video = prepare_frames(frames.unsqueeze(1), model.cfg.visual.frame_size)
        per = len(s.texts) // max(1, len(s.images))
        pick = torch.randint(0, per, (len(idx),), generator=g) if train else torch.zeros(len(idx), dtype=torch.long)
        rows = [int(i) * per + int(k) for i, k in zip(idx, pick)]
        text = self.text_rows(model, split, rows)
        return {"video": video.to(device), "audio": None, "text": text.to(device),
                "captions": [s.texts[r] for r in rows]}

    @torch.no_grad()
    def evaluate(self, model: AVModel, split: str = "test", *, device: Any = "cpu") -> dict[str, Any]:
        from avu.data.coco import evaluate_image_text

        model.eval()
        s = self.splits[split]
        imgs = []
        feats = image_features(self, split)["features"] if pretrained_backbones(model.cfg) else None
        for a in range(0, len(s.images), 64):
            x = (feats[a:a + 64].unsqueeze(1) if feats is not None
                 else prepare_frames(s.frames[a:a + 64].unsqueeze(1), model.cfg.visual.frame_size)).to(device)
            imgs.append(model.encode_image(x).float().cpu())
        texts = []
        for a in range(0, len(s.texts), 256):  # the cached caption features, not a second featurisation
            rows = list(range(a, min(len(s.texts), a + 256)))
            texts.append(model.encode_text(self.text_rows(model, split, rows).to(device)).float().cpu())
        r = evaluate_image_text(torch.cat(imgs).numpy(), torch.cat(texts).numpy(), s.item_of_text, self.protocol)
        return {"t2v": r["t2i"], "v2t": r["i2t"], "rsum": r["rsum"], "n": len(s.images),
                "standard": r["standard"], "note": r["note"]}


__all__ = ["CocoTask"]
