"""`Perceiver`: one segment's frames and audio -> what is heard, seen, detected and read.

Models are loaded once per Perceiver (one per worker), each with an explicit thread count. A
modality whose model file is missing (or wrong) is not faked: it is left out, named in `missing`
with a one-line message, and its lists stay empty.

Sampling inside a segment (ingest hands over 2 frames per second, 4 for a 2 s segment), set by
`avu bench perception` on the shared clips (one thread each; 45 segments; the machine was shared,
load average 22 on 2 cores, so the absolute times are ~10x an idle core's but the shares hold):
with every frame through MobileNetV2 and 2 through YOLOX-Nano a segment cost 2.50 s, of which
seen 0.99, objects 0.89, read 0.32, heard 0.30. MobileNetV2 therefore takes `seen_frames` = 2
frames (1 fps: the frames of a 2 s segment are near-duplicates), YOLOX-Nano the key frame only
(`object_frames` = 1; its boxes are the key frame's anyway), and OCR the key frame only
(`read_frames` = 1), skipped when the key frame looks like the last one read in the same batch (a
32x32 grey thumbnail differing by less than `ocr_reuse_diff` grey levels on average): static title
cards and slides are read once per batch (ingest's 8 consecutive segments of one video), not every
2 s. The reuse never crosses a batch: an embed actor interleaves the batches of several videos in
whatever order they arrive, and a segment's text must not depend on that order (nor on another
video's frame that happens to look alike, such as a dark one). OCR's text detector is the cheap "is there text" gate:
recognition runs only on frames where it finds boxes.
YAMNet runs on every 0.975 s patch (hop 0.48 s: 4 patches per 2 s segment, the last zero-padded).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from avu.perception.files import MODALITY_FILES, PINS, ModelMissing, find_model, ocr_available
from avu.perception.labels import short_name
from avu.perception.result import Box, ObjectTag, SegmentPerception, Tag, TextLine

MODALITIES = ("heard", "seen", "objects", "read")


@dataclass(frozen=True)
class PerceiverConfig:
    heard_top_k: int = 5  # AudioSet tags kept per segment (by mean score over its patches)
    heard_min: float = 0.05  # ...with at least this mean score
    seen_top_k: int = 20  # ImageNet tags kept (the ConSE label count: chosen on the 104 COCO train images)
    seen_min: float = 0.0  # ...with at least this averaged probability (0.01 was no better on COCO train)
    seen_frames: int = 2  # frames classified by MobileNetV2 per segment (evenly spaced, key frame among them)
    object_frames: int = 1  # frames YOLOX-Nano runs on per segment (the key frame first)
    object_min: float = 0.25  # detection score for objects and boxes (chosen on COCO train over 0.4)
    read_frames: int = 1  # frames OCR runs on per segment (the key frame first)
    ocr_reuse_diff: float = 4.0  # mean grey-level difference under which the last OCR result is reused

    def __post_init__(self):
        if min(self.heard_top_k, self.seen_top_k, self.seen_frames, self.object_frames, self.read_frames) < 1:
            raise ValueError(f"PerceiverConfig: counts must be >= 1: {self}")
        if not (0 <= self.heard_min <= 1 and 0 <= self.seen_min <= 1 and 0 <= self.object_min <= 1):
            raise ValueError(f"PerceiverConfig: thresholds must be in [0, 1]: {self}")


def pick_frames(n: int, k: int) -> list[int]:
    """Up to k of n frame indices, evenly spaced, always holding the key (middle) frame, key first."""
    if n <= 0:
        return []
    key = n // 2
    if k >= n:
        return [key] + [i for i in range(n) if i != key]
    picked = [key]
    for i in np.linspace(0, n - 1, k).round().astype(int).tolist():
        if i not in picked and len(picked) < k:
            picked.append(i)
    return picked


def _thumb(frame: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8)).convert("L").resize((32, 32)),
                      dtype=np.float32)


class Perceiver:
    """See the module docstring. `enable` names the modalities wanted (heard, seen, objects, read)."""

    def __init__(self, *, models_dir: str | Path | None = None, threads: int = 1,
                 enable: Sequence[str] = MODALITIES, config: PerceiverConfig | None = None,
                 search_dirs: Sequence[str | Path] | None = None):
        unknown = set(enable) - set(MODALITIES)
        if unknown:
            raise ValueError(f"unknown perception modalities {sorted(unknown)}; known: {MODALITIES}")
        self.cfg = config or PerceiverConfig()
        self.threads = int(threads)
        self.missing: dict[str, str] = {}
        self.versions: dict[str, str] = {}
        self._models: dict[str, object] = {}
        self._last_ocr: tuple[np.ndarray, list] | None = None
        self.seconds: dict[str, float] = {m: 0.0 for m in MODALITIES}  # wall time spent per modality so far
        for m in MODALITIES:
            if m not in enable:
                continue
            try:
                self._models[m] = self._load(m, models_dir, search_dirs)
            except ModelMissing as e:
                self.missing[m] = e.message
        self.available: tuple[str, ...] = tuple(m for m in MODALITIES if m in self._models)

    def _load(self, modality: str, models_dir, search_dirs):
        if modality == "read":
            reason = ocr_available()
            if reason:
                raise ModelMissing("rapidocr-onnxruntime", reason)
            from avu.perception.ocr import OCR

            ocr = OCR(threads=self.threads)
            self.versions["ppocr"] = ocr.version
            return ocr
        paths = [find_model(n, models_dir, dirs=search_dirs) for n in MODALITY_FILES[modality]]
        if modality == "heard":
            from avu.perception.yamnet import YAMNet as cls
        elif modality == "seen":
            from avu.perception.mobilenet import MobileNetV2 as cls
        else:
            from avu.perception.yolox import YOLOXNano as cls
        model = cls(*paths, threads=self.threads)
        self.versions[model.name] = PINS[MODALITY_FILES[modality][0]].sha256[:12]
        return model

    # -- one modality each ------------------------------------------------------------------
    def _heard(self, out: SegmentPerception, audio: np.ndarray, sr: int) -> None:
        model = self._models["heard"]
        scores, emb = model.run_wave(audio, sr)
        if not len(scores):
            return
        mean = scores.mean(0)
        top = [i for i in np.argsort(-mean)[:self.cfg.heard_top_k] if mean[i] >= self.cfg.heard_min]
        out.heard = [Tag(model.labels[i], float(np.clip(mean[i], 0, 1))) for i in top]
        out.audio_features = emb

    def _seen(self, out: SegmentPerception, frames: np.ndarray) -> None:
        model = self._models["seen"]
        idx = sorted(pick_frames(len(frames), self.cfg.seen_frames))
        probs, feats = model.run(frames[idx])
        mean = probs.mean(0)
        mean[0] = 0.0  # "background" is not a thing seen
        top = [i for i in np.argsort(-mean)[:self.cfg.seen_top_k] if mean[i] >= self.cfg.seen_min]
        out.seen = [Tag(short_name(model.labels[i]), float(np.clip(mean[i], 0, 1))) for i in top]
        out.image_features = feats

    def _objects(self, out: SegmentPerception, frames: np.ndarray) -> None:
        model = self._models["objects"]
        idx = pick_frames(len(frames), self.cfg.object_frames)  # key frame first
        dets = model.run(frames[idx], min_score=self.cfg.object_min)
        best: dict[str, tuple[float, int]] = {}
        for frame_dets in dets:
            counts: dict[str, int] = {}
            for d in frame_dets:
                counts[d.label] = counts.get(d.label, 0) + 1
            for d in frame_dets:
                s, c = best.get(d.label, (0.0, 0))
                best[d.label] = (max(s, d.score), max(c, counts[d.label]))
        out.objects = sorted((ObjectTag(k, s, c) for k, (s, c) in best.items()), key=lambda o: -o.score)
        out.boxes = [Box(d.label, d.score, d.box) for d in dets[0]] if dets else []

    def _read(self, out: SegmentPerception, frames: np.ndarray) -> None:
        from avu.perception.ocr import dedupe

        model = self._models["read"]
        per_frame = []
        for i in pick_frames(len(frames), self.cfg.read_frames):
            thumb = _thumb(frames[i])
            if self._last_ocr is not None and float(np.abs(thumb - self._last_ocr[0]).mean()) < self.cfg.ocr_reuse_diff:
                per_frame.append(self._last_ocr[1])
                continue
            lines = model.read(frames[i])
            self._last_ocr = (thumb, lines)
            per_frame.append(lines)
        out.text = [TextLine(ln.text, ln.score) for ln in dedupe(per_frame)]

    # -- public ------------------------------------------------------------------------------
    def perceive(self, frames: np.ndarray | None, audio: np.ndarray | None, *, sr: int = 16000) -> SegmentPerception:
        """frames: uint8 RGB [T, H, W, 3] (the segment's frames, any size) or None; audio: float32
        mono in [-1, 1] at `sr`, or None. Nothing of an earlier call is reused."""
        self._last_ocr = None
        return self._perceive(frames, audio, sr=sr)

    def _perceive(self, frames: np.ndarray | None, audio: np.ndarray | None, *, sr: int = 16000) -> SegmentPerception:
        out = SegmentPerception()
        if audio is not None and "heard" in self._models:
            a = np.asarray(audio, dtype=np.float32)
            if a.ndim != 1:
                raise ValueError(f"audio must be mono [N], got shape {a.shape}")
            t = time.perf_counter()
            self._heard(out, a, int(sr))
            self.seconds["heard"] += time.perf_counter() - t
        if frames is not None and len(frames):
            f = np.asarray(frames)
            if f.ndim != 4 or f.shape[-1] != 3 or f.dtype != np.uint8:
                raise ValueError(f"frames must be uint8 RGB [T, H, W, 3], got {f.dtype} {f.shape}")
            for m, run in (("seen", self._seen), ("objects", self._objects), ("read", self._read)):
                if m in self._models:
                    t = time.perf_counter()
                    run(out, f)
                    self.seconds[m] += time.perf_counter() - t
        return out

    def perceive_batch(self, clips: Sequence[tuple[np.ndarray | None, np.ndarray | None]], *,
                       sr: int = 16000) -> list[SegmentPerception]:
        """`perceive` for each (frames, audio) pair, in order (the exports run one item at a time);
        consecutive segments of one video, so a static picture's text is read once (see the module
        docstring). Nothing of an earlier call is reused."""
        self._last_ocr = None
        return [self._perceive(frames, audio, sr=sr) for frames, audio in clips]


__all__ = ["MODALITIES", "Perceiver", "PerceiverConfig", "pick_frames"]
