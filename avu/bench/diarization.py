"""`avu bench diarization`: how fast speaker diarization runs on the CPU, stage by stage.

Diarizes the shared manifesto (88 s, one reader), the sonnet (53 s) and two built test
conversations (`avu.eval.diarization`), once cold (the voice encoder and Silero loaded inside the
timing) and then `repeats` times warm, and reports the best warm time as `x_realtime` (seconds of
audio per second of wall time; target >= 20). The machine is shared, so it also reports the
process's CPU time (`x_realtime_cpu`: audio seconds per CPU second, what one dedicated core would
give at this thread count), the load average while it ran and the encoder's thread count, and splits a
warm run into its stages (voice activity, mel spectrogram, voice encoder, clustering and turns).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from avu._paths import shared_data
from avu.bench.decode import machine
from avu.media import Audio, read_audio
from avu.speakers import DiarizeConfig, diarize_audio
from avu.speakers.diarizer import window_plan
from avu.speakers.encoder import FRAME_S, embed_windows, load_encoder, mel_frames
from avu.speech.vad import speech_regions

__all__ = ["TARGET_X_REALTIME", "run"]

TARGET_X_REALTIME = 20.0
_FILES = {"manifesto": "video/manifesto.mp4", "sonnet": "speech/sonnet/sonnet001.mp3"}


def _stages(wave: np.ndarray, config: DiarizeConfig) -> dict:
    """Wall seconds of each stage of one diarization of `wave` (16 kHz mono)."""
    out = {}
    t = time.perf_counter()
    regions = speech_regions(wave, config=config.vad)
    out["vad_s"] = time.perf_counter() - t
    t = time.perf_counter()
    mel = mel_frames(wave)
    out["mel_s"] = time.perf_counter() - t
    n = len(mel)
    fr = [(int(round(a / FRAME_S)), min(n, int(round(b / FRAME_S)))) for a, b in regions]
    w, h = int(round(config.window / FRAME_S)), int(round(config.hop / FRAME_S))
    starts, _ = window_plan([r for r in fr if r[1] > r[0]], n, w, h)
    t = time.perf_counter()
    embed_windows(mel, starts, w, threads=config.threads)
    out["encoder_s"] = time.perf_counter() - t
    out["windows"] = int(len(starts))
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def run(shared: str | os.PathLike | None = None, *, repeats: int = 2,
        config: DiarizeConfig | None = None) -> dict:
    """Time diarization of the shared speech; see the module docstring for each figure."""
    from avu.eval.diarization import build_conversations

    cfg = config or DiarizeConfig()
    root = Path(shared) if shared else shared_data()
    waves = {name: read_audio(root / rel, sr=16000).waveform for name, rel in _FILES.items()}
    for c in build_conversations("test", 2, shared=root):
        waves[c.name] = torch.from_numpy(c.wave)
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    load_encoder()
    first = diarize_audio(Audio(waveform=waves["manifesto"], sr=16000), config=cfg)
    cold = time.perf_counter() - t
    files, audio_total, wall_total, cpu_total = {}, 0.0, 0.0, 0.0
    for name, wave in waves.items():
        audio = Audio(waveform=wave, sr=16000)
        best_wall, best_cpu = float("inf"), float("inf")
        for _ in range(max(1, repeats)):
            w0, c0 = time.perf_counter(), time.process_time()
            d = diarize_audio(audio, config=cfg)
            best_wall = min(best_wall, time.perf_counter() - w0)
            best_cpu = min(best_cpu, time.process_time() - c0)
        files[name] = {"audio_s": round(audio.duration, 2), "wall_s": round(best_wall, 3),
                       "cpu_s": round(best_cpu, 3), "x_realtime": round(audio.duration / best_wall, 1),
                       "speakers": len(d.speakers), "speech_s": round(d.speech, 2),
                       "stages": _stages(wave.numpy(), cfg)}
        audio_total += audio.duration
        wall_total += best_wall
        cpu_total += best_cpu
    x = audio_total / wall_total
    return {"machine": machine(), "encoder_threads": cfg.threads or torch.get_num_threads(),
            "load_average_start_end": [round(load0, 2), round(os.getloadavg()[0], 2)],
            "cold_s": round(cold, 3), "cold_speakers_manifesto": len(first.speakers), "files": files,
            "audio_s": round(audio_total, 2), "wall_s": round(wall_total, 3),
            "x_realtime": round(x, 1), "x_realtime_cpu": round(audio_total / cpu_total, 1),
            "target_x_realtime": TARGET_X_REALTIME, "target_met": x >= TARGET_X_REALTIME,
            "config": {"window": cfg.window, "hop": cfg.hop}}
