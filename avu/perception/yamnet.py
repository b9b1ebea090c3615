"""YAMNet (AudioSet, 521 sound classes) on 16 kHz mono audio, with its 1024-d embedding.

The TFLite export takes one 0.975 s patch (15600 samples) and returns the 521 class scores
(sigmoid, independent) and, as the intermediate tensor
`yamnet_frames/global_average_pooling2d/Mean`, the 1024-d embedding, read with
`experimental_preserve_all_tensors=True`. Patches follow YAMNet's own framing: a hop of 0.48 s
(`patch_hop_seconds` in YAMNet's params), the last patch zero-padded as YAMNet itself pads: a 2 s
segment gives 4 patches, a 5 s clip 10. The export has a fixed batch of one (XNNPACK cannot
reshape it), so a batch runs patch by patch in one interpreter. Audio shorter than one patch is
zero-padded (YAMNet's own behaviour); below `MIN_SECONDS` there is nothing to hear.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from avu.perception._tflite import open_interpreter
from avu.perception.labels import yamnet_labels

SR = 16000  # YAMNet's sample rate
PATCH = 15600  # samples per patch (0.975 s)
HOP = 7680  # samples between patch starts (0.48 s)
MIN_SECONDS = 0.25  # shorter audio yields no patch
EMBED_TENSOR = "yamnet_frames/global_average_pooling2d/Mean"


def resample(wave: np.ndarray, sr: int, target: int = SR) -> np.ndarray:
    """Linear-interpolation resampling (only for callers that do not decode at 16 kHz already)."""
    if sr == target or wave.size == 0:
        return wave
    n = int(round(wave.size * target / sr))
    return np.interp(np.arange(n) * (sr / target), np.arange(wave.size), wave).astype(np.float32)


def patches(wave: np.ndarray, *, hop: int = HOP) -> np.ndarray:
    """[P, 15600] float32 patches of a mono 16 kHz waveform (the last one zero-padded); [0, 15600]
    when the audio is shorter than MIN_SECONDS."""
    w = np.asarray(wave, dtype=np.float32).reshape(-1)
    if w.size < MIN_SECONDS * SR:
        return np.zeros((0, PATCH), dtype=np.float32)
    n = 1 + max(0, int(np.ceil((w.size - PATCH) / hop)))
    out = np.zeros((n, PATCH), dtype=np.float32)
    for i in range(n):
        chunk = w[i * hop:i * hop + PATCH]
        out[i, :chunk.size] = chunk
    return out


class YAMNet:
    """`run(patches) -> (scores [P, 521], embeddings [P, 1024])`; `labels` are the class names."""

    name = "yamnet"

    def __init__(self, model: Path, class_map: Path, *, threads: int = 1):
        self.labels = yamnet_labels(class_map)
        self._it = open_interpreter(model, threads=threads)
        self._in = self._it.get_input_details()[0]["index"]
        outs = {o["name"]: o["index"] for o in self._it.get_output_details()}
        self._scores = outs.get("Identity", self._it.get_output_details()[0]["index"])
        emb = [t["index"] for t in self._it.get_tensor_details() if t["name"] == EMBED_TENSOR]
        if not emb:
            raise ValueError(f"{model}: no tensor {EMBED_TENSOR} (not the YAMNet export this adapter reads)")
        self._emb = emb[0]

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(batch, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != PATCH:
            raise ValueError(f"YAMNet takes [P, {PATCH}] patches, got {x.shape}")
        scores = np.zeros((len(x), len(self.labels)), dtype=np.float32)
        emb = np.zeros((len(x), 1024), dtype=np.float32)
        for i, p in enumerate(x):
            self._it.set_tensor(self._in, p[None])
            self._it.invoke()
            scores[i] = self._it.get_tensor(self._scores)[0]
            emb[i] = self._it.get_tensor(self._emb)[0]
        return scores, emb

    def run_wave(self, wave: np.ndarray, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
        """Scores and embeddings of every patch of a waveform ([0, ...] when too short)."""
        return self.run(patches(resample(np.asarray(wave, dtype=np.float32).reshape(-1), sr)))


__all__ = ["HOP", "PATCH", "SR", "YAMNet", "patches", "resample"]
