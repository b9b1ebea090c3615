"""Per-segment visual, audio and fused embeddings from a trained model checkpoint (`avu train`).

`encoders.visual / audio / fused` in the ingest config name checkpoint folders (often the same
one). `AVEmbedder(paths)` loads each distinct checkpoint once; `embed(clips)` returns, per clip,
the three vectors (None where the clip lacks the stream or no model is configured). The model's
embedding width may be smaller than the index columns (`JOINT_DIM`): vectors are zero-padded,
which leaves every dot product, hence every cosine similarity, unchanged. Queries are encoded by
the same checkpoint (`load_query_model`) and padded the same way.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

JOINT_DIM = 256  # width of the visual / audio / fused embedding columns
SR = 16000


def checkpoint_folder(ref: str) -> str:
    p = Path(str(ref)).expanduser()
    return str((p.parent if p.suffix == ".safetensors" else p).resolve())


@functools.lru_cache(maxsize=4)
def load_query_model(folder: str):
    """The model of a checkpoint folder, loaded once per process, in eval mode on the CPU."""
    from avu.models.registry import load_checkpoint

    model = load_checkpoint(folder)
    if model.cfg.embed_dim > JOINT_DIM:
        raise ValueError(f"{folder}: embed_dim {model.cfg.embed_dim} is wider than the index columns ({JOINT_DIM})")
    return model


def pad(z) -> np.ndarray:
    z = np.asarray(z, dtype=np.float32).reshape(-1)
    out = np.zeros(JOINT_DIM, dtype=np.float32)
    out[: len(z)] = z
    return out


def mel_of(model, wave: np.ndarray):
    import torch

    from avu.media.audio import log_mel

    return log_mel(torch.as_tensor(np.asarray(wave, dtype=np.float32)), sr=SR, n_mels=model.cfg.audio.n_mels)


def frames_of(model, frames: np.ndarray):
    from avu.models.model import prepare_frames

    return prepare_frames(np.asarray(frames), model.cfg.visual.frame_size)


class AVEmbedder:
    """See the module docstring; `refs` maps visual/audio/fused to a checkpoint (or None)."""

    def __init__(self, refs: dict[str, Any]):
        self.refs = {k: checkpoint_folder(v) for k, v in refs.items() if k in ("visual", "audio", "fused") and v}
        self.models = {k: load_query_model(v) for k, v in self.refs.items()}

    @property
    def versions(self) -> dict[str, str | None]:
        return {k: (f"{self.models[k].cfg.name}@{self.refs[k]}" if k in self.refs else None)
                for k in ("visual", "audio", "fused")}

    def embed(self, clips: list[dict]) -> list[dict[str, np.ndarray | None]]:
        """Per clip {"visual_emb", "audio_emb", "fused_emb"}: each distinct model prepares the
        clip and runs its towers once (`AVModel.stream_embeddings`), whichever columns it fills."""
        import torch

        by_model: dict[int, list[str]] = {}
        for key, model in self.models.items():
            by_model.setdefault(id(model), []).append(key)
        out = []
        with torch.no_grad():
            for clip in clips:
                row: dict[str, np.ndarray | None] = {"visual_emb": None, "audio_emb": None, "fused_emb": None}
                video, audio = clip.get("video"), clip.get("audio")
                has_v = video is not None and len(video) > 0
                has_a = audio is not None and len(audio) >= SR // 4
                for keys in by_model.values():
                    model = self.models[keys[0]]
                    want_v = has_v and model.visual is not None and ("visual" in keys or "fused" in keys)
                    want_a = has_a and model.audio is not None and ("audio" in keys or "fused" in keys)
                    v = frames_of(model, video)[None] if want_v else None
                    a = mel_of(model, audio)[None] if want_a else None
                    if v is None and a is None:
                        continue
                    got = model.stream_embeddings({"video": v, "audio": a})
                    for key in keys:
                        if key in got:
                            row[f"{key}_emb"] = pad(got[key][0])
                out.append(row)
        return out


__all__ = ["AVEmbedder", "JOINT_DIM", "load_query_model", "pad", "mel_of", "frames_of", "checkpoint_folder"]
