"""MobileNetV2 (ImageNet, 1000 classes, int8) on RGB frames, with its pooled 1280-d features.

Input: uint8 [1, 224, 224, 3] RGB (the input quantisation maps 0..255 to -1..1); a frame of any
size is resized to 224 x 224 whole (no crop: what is at a wide frame's edge still counts; the
ingest frames are already 224 x 224). Class probabilities are the softmax of the dequantised
int8 logits (the tensor before the final uint8 softmax output, whose 1/256 steps would zero every
class under 0.4 %), over the 1001 outputs (index 0 "background"). The pooled features are the
dequantised `GlobalPool/Mean` tensor. The export has a fixed batch of one (XNNPACK cannot reshape
it), so a batch runs frame by frame in one interpreter.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from avu.perception._tflite import open_interpreter
from avu.perception.labels import imagenet_labels

SIZE = 224  # the model's input side


def resize(frame: np.ndarray, size: int = SIZE) -> np.ndarray:
    """uint8 RGB frame -> uint8 [size, size, 3] (bilinear; unchanged when already that size)."""
    f = np.asarray(frame)
    if f.shape[:2] == (size, size):
        return np.ascontiguousarray(f, dtype=np.uint8)
    return np.asarray(Image.fromarray(np.ascontiguousarray(f, dtype=np.uint8)).resize((size, size), Image.BILINEAR))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class MobileNetV2:
    """`run(frames) -> (probs [T, 1001], features [T, 1280])`; `labels[i]` names output i."""

    name = "mobilenet_v2"

    def __init__(self, model: Path, labels: Path, *, threads: int = 1):
        self.labels = imagenet_labels(labels)
        self._it = open_interpreter(model, threads=threads)
        self._in = self._it.get_input_details()[0]["index"]
        out = self._it.get_output_details()[0]
        self._out = (out["index"], *out["quantization"])
        self._logits = self._pool = None
        for t in self._it.get_tensor_details():
            shape = tuple(t["shape"])
            if shape == (1, 1001) and t["index"] != out["index"] and "SpatialSqueeze" in t["name"]:
                self._logits = (t["index"], *t["quantization"])
            elif shape == (1, 1, 1, 1280) and "GlobalPool" in t["name"]:
                self._pool = (t["index"], *t["quantization"])
        if self._pool is None:
            raise ValueError(f"{model}: no pooled 1280-d tensor (not the MobileNetV2 export this adapter reads)")

    def _read(self, spec) -> np.ndarray:
        index, scale, zero = spec
        x = self._it.get_tensor(index).reshape(-1).astype(np.float32)
        return (x - zero) * scale if scale else x

    def run(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f = np.asarray(frames)
        if f.ndim != 4 or f.shape[-1] != 3:
            raise ValueError(f"MobileNetV2 takes uint8 RGB frames [T, H, W, 3], got {f.shape}")
        probs = np.zeros((len(f), 1001), dtype=np.float32)
        feats = np.zeros((len(f), 1280), dtype=np.float32)
        for i, frame in enumerate(f):
            self._it.set_tensor(self._in, resize(frame)[None])
            self._it.invoke()
            probs[i] = _softmax(self._read(self._logits)) if self._logits else self._read(self._out)
            feats[i] = self._read(self._pool)
        return probs, feats


__all__ = ["MobileNetV2", "SIZE", "resize"]
