"""`Featurizer`: a batch of decoded clips -> segment rows for the index.

What is stored is what is real: MiniLM embeddings of the segment's subtitle/ASR text; measured
signals (audio level, visual motion) and a small key-frame JPEG; what the pretrained perception
models see, hear and read (`avu.ingest.perceive`: tags and MiniLM embeddings, null where a model
is missing); visual, audio and fused embeddings only when the config names a trained encoder
(null otherwise, never an untrained network's output).
"""
from __future__ import annotations

import io
import json
import math

import numpy as np
from PIL import Image

from avu.ingest.checkpoint_embed import JOINT_DIM  # noqa: F401  (width of the visual / audio / fused columns)
from avu.ingest.config import IngestConfig
from avu.ingest.perceive import PerceptionStep

CONTEXT_WEIGHT = 0.3  # a cue's embedding adds this much of each neighbour's (measured on the manifesto)
THUMB_WIDTH = 160  # key-frame JPEG width in pixels (height keeps the video's aspect)


def keyframe_jpeg(frame: np.ndarray, aspect: float, *, width: int = THUMB_WIDTH, quality: int = 80) -> bytes:
    """A small JPEG of one RGB frame, restored to the video's display aspect ratio."""
    height = max(2, int(round(width / aspect)))
    img = Image.fromarray(np.ascontiguousarray(frame)).resize((width, height), Image.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def audio_level_db(wave: np.ndarray) -> float | None:
    """RMS level in dBFS (None for an empty window)."""
    if wave is None or wave.size == 0:
        return None
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
    return max(-120.0, 20 * math.log10(rms + 1e-12))


def motion(frames: np.ndarray, *, stride: int = 4) -> float | None:
    """Mean absolute difference between consecutive sampled frames (0-255; None if < 2 frames),
    on every `stride`-th pixel each way (a 56x56 grid of a 224 px frame: 16x cheaper, same signal)."""
    if frames is None or len(frames) < 2:
        return None
    f = frames[:, ::stride, ::stride].astype(np.int16)
    return float(np.abs(f[1:] - f[:-1]).mean())


class Featurizer:
    """Loads the configured encoders and perception models once; `rows(...)` turns clips into
    segment rows. `threads`: CPU threads each perception model may use."""

    def __init__(self, cfg: IngestConfig, *, threads: int = 1):
        self.cfg = cfg
        self.text = None
        self.perception = PerceptionStep(cfg, threads=threads)
        if cfg.encoders.get("text") == "minilm" or self.perception.available:
            from avu.models.text import load_minilm

            self.text = load_minilm()  # perception embeds its labels and text with it too
        self.av = None
        if any(cfg.encoders.get(k) for k in ("visual", "audio", "fused")):
            from avu.ingest.checkpoint_embed import AVEmbedder

            self.av = AVEmbedder(cfg.encoders)
        self.events = None
        if cfg.encoders.get("events") == "esc10":
            from avu.events.detect import EventModel

            self.events = EventModel.load()

    @property
    def versions(self) -> dict:
        events = None
        if self.events is not None:
            cv = self.events.meta.get("cross_validation", {}).get("mean_accuracy")
            events = f"esc10 (avu/models/weights/esc10.safetensors, 5-fold CV {cv})"
        av = self.av.versions if self.av else {"visual": None, "audio": None, "fused": None}
        text = self.text.version if self.text and self.cfg.encoders.get("text") == "minilm" else None
        return {"text": text, **av, "events": events, **self.perception.versions}

    def event_scores(self, clips: list[dict]) -> list[str | None]:
        """Per clip, the ESC-10 class probabilities as JSON (None without enough audio)."""
        out: list[str | None] = [None] * len(clips)
        if self.events is None:
            return out
        idx = [i for i, c in enumerate(clips) if c["audio"] is not None and len(c["audio"]) >= self.events.sr // 2]
        if not idx:
            return out
        n = max(len(clips[i]["audio"]) for i in idx)
        batch = np.zeros((len(idx), n), dtype=np.float32)  # a short last window is zero-padded
        for row, i in enumerate(idx):
            batch[row, :len(clips[i]["audio"])] = clips[i]["audio"]
        probs = self.events.scores(batch).numpy()
        for row, i in enumerate(idx):
            out[i] = json.dumps({lab: round(float(p), 4) for lab, p in zip(self.events.labels, probs[row])})
        return out

    def rows(self, video_id: str, clips: list[dict], texts: list[str | None], *, aspect: float,
             seg_offset: int, text_source: str | None, language: str | None) -> list[dict]:
        emb = [None] * len(clips)
        if self.text is not None and self.cfg.encoders.get("text") == "minilm":
            idx = [i for i, t in enumerate(texts) if t]
            for i, e in zip(idx, self.text.encode_text([texts[i] for i in idx])):
                emb[i] = e
        events = self.event_scores(clips)
        av = self.av.embed(clips) if self.av else [{}] * len(clips)
        perceived = self.perception.columns(clips, self.text)
        out = []
        for i, (clip, text) in enumerate(zip(clips, texts)):
            video = None if clip["video"] is None else np.asarray(clip["video"])
            audio = None if clip["audio"] is None else np.asarray(clip["audio"])
            thumb = keyframe_jpeg(video[len(video) // 2], aspect) if video is not None and len(video) else None
            out.append({
                "video_id": video_id, "seg": seg_offset + i,
                "start": float(clip["start"]), "end": float(clip["end"]),
                "text": text, "text_source": text_source if text else None,
                "language": language if text else None,
                "speech_emb": emb[i], "visual_emb": av[i].get("visual_emb"), "audio_emb": av[i].get("audio_emb"),
                "fused_emb": av[i].get("fused_emb"),
                "audio_db": audio_level_db(audio) if audio is not None else None,
                "motion": motion(video), "keyframe_jpeg": thumb, "event_scores": events[i],
                "config_hash": self.cfg.hash, **perceived[i],
            })
        return out

    def cue_rows(self, video_id: str, cues: list, *, text_source: str | None,
                 language: str | None) -> list[dict]:
        """One row per cue; its embedding mixes in a little of the neighbouring cues' meaning."""
        emb = [None] * len(cues)
        if self.text is not None and self.cfg.encoders.get("text") == "minilm" and cues:
            e = self.text.encode_text([c.text for c in cues])
            ctx = e.copy()
            ctx[1:] += CONTEXT_WEIGHT * e[:-1]
            ctx[:-1] += CONTEXT_WEIGHT * e[1:]
            emb = list(ctx / np.linalg.norm(ctx, axis=1, keepdims=True))
        return [{"video_id": video_id, "idx": i, "start": c.start, "end": c.end, "text": c.text,
                 "text_source": text_source, "language": language, "emb": emb[i],
                 "speaker": getattr(c, "speaker", None),  # a SpokenCue names who says it
                 "config_hash": self.cfg.hash} for i, c in enumerate(cues)]
