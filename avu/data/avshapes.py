"""avshapes: a controlled audio-visual-text benchmark that needs both modalities, with real sound.

Each item is a short video rendered procedurally (a coloured shape moving across a noisy
background) whose soundtrack is a real ESC-10 clip, and a caption naming both ("a red circle
moves left while a dog barks"). Videos are written as H.264/AAC MP4 files and read back through
`avu.media` (the same decoding as ingest), then cached as tensors.

Splits are built so that neither stream alone can solve the test:
- test sounds come from an ESC-10 fold never used in training (`test_fold`), validation sounds
  from another (`val_fold`), training sounds from the rest;
- 16 of the 80 shape x colour x motion combinations never appear in training; the test set is
  those 16 combinations, each paired with 5 different sound classes (80 videos, every test clip
  used once). A visual-only model can at best pick 1 of the 5 videos that share its picture,
  an audio-only model 1 of the 8 that share its sound class; only a fused model can be exact.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from avu._paths import shared_data

SHAPES = ("circle", "square", "triangle", "cross")
COLOURS = {"red": (220, 40, 40), "green": (40, 190, 60), "blue": (60, 90, 240), "yellow": (230, 210, 40),
           "white": (235, 235, 235)}
MOTIONS = ("left", "right", "up", "down")
SOUNDS = {"dog": "a dog barks", "rooster": "a rooster crows", "rain": "rain falls", "sea_waves": "waves crash",
          "crackling_fire": "a fire crackles", "crying_baby": "a baby cries", "sneezing": "someone sneezes",
          "clock_tick": "a clock ticks", "helicopter": "a helicopter flies over", "chainsaw": "a chainsaw roars"}
TEMPLATES = ("a {colour} {shape} moves {motion} while {sound}", "{sound} as a {colour} {shape} moves {motion}",
             "a {colour} {shape} moving {motion}; {sound}")
SR, CLIP_SECONDS = 16000, 5.0
COMBOS = [(s, c, m) for s in SHAPES for c in COLOURS for m in MOTIONS]
HELD_OUT = [k for k in COMBOS if (SHAPES.index(k[0]) + list(COLOURS).index(k[1]) + MOTIONS.index(k[2])) % 5 == 0]


@dataclass(frozen=True)
class AvShapesConfig:
    """How the benchmark is built (part of the cache key)."""

    esc10_dir: str = ""  # ESC-10 folder (meta.csv + audio/); "" = $AVU_SHARED_DATA/esc10 or ../shared/data/esc10
    train_folds: tuple[int, ...] = (1, 2, 3)  # ESC-10 folds whose clips make training videos
    val_fold: int = 4  # fold of the validation videos (seen combinations)
    test_fold: int = 5  # fold of the test videos (held-out combinations); never used in training
    train_videos: int = 1440  # training videos (clips reused with new pictures and captions)
    size: int = 64  # frame side in pixels
    fps: int = 8  # frame rate of the rendered video
    num_frames: int = 8  # frames sampled per video for the model
    n_mels: int = 64  # log-mel bins (10 ms hop)
    seed: int = 0  # rendering, pairing and caption seed
    limit: int = 0  # keep only the first N videos per split (0 = all; tests use a few)

    def key(self) -> str:
        return hashlib.blake2b(json.dumps(asdict(self), sort_keys=True).encode(), digest_size=6).hexdigest()


@dataclass
class AvShapesSplit:
    """One split, decoded: frames uint8 [N, T, S, S, 3], log-mels [N, M, F], captions, labels."""

    frames: torch.Tensor
    mels: torch.Tensor
    captions: list[str]
    sounds: list[str]
    combos: list[tuple[str, str, str]]
    files: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.captions)


def render(shape: str, colour: str, motion: str, *, size: int, n: int, rng: random.Random) -> np.ndarray:
    """Frames [n, size, size, 3] uint8 of `shape` moving `motion` across a noisy background."""
    r = size * rng.uniform(0.11, 0.16)
    lo, hi = r + 2, size - r - 2
    cross = rng.uniform(lo, hi)
    start, end = (hi, lo) if motion in ("left", "up") else (lo, hi)
    bg = np.array([rng.randint(20, 70)] * 3, np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    nprng = np.random.default_rng(rng.randint(0, 2**31))
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        p = start + (end - start) * i / max(1, n - 1)
        cx, cy = (p, cross) if motion in ("left", "right") else (cross, p)
        dx, dy = xx - cx, yy - cy
        if shape == "circle":
            m = dx * dx + dy * dy <= r * r
        elif shape == "square":
            m = (abs(dx) <= r * 0.85) & (abs(dy) <= r * 0.85)
        elif shape == "triangle":
            m = (dy <= r * 0.8) & (dy >= -r) & (abs(dx) <= (dy + r) * 0.6)
        else:
            m = ((abs(dx) <= r) & (abs(dy) <= r * 0.3)) | ((abs(dy) <= r) & (abs(dx) <= r * 0.3))
        img = bg + nprng.normal(0, 8, (size, size, 1)).astype(np.float32)
        img = np.where(m[..., None], np.array(COLOURS[colour], np.float32), img)
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def write_video(path: Path, frames: np.ndarray, wave: np.ndarray, fps: int) -> None:
    """H.264 (yuv420p) + AAC mono at 16 kHz in an MP4."""
    import av

    from avu.media._write import mux_audio, mux_frames

    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as c:
        v = c.add_stream("libx264", rate=fps, options={"crf": "18", "preset": "veryfast"})
        v.width, v.height, v.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        a = c.add_stream("aac", rate=SR)
        a.layout = "mono"
        mux_frames(c, v, frames)
        mux_audio(c, a, wave, SR)
    tmp.replace(path)


def plan(cfg: AvShapesConfig, clips: dict[int, list[tuple[str, str]]]) -> dict[str, list[dict]]:
    """Items per split: {"combo", "sound", "clip", "caption"}; `clips[fold]` = [(file, category)]."""
    rng = random.Random(cfg.seed)
    seen = [k for k in COMBOS if k not in HELD_OUT]
    caption = lambda k, snd: rng.choice(TEMPLATES).format(shape=k[0], colour=k[1], motion=k[2], sound=SOUNDS[snd])
    train_clips = [c for f in cfg.train_folds for c in clips[f]]
    train = []
    for i in range(cfg.train_videos):
        file, snd = train_clips[i % len(train_clips)]
        k = rng.choice(seen)
        train.append({"combo": k, "sound": snd, "clip": file, "caption": caption(k, snd)})
    val = []
    for file, snd in clips[cfg.val_fold]:
        k = rng.choice(seen)
        val.append({"combo": k, "sound": snd, "clip": file, "caption": caption(k, snd)})
    by_sound: dict[str, list[str]] = {}
    for file, snd in clips[cfg.test_fold]:
        by_sound.setdefault(snd, []).append(file)
    sounds = sorted(by_sound)
    test = []
    for j, k in enumerate(HELD_OUT):  # combinations 2i and 2i+1 get complementary halves of the 10 classes,
        start = j // 2 + 5 * (j % 2)  # so each combination has 5 distinct classes and each class is used 8 times
        for s in range(5):
            snd = sounds[(start + s) % len(sounds)]
            if not by_sound[snd]:
                continue
            file = by_sound[snd].pop()
            test.append({"combo": k, "sound": snd, "clip": file, "caption": caption(k, snd)})
    out = {"train": train, "val": val, "test": test}
    if cfg.limit:
        out = {k: v[: cfg.limit] for k, v in out.items()}
    return out


def esc10_dir(cfg: AvShapesConfig) -> Path:
    if cfg.esc10_dir:
        return Path(cfg.esc10_dir).expanduser()
    shared = shared_data()
    return Path(shared) / "esc10"


def build(cfg: AvShapesConfig, root: str | Path = "runs/cache", *,
          progress: Callable[[int, int], None] | None = None) -> dict[str, AvShapesSplit]:
    """Render, encode, decode and cache the benchmark under `root`; a second call loads the cache."""
    from avu.data.esc10 import clip_name, read_meta
    from avu.media.audio import log_mel, read_audio
    from avu.media.frames import read_frames

    src = esc10_dir(cfg)
    final = Path(root) / f"avshapes-{cfg.key()}"
    if (final / "avshapes.json").is_file():
        return _load(final)
    cache = final.with_name(f"{final.name}.tmp-{os.getpid()}")  # built aside, then renamed in one step
    shutil.rmtree(cache, ignore_errors=True)
    clips: dict[int, list[tuple[str, str]]] = {}
    for r in read_meta(src):
        clips.setdefault(int(r["fold"]), []).append((clip_name(r), r["category"]))
    for f in (*cfg.train_folds, cfg.val_fold, cfg.test_fold):
        if f not in clips:
            raise RuntimeError(f"{src / 'meta.csv'}: fold {f} has no ESC-10 clips")
    if set(cfg.train_folds) & {cfg.val_fold, cfg.test_fold} or cfg.val_fold == cfg.test_fold:
        raise ValueError(f"train folds {cfg.train_folds}, val fold {cfg.val_fold} and test fold {cfg.test_fold} "
                         "overlap")
    items = plan(cfg, clips)
    n_total, n_done = sum(len(v) for v in items.values()), 0
    rng = random.Random(cfg.seed + 1)
    n_samples = int(SR * CLIP_SECONDS)
    times = (np.arange(cfg.num_frames) + 0.5) * CLIP_SECONDS / cfg.num_frames
    tensors, meta = {}, {}
    for split, rows in items.items():
        (cache / "videos" / split).mkdir(parents=True, exist_ok=True)
        frames, mels = [], []
        for i, it in enumerate(rows):
            wave = read_audio(src / "audio" / it["clip"], sr=SR).waveform.numpy()
            wave = np.pad(wave, (0, max(0, n_samples - len(wave))))[:n_samples]
            pics = render(*it["combo"], size=cfg.size, n=int(cfg.fps * CLIP_SECONDS), rng=rng)
            path = cache / "videos" / split / f"{i:05d}.mp4"
            write_video(path, pics, wave, cfg.fps)
            frames.append(torch.as_tensor(read_frames(path, times=times).data))
            audio = read_audio(path, sr=SR).waveform
            audio = torch.nn.functional.pad(audio, (0, max(0, n_samples - audio.shape[0])))[:n_samples]
            mels.append(log_mel(audio, sr=SR, n_mels=cfg.n_mels).half())
            it["file"] = f"videos/{split}/{path.name}"
            n_done += 1
            if progress:
                progress(n_done, n_total)
        tensors[f"{split}.frames"] = torch.stack(frames).contiguous()
        tensors[f"{split}.mels"] = torch.stack(mels).contiguous()
        meta[split] = rows
    save_file(tensors, str(cache / "tensors.safetensors"))
    (cache / "avshapes.json").write_text(json.dumps({"config": asdict(cfg), "splits": meta}, indent=1))
    try:
        os.replace(cache, final)
    except OSError:  # another process finished the same cache first
        shutil.rmtree(cache, ignore_errors=True)
    return _load(final)


def _load(cache: Path) -> dict[str, AvShapesSplit]:
    doc = json.loads((cache / "avshapes.json").read_text())
    t = load_file(str(cache / "tensors.safetensors"))
    out = {}
    for split, rows in doc["splits"].items():
        out[split] = AvShapesSplit(frames=t[f"{split}.frames"], mels=t[f"{split}.mels"],
                                   captions=[r["caption"] for r in rows], sounds=[r["sound"] for r in rows],
                                   combos=[tuple(r["combo"]) for r in rows],
                                   files=[str(cache / r["file"]) for r in rows])
    return out


__all__ = ["AvShapesConfig", "AvShapesSplit", "build", "render", "plan", "SHAPES", "COLOURS", "MOTIONS",
           "SOUNDS", "HELD_OUT", "COMBOS"]
