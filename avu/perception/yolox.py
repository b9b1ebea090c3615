"""YOLOX-Nano (80 COCO classes) on RGB frames: letterbox, grid decoding, NMS.

Input: float32 [1, 3, 416, 416] BGR 0..255, the frame scaled to fit 416 (aspect kept) in the
top-left corner and padded with 114 (YOLOX's own `preproc`). Output [1, 3549, 85]: per anchor
point on the 52x52, 26x26 and 13x13 grids (strides 8, 16, 32), x, y, w, h decoded as
`(xy + grid) * stride` and `exp(wh) * stride`, then objectness and 80 class scores; a detection's
score is objectness x class score. Class-wise NMS at IoU 0.45 (YOLOX's demo value). Boxes come
back in [0, 1] coordinates of the original frame. The ONNX export has a fixed batch of one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from avu.perception.labels import coco_labels

SIZE = 416  # the model's input side
STRIDES = (8, 16, 32)
PAD = 114  # letterbox fill value
NMS_IOU = 0.45  # IoU above which a lower-scored box of the same class is dropped
MIN_SCORE = 0.25  # detections kept by `run` (the Perceiver applies its own, higher, threshold)


@dataclass(frozen=True)
class Detection:
    """One detected object: class index and name, score in [0, 1], box (x0, y0, x1, y1) in [0, 1]."""

    cls: int
    label: str
    score: float
    box: tuple[float, float, float, float]

    def __post_init__(self):
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"detection score {self.score} outside [0, 1]")


def letterbox(frame: np.ndarray, size: int = SIZE) -> tuple[np.ndarray, float]:
    """RGB uint8 [H, W, 3] -> (float32 [3, size, size] BGR 0..255 padded with 114, scale used)."""
    h, w = frame.shape[:2]
    r = min(size / h, size / w)
    nh, nw = max(1, int(round(h * r))), max(1, int(round(w * r)))
    img = np.asarray(Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8)).resize((nw, nh), Image.BILINEAR))
    out = np.full((size, size, 3), PAD, dtype=np.float32)
    out[:nh, :nw] = img[..., ::-1]
    return out.transpose(2, 0, 1), r


def _grids(size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    grids, strides = [], []
    for s in STRIDES:
        n = size // s
        yv, xv = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        grids.append(np.stack([xv, yv], -1).reshape(-1, 2))
        strides.append(np.full((n * n, 1), s))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> list[int]:
    """Indices kept by greedy non-maximum suppression (boxes x0, y0, x1, y1), best first."""
    order = np.argsort(-scores)
    area = np.maximum(0, boxes[:, 2] - boxes[:, 0]) * np.maximum(0, boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.maximum(0, xx1 - xx0) * np.maximum(0, yy1 - yy0)
        order = rest[inter / np.maximum(area[i] + area[rest] - inter, 1e-9) <= iou]
    return keep


class YOLOXNano:
    """`run(frames) -> list (one per frame) of Detection lists`, best first; `labels` the 80 names."""

    name = "yolox_nano"

    def __init__(self, model: Path, labels: Path, *, threads: int = 1):
        import onnxruntime as ort

        self.labels = coco_labels(labels)
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        self._sess = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
        self._input = self._sess.get_inputs()[0].name
        self._grid, self._stride = _grids()

    def decode(self, raw: np.ndarray, scale: float, hw: tuple[int, int], min_score: float) -> list[Detection]:
        """Detections of one frame from the raw [3549, 85] output."""
        xy = (raw[:, :2] + self._grid) * self._stride
        wh = np.exp(np.clip(raw[:, 2:4], -10, 10)) * self._stride
        cls = raw[:, 5:].argmax(1)
        score = raw[:, 4] * raw[np.arange(len(raw)), 5 + cls]
        sel = np.flatnonzero(score >= min_score)
        if not sel.size:
            return []
        h, w = hw
        boxes = np.concatenate([xy[sel] - wh[sel] / 2, xy[sel] + wh[sel] / 2], 1) / scale
        boxes = np.clip(boxes / np.array([w, h, w, h], dtype=np.float32), 0.0, 1.0)
        out = []
        for c in np.unique(cls[sel]):
            idx = np.flatnonzero(cls[sel] == c)
            for k in nms(boxes[idx], score[sel][idx]):
                j = idx[k]
                out.append(Detection(int(c), self.labels[int(c)], float(min(1.0, score[sel][j])),
                                     tuple(round(float(v), 4) for v in boxes[j])))
        return sorted(out, key=lambda d: -d.score)

    def run(self, frames: np.ndarray, *, min_score: float = MIN_SCORE) -> list[list[Detection]]:
        f = np.asarray(frames)
        if f.ndim != 4 or f.shape[-1] != 3:
            raise ValueError(f"YOLOX takes uint8 RGB frames [T, H, W, 3], got {f.shape}")
        out = []
        for frame in f:
            x, r = letterbox(frame)
            raw = self._sess.run(None, {self._input: x[None]})[0][0]
            out.append(self.decode(raw, r, frame.shape[:2], min_score))
        return out


__all__ = ["Detection", "MIN_SCORE", "NMS_IOU", "SIZE", "YOLOXNano", "letterbox", "nms"]
