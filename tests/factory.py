"""Tiny real media for tests, written with PyAV: frames whose content encodes their index, so
tests can assert exactly which frame a reader returned and at what time."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from avu.ingest import IngestConfig
from avu.media._write import mux_audio, mux_frames  # mux_audio is also used by tests through here

FPS = 10
W, H = 64, 48
SR = 16000
TONE_HZ = 440.0
# Ingest with nothing but the pipeline's own work (no ASR, no diarization, no perception): for the
# tests of the pipeline's mechanics, whose generated clips hold no speech and nothing to perceive
LEAN = IngestConfig(asr="off", speakers="off", perception=None)


def frame_image(i: int, w: int = W, h: int = H) -> np.ndarray:
    """Frame i: red = 10*i (mod 256), green = 255 - red, blue = 200 on the left half."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (10 * i) % 256
    img[..., 1] = 255 - img[..., 0]
    img[:, : w // 2, 2] = 200
    return img


def frame_index(rgb: np.ndarray) -> int:
    """Which frame an (unresized, lossless) image is: red / 10."""
    return int(round(float(np.median(rgb[..., 0])) / 10))


def tone(n_samples: int, sr: int = SR, hz: float = TONE_HZ) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * hz * np.arange(n_samples) / sr)).astype(np.float32)


def make_video(path: Path, *, n: int = 20, fps: int = FPS, w: int = W, h: int = H, audio: bool = False,
               codec: str = "ffv1", pix_fmt: str = "bgr0", options: dict | None = None,
               rotation: int | None = None) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps, options=options or {})
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        if rotation is not None:
            s.set_display_rotation(rotation)
        a = None
        if audio:
            a = c.add_stream("flac", rate=SR)
            a.layout = "mono"
        mux_frames(c, s, (frame_image(i, w, h) for i in range(n)))
        if a is not None:
            mux_audio(c, a, tone(int(SR * n / fps)))
    return path


def make_audio(path: Path, *, seconds: float = 1.5, sr: int = SR, channels: int = 1) -> Path:
    """A WAV (pcm_s16le) tone; with 2 channels the right one is silent."""
    x = tone(int(sr * seconds), sr)
    data = np.stack([x] + [np.zeros_like(x)] * (channels - 1))
    pcm = (data * 32767).astype(np.int16)
    layout = {1: "mono", 2: "stereo"}[channels]
    with av.open(str(path), "w") as c:
        a = c.add_stream("pcm_s16le", rate=sr)
        a.layout = layout
        fr = av.AudioFrame.from_ndarray(pcm.T.reshape(1, -1).copy(), format="s16", layout=layout)
        fr.sample_rate, fr.pts = sr, 0
        for p in a.encode(fr):
            c.mux(p)
        for p in a.encode():
            c.mux(p)
    return path


def _square(i: int, k: int, w: int, h: int) -> np.ndarray:
    img = np.full((h, w, 3), (40 * k) % 256, np.uint8)
    x = (i * (k + 2)) % (w - 20)
    img[40:60, x:x + 20] = 255
    return img


def make_corpus(folder: Path, n: int, *, seconds: float = 6.0, fps: int = 10, w: int = 160, h: int = 120) -> list[Path]:
    """`n` distinct H.264 + AAC clips: a square moving at a per-clip speed over a per-clip colour,
    with a tone at a per-clip pitch. Distinct bytes, so distinct content ids."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        path = folder / f"clip_{k:02d}.mp4"
        with av.open(str(path), "w") as c:
            s = c.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
            a = c.add_stream("aac", rate=SR)
            a.layout = "mono"
            mux_frames(c, s, (_square(i, k, w, h) for i in range(int(seconds * fps))))
            mux_audio(c, a, tone(int(SR * seconds), hz=220.0 * (1 + k / 4)))
        paths.append(path)
    return paths
