"""On-screen text with PP-OCR (`rapidocr-onnxruntime`: detection and recognition models ship
inside the wheel), spaces restored, lines de-duplicated.

Sizing, measured on the manifesto title card (320 x 180, five lines) on this 2-core machine:
the recogniser dominates (about 0.3-0.4 s per line-crop batch when the machine is idle, x4 under
load) and only runs when the detector finds boxes; the detector alone costs 30-150 ms on a frame
whose longest side is capped at `DET_SIDE` = 480 px ("max" limit: small frames are not blown up
to 736 px as in rapidocr's default "min" limit, which cost 2-3x more for the same lines here).
The angle classifier is off (video text is upright). Lines below `MIN_SCORE` are dropped; at most
`MAX_LINES` (the largest boxes) are recognised per frame, so a frame full of small print cannot
cost seconds. The Perceiver decides which frames to read (see `avu.perception.perceiver`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from avu.perception._words import restore_spaces

DET_SIDE = 480  # the detector's input: longest side capped at this many pixels
MIN_SCORE = 0.6  # recognition confidence below which a line is dropped
MAX_LINES = 8  # largest text boxes recognised per frame
MIN_CHARS = 2  # lines with fewer letters or digits are dropped (stray marks)


@dataclass(frozen=True)
class OcrLine:
    """One recognised line: text (spaces restored), confidence in [0, 1], box height as a fraction
    of the frame height (large text is usually the title)."""

    text: str
    score: float
    height: float


def normalise(text: str) -> str:
    """The key lines are de-duplicated by: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]+", "", text.lower())


class OCR:
    """`run(frames) -> list (one per frame) of OcrLine lists`, top to bottom."""

    name = "ppocr"

    def __init__(self, *, threads: int = 1, det_side: int = DET_SIDE):
        from rapidocr_onnxruntime import RapidOCR

        self._engine = RapidOCR(det_limit_side_len=int(det_side), det_limit_type="max", use_cls=False,
                                intra_op_num_threads=int(threads), inter_op_num_threads=1,
                                print_verbose=False)
        self.version = _version()

    def read(self, frame: np.ndarray) -> list[OcrLine]:
        """The text lines of one uint8 RGB frame, top to bottom (detection once, then recognition of
        at most MAX_LINES boxes, the tallest)."""
        f = np.ascontiguousarray(np.asarray(frame, dtype=np.uint8)[..., ::-1])  # rapidocr takes BGR arrays
        eng = self._engine
        boxes, _ = eng.text_det(f)
        if boxes is None or len(boxes) == 0:
            return []
        boxes = eng.sorted_boxes(boxes)
        if len(boxes) > MAX_LINES:  # too much small print: the tallest boxes, kept in reading order
            tall = set(np.argsort([-np.ptp(np.asarray(b)[:, 1]) for b in boxes])[:MAX_LINES].tolist())
            boxes = [b for i, b in enumerate(boxes) if i in tall]
        rec, _ = eng.text_rec(eng.get_crop_img_list(f, boxes), False)
        h, out = float(f.shape[0]), []
        for box, (text, score, *_) in zip(boxes, rec):
            text = restore_spaces(str(text).strip())
            if float(score) < MIN_SCORE or len(normalise(text)) < MIN_CHARS:
                continue
            out.append(OcrLine(text, round(float(score), 4), round(float(np.ptp(np.asarray(box)[:, 1])) / h, 4)))
        return out

    def run(self, frames: np.ndarray) -> list[list[OcrLine]]:
        return [self.read(f) for f in np.asarray(frames)]


def _version() -> str:
    from importlib.metadata import version

    return f"rapidocr-onnxruntime=={version('rapidocr-onnxruntime')} (PP-OCRv4 det/rec)"


def dedupe(lines_per_frame: list[list[OcrLine]]) -> list[OcrLine]:
    """One OcrLine per distinct text (by `normalise`) over frames, its best score, first-seen order;
    a line contained in a longer one seen elsewhere is dropped."""
    best: dict[str, OcrLine] = {}
    for lines in lines_per_frame:
        for ln in lines:
            k = normalise(ln.text)
            if k and (k not in best or ln.score > best[k].score):
                best[k] = ln
    keys = list(best)
    return [best[k] for k in keys if not any(k != o and k in o and len(k) < len(o) for o in keys)]


__all__ = ["DET_SIDE", "MAX_LINES", "MIN_SCORE", "OCR", "OcrLine", "dedupe", "normalise"]
