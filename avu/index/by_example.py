"""Queries through the index's trained audio-visual model: text, an image, a sound, or a segment.

An index ingested with `encoders.visual/audio/fused` set to a checkpoint records it in each
video's `models_json` ("name@/abs/checkpoint"). `av_checkpoints(store)` reads them back (once
per query); `encode_text` / `encode_file` embed a query with that same model (padded to the
column width):

- text -> `model.encode_text` (matched against visual, audio or fused segment embeddings);
- an image file -> `model.encode_image` (against visual embeddings);
- an audio file -> `model.encode_audio` of its log-mel (against audio embeddings);
- a segment `(video, start, end)` -> the mean of its stored embeddings of that modality.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus"}
AV_MODALITIES = ("visual", "audio", "fused")


def av_checkpoints(store) -> dict[str, str]:
    """{modality: checkpoint folder} recorded by the done videos (one checkpoint per modality)."""
    found: dict[str, set[str]] = {}
    for row in store.video_rows("status = 'done'"):
        models = json.loads(row.get("models_json") or "{}")
        for m in AV_MODALITIES:
            if models.get(m):
                found.setdefault(m, set()).add(models[m].rsplit("@", 1)[-1])
    mixed = {m: v for m, v in found.items() if len(v) > 1}
    if mixed:
        raise ValueError(f"videos of this index were embedded by different checkpoints {mixed}; re-ingest them "
                         "with one")
    return {m: v.pop() for m, v in found.items()}


def _model(ckpts: dict[str, str], modality: str):
    from avu.ingest.checkpoint_embed import load_query_model

    if modality not in ckpts:
        raise ValueError(f"this index has no {modality} embeddings (no trained {modality} encoder was configured "
                         f"at ingest: set encoders.{modality} to a checkpoint from `avu train`)")
    if not Path(ckpts[modality]).is_dir():
        raise ValueError(f"the {modality} checkpoint this index was built with is gone: {ckpts[modality]}")
    return load_query_model(ckpts[modality])


def query_kind(query) -> str | None:
    """'image' or 'audio' for an existing file with such a suffix, else None."""
    if isinstance(query, (str, Path)):
        p = Path(str(query))
        if p.suffix.lower() in IMAGE_SUFFIXES | AUDIO_SUFFIXES and p.is_file():
            return "image" if p.suffix.lower() in IMAGE_SUFFIXES else "audio"
    return None


def encode_text(ckpts: dict[str, str], text: str, modalities) -> dict[str, np.ndarray]:
    """{modality: query vector}; modalities embedded by one checkpoint share one encoding."""
    import torch

    from avu.ingest.checkpoint_embed import pad

    by_ckpt: dict[str, np.ndarray] = {}
    out = {}
    with torch.no_grad():
        for m in modalities:
            model = _model(ckpts, m)
            if ckpts[m] not in by_ckpt:
                by_ckpt[ckpts[m]] = pad(model.encode_text([text])[0])
            out[m] = by_ckpt[ckpts[m]]
    return out


def encode_file(ckpts: dict[str, str], path: str | Path, kind: str) -> tuple[str, np.ndarray]:
    """(modality, query vector) of an image or audio file."""
    import torch

    from avu.ingest.checkpoint_embed import SR, frames_of, mel_of, pad

    path = Path(path)
    if kind == "image":
        from PIL import Image

        try:
            with Image.open(path) as im:
                rgb = np.asarray(im.convert("RGB"))
        except Exception as e:
            raise ValueError(f"{path}: not a readable image ({e})") from None
        model = _model(ckpts, "visual")
        with torch.no_grad():
            return "visual", pad(model.encode_image(frames_of(model, rgb[None]))[0])
    from avu.media import read_audio

    wave = read_audio(path, sr=SR).waveform.numpy()
    if len(wave) < SR // 4:
        raise ValueError(f"{path}: under 0.25 s of audio")
    model = _model(ckpts, "audio")
    with torch.no_grad():
        return "audio", pad(model.encode_audio(mel_of(model, wave)[None])[0])


def segment_vector(store, video_id: str, start: float, end: float, modality: str) -> np.ndarray:
    col = f"{modality}_emb"
    rows = [r for r in store.segment_rows(video_id, ["start", "end", col])
            if r["start"] < end and r["end"] > start and r[col] is not None]
    if not rows:
        raise ValueError(f"no {modality} embedding is stored for {video_id} {start}-{end}s")
    v = np.mean([np.asarray(r[col], dtype=np.float32) for r in rows], axis=0)
    return v / max(float(np.linalg.norm(v)), 1e-12)


__all__ = ["av_checkpoints", "encode_text", "encode_file", "segment_vector", "query_kind", "AV_MODALITIES"]
