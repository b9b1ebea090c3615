"""Movie-description retrieval (LSMDC protocol): the `lsmdc` training task.

Reads the official tab-separated files from `data.annotations` (LSMDC16_annos_training.csv,
LSMDC16_annos_val.csv, LSMDC16_challenge_1000_publictect.csv), finds each clip's video under
`data.videos` (movie-folder or flat layout), and decodes it once with the same readers as
ingest (`avu.media.read_frames` / `read_audio`): `num_frames` evenly spaced frames and
`audio_seconds` of log-mel (cut or zero-padded). Decoded tensors are cached under
`cfg.data_cache`. A clip that cannot be found or decoded is reported by name and left out, the
rest go on. Evaluation is the 1000-clip public test: every sentence queries the test clips
(text-to-video), and every clip queries the sentences (video-to-text).
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from avu.train.config import TrainConfig
from avu.train.tasks import ClipTask

SR = 16000
DEFAULTS = {"annotations": "", "videos": "", "num_frames": 8, "size": 112, "audio_seconds": 5.0, "n_mels": 64,
            "max_clips": 0, "splits": ["train", "val", "test"]}


class _ClipSplit:
    def __init__(self, frames, mels, captions, files):
        self.frames, self.mels, self.captions, self.files = frames, mels, captions, files

    def __len__(self) -> int:
        return len(self.captions)


def decode_clip(path: Path, clip, *, num_frames: int, size: int, audio_seconds: float, n_mels: int):
    """Frames uint8 [T, size, size, 3] and a log-mel [n_mels, F] of one LSMDC clip file."""
    from avu.media import NoAudioStream, log_mel, probe, read_audio, read_frames

    info = probe(path)
    dur = info.duration or clip.duration
    times = (np.arange(num_frames) + 0.5) * dur / num_frames
    frames = torch.as_tensor(read_frames(path, times=times, size=size).data)
    n = int(SR * audio_seconds)
    try:
        wave = read_audio(path, sr=SR, end=audio_seconds).waveform
    except NoAudioStream:
        wave = torch.zeros(n)
    wave = torch.nn.functional.pad(wave, (0, max(0, n - wave.shape[0])))[:n]
    return frames, log_mel(wave, sr=SR, n_mels=n_mels).half()


class LsmdcTask(ClipTask):
    """Batches and evaluation as avshapes (one sentence per clip); data from LSMDC files."""

    name = "lsmdc"

    def __init__(self, cfg: TrainConfig, progress=None):
        from avu.data.lsmdc import find_clip, load_lsmdc, lsmdc_split_files

        d = {**DEFAULTS, **cfg.data}
        unknown = set(d) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"lsmdc task: unknown data options {sorted(unknown)}")
        if not d["annotations"] or not d["videos"]:
            raise ValueError("lsmdc task: set data.annotations (folder of the official files) and data.videos")
        super().__init__(cfg)
        files = lsmdc_split_files(d["annotations"])
        key = hashlib.blake2b(json.dumps({**d, "files": {k: str(v) for k, v in files.items()}}, sort_keys=True)
                              .encode(), digest_size=6).hexdigest()
        cache = Path(cfg.data_cache) / f"lsmdc-{key}"
        self.splits: dict[str, _ClipSplit] = {}
        self.skipped: list[str] = []
        for split in d["splits"]:
            if split not in files:
                raise FileNotFoundError(f"{d['annotations']}: no LSMDC file for the {split} split")
            tensors, meta = cache / f"{split}.safetensors", cache / f"{split}.json"
            if not tensors.is_file():
                clips = load_lsmdc(files[split])
                if d["max_clips"]:
                    clips = clips[: int(d["max_clips"])]
                self._decode(split, clips, d, cache, find_clip, progress)
            t = load_file(str(tensors))
            m = json.loads(meta.read_text())
            self.splits[split] = _ClipSplit(t["frames"], t["mels"], m["captions"], m["files"])
            self.skipped += m["skipped"]
        if "val" not in self.splits and "train" in self.splits:
            self.splits["val"] = self.splits["train"]

    def _decode(self, split, clips, d, cache: Path, find_clip, progress) -> None:
        frames, mels, caps, paths, skipped = [], [], [], [], []
        for i, clip in enumerate(clips):
            try:
                path = find_clip(d["videos"], clip)
                f, m = decode_clip(path, clip, num_frames=d["num_frames"], size=d["size"],
                                   audio_seconds=d["audio_seconds"], n_mels=d["n_mels"])
            except Exception as e:  # one bad clip must not stop the split
                skipped.append(f"{clip.clip_id}: {e}")
                warnings.warn(f"lsmdc: skipping {clip.clip_id}: {e}")
                continue
            frames.append(f)
            mels.append(m)
            caps.append(clip.sentence)
            paths.append(str(path))
            if progress:
                progress(i + 1, len(clips))
        if not caps:
            raise RuntimeError(f"lsmdc: no clip of the {split} split could be read ({len(skipped)} skipped)")
        cache.mkdir(parents=True, exist_ok=True)
        save_file({"frames": torch.stack(frames).contiguous(), "mels": torch.stack(mels).contiguous()},
                  str(cache / f"{split}.safetensors"))
        (cache / f"{split}.json").write_text(json.dumps({"captions": caps, "files": paths, "skipped": skipped}))


__all__ = ["LsmdcTask", "decode_clip"]
