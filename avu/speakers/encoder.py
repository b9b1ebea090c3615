"""The voice encoder: 256-d GE2E speaker embeddings from Resemblyzer's pretrained weights.

Resemblyzer (Apache-2.0) ships `pretrained.pt` inside its wheel: a 3-layer LSTM (256 units) over
40-band mel power spectrograms (25 ms windows, 10 ms hop, 16 kHz) whose last hidden state, through
a linear layer and a ReLU, is L2-normalised. The network is rebuilt here and the weights are read
with `torch.load(weights_only=True)`, so loading runs no pickled code; the model is loaded once per
process (`load_encoder`). `embed_windows` embeds many equal-length windows of one mel spectrogram in
batches (diarization); `embed_voice` gives one embedding for a whole recording (a search query).
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn

from avu.speakers._types import EMBEDDING_DIM

__all__ = ["FRAME_S", "SAMPLE_RATE", "embed_voice", "embed_windows", "load_encoder", "mel_frames",
           "weights_path"]

SAMPLE_RATE = 16000
FRAME_S = 0.01  # seconds per mel frame
_N_FFT, _HOP, _N_MELS = 400, 160, 40
_PARTIAL = 160  # frames per partial utterance in `embed_voice` (1.6 s, as GE2E was trained)
_BATCH = 64  # windows per LSTM batch


class SpeakerModelError(RuntimeError):
    """The voice encoder's weights cannot be found or read."""


class _GE2E(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(_N_MELS, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, EMBEDDING_DIM)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        e = torch.relu(self.linear(hidden[-1]))
        return e / e.norm(dim=1, keepdim=True).clamp_min(1e-9)


def weights_path() -> Path:
    """Resemblyzer's `pretrained.pt`, found without importing the package (it imports webrtcvad)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise SpeakerModelError("speaker diarization needs the resemblyzer package (pip install resemblyzer)")
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise SpeakerModelError(f"{path}: resemblyzer's voice encoder weights are missing")
    return path


@functools.lru_cache(maxsize=1)
def load_encoder() -> _GE2E:
    """The GE2E voice encoder on the CPU, in eval mode (loaded once per process)."""
    path = weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
    model = _GE2E()
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or set(unexpected) - {"similarity_weight", "similarity_bias"}:
        raise SpeakerModelError(f"{path}: unexpected voice encoder weights (missing {missing}, "
                                f"unexpected {unexpected})")
    return model.eval()


def mel_frames(wave: np.ndarray) -> np.ndarray:
    """Mel power spectrogram of 16 kHz mono audio, [frames, 40], frame i centred at i * 10 ms."""
    import librosa

    wave = np.asarray(wave, dtype=np.float32)
    if wave.size == 0:
        return np.zeros((0, _N_MELS), dtype=np.float32)
    mel = librosa.feature.melspectrogram(y=wave, sr=SAMPLE_RATE, n_fft=_N_FFT, hop_length=_HOP,
                                         n_mels=_N_MELS)
    return np.ascontiguousarray(mel.T, dtype=np.float32)


def embed_windows(mel: np.ndarray, starts: np.ndarray, length: int, *, threads: int | None = 1) -> np.ndarray:
    """Unit embeddings [n, 256] of the mel windows [s, s + length) for each start frame s.

    Windows running past the end are zero-padded (silence in a power spectrogram). `threads`: torch
    threads while the LSTM runs (restored after; None keeps the process setting). One is the default:
    on the shared 2-core machine two threads made the manifesto 5x slower in wall time (41 s vs 7.7 s).
    """
    starts = np.asarray(starts, dtype=np.int64)
    if starts.size == 0:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    need = int(starts.max()) + length
    if need > len(mel):
        mel = np.concatenate([mel, np.zeros((need - len(mel), mel.shape[1]), dtype=np.float32)])
    idx = starts[:, None] + np.arange(length)[None, :]
    model = load_encoder()
    out = []
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for i in range(0, len(starts), _BATCH):
                out.append(model(torch.from_numpy(mel[idx[i:i + _BATCH]])).numpy())
    finally:
        torch.set_num_threads(before)
    return np.concatenate(out).astype(np.float32)


def embed_voice(wave: np.ndarray) -> np.ndarray:
    """One unit 256-d embedding for a recording of one voice: the mean of its 1.6 s partials
    (half overlapping), re-normalised. Pass speech only (see `avu.speech.vad`)."""
    mel = mel_frames(wave)
    if len(mel) == 0:
        raise ValueError("embed_voice needs a non-empty waveform")
    step = _PARTIAL // 2
    starts = np.arange(0, max(1, len(mel) - _PARTIAL + step), step)
    e = embed_windows(mel, starts, min(_PARTIAL, len(mel))).mean(0)
    return (e / np.linalg.norm(e)).astype(np.float32)
