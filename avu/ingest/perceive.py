"""What is seen, heard and read in each segment, as index columns (`PerceptionStep`).

Runs inside the embed actors through `Featurizer`: the pretrained perception models
(`avu.perception.Perceiver`: YAMNet, MobileNetV2, YOLOX-Nano, OCR) are loaded once per actor and
applied to a batch of decoded clips at a time. Per segment it stores:

- `heard_json` (AudioSet tags), `seen_json` (ImageNet tags), `objects_json` (COCO objects with
  count), `boxes_json` (the key frame's detections) and `read_json` / `read_text` (on-screen
  text lines): JSON lists, best first; `[]` when the model ran and found nothing, null when the
  modality was not perceived (model missing or turned off, or no audio / no picture);
- `seen_emb`, `heard_emb`, `read_emb`: 384-d MiniLM embeddings of the labels and text
  (`avu.perception.modality_embeddings`), in the same space as a text query's MiniLM vector.

A missing model file is never replaced by anything: that modality stays null, and `missing`
says which file is missing and how to install it (the ingest prints it once).
"""
from __future__ import annotations

import json

import numpy as np

from avu.ingest.config import IngestConfig

EMBEDDED = ("seen", "heard", "read")  # modalities with a MiniLM embedding column
_COLUMNS = ("heard_json", "seen_json", "objects_json", "boxes_json", "read_json", "read_text",
            "seen_emb", "heard_emb", "read_emb")


def _r(x: float) -> float:
    return round(float(x), 4)


class PerceptionStep:
    """The perception models of one embed actor (none when the config turns perception off)."""

    def __init__(self, cfg: IngestConfig, *, threads: int = 1):
        self.cfg = cfg.perception
        self.decoded_fps = cfg.fps
        self.perceiver = None
        self.missing: dict[str, str] = {}
        if not self.cfg.enable:
            return
        try:
            from avu.perception import Perceiver
        except ImportError as e:  # the runtimes are not installed: no modality at all, said once
            self.missing = {m: f"perception runtime unavailable ({e}); install avu's dependencies "
                               "(pip install -e .)" for m in self.cfg.enable}
            return
        self.perceiver = Perceiver(models_dir=self.cfg.models_dir, threads=threads, enable=self.cfg.enable)
        self.missing = dict(self.perceiver.missing)

    @property
    def available(self) -> tuple[str, ...]:
        return tuple(self.perceiver.available) if self.perceiver is not None else ()

    @property
    def versions(self) -> dict:
        """Model versions (sha256 prefixes), the modalities perceived and, per missing modality,
        why (recorded in each video's `models_json`; search reads `perceived`)."""
        return {"perception": dict(self.perceiver.versions) if self.perceiver is not None else None,
                "perceived": list(self.available), "perception_missing": dict(self.missing) or None}

    def _frames(self, video) -> np.ndarray | None:
        if video is None or len(video) == 0:
            return None
        if self.cfg.fps is None:
            return np.asarray(video)
        step = max(1, int(round(self.decoded_fps / self.cfg.fps)))
        return np.asarray(video)[::step]

    def columns(self, clips: list[dict], encoder) -> list[dict]:
        """Per clip, the perception columns (all null without a perceiver)."""
        empty = {c: None for c in _COLUMNS}
        if self.perceiver is None or not self.available or not clips:
            return [dict(empty) for _ in clips]
        from avu.perception import modality_embeddings

        inputs = [(self._frames(c["video"]), None if c["audio"] is None else np.asarray(c["audio"], np.float32))
                  for c in clips]
        found = self.perceiver.perceive_batch(inputs)
        out = []
        for (frames, audio), p in zip(inputs, found):
            heard = "heard" in self.available and audio is not None and len(audio) > 0
            seen = "seen" in self.available and frames is not None
            objects = "objects" in self.available and frames is not None
            read = "read" in self.available and frames is not None
            emb = modality_embeddings(p, encoder)
            out.append({
                "heard_json": json.dumps([[t.label, _r(t.score)] for t in p.heard]) if heard else None,
                "seen_json": json.dumps([[t.label, _r(t.score)] for t in p.seen]) if seen else None,
                "objects_json": json.dumps([[o.label, _r(o.score), int(o.count)] for o in p.objects])
                if objects else None,
                "boxes_json": json.dumps([[b.label, _r(b.score), [_r(v) for v in b.box]] for b in p.boxes])
                if objects else None,
                "read_json": json.dumps([[t.text, _r(t.score)] for t in p.text]) if read else None,
                "read_text": "\n".join(t.text for t in p.text) if read and p.text else None,
                "seen_emb": emb.get("seen") if (seen or objects) else None,
                "heard_emb": emb.get("heard") if heard else None,
                "read_emb": emb.get("read") if read else None,
            })
        return out


__all__ = ["EMBEDDED", "PerceptionStep"]
