"""`avu bench perception`: how fast each pretrained perception model runs here, and what the
Perceiver costs per 2 s segment at its chosen sampling.

Per model, items per second on one thread (the best of `repeats` timed passes over the same real
items, after one warm-up): YAMNet 0.975 s patches, MobileNetV2 224 px frames, YOLOX-Nano frames
(letterboxed to 416), OCR frames with text (the manifesto title card, 320 x 180) and without
(Big Buck Bunny). Then the Perceiver on the shared clips exactly as ingest hands them over (2 s
segments, 4 frames at 2 fps resized to 224 x 224, 16 kHz mono audio; decoding not timed):
seconds per segment, per modality, and video seconds per wall second of perception alone on one
core. Beside each wall-clock figure, the process's CPU time: on a machine shared with other work
(load above the core count) wall time measures the queue, CPU time what the models cost. With
one Perceiver per core, a 2-core machine does twice that, before decoding, speech and the index
writes.
With `ingest=True`, `ingest_rt_factor`: `avu ingest` of the same clips with every perception model
on (ASR and speakers off) into a fresh index, video seconds per wall second from the first plan to
the last commit (Ray's start-up apart), once per count of embed actors (side by side).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

CLIPS = ("big_buck_bunny_480p_30s.mp4", "tears_of_steel_battle.webm", "manifesto.mp4")
WINDOW, FPS, SIZE = 2.0, 2.0, 224  # ingest's defaults (avu.ingest.config.IngestConfig)


def _best(fn, repeats: int) -> tuple[float, float]:
    """(best wall seconds, best CPU seconds of this process) of `repeats` runs after a warm-up."""
    fn()  # warm-up
    wall = cpu = float("inf")
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.process_time() - c)
    return wall, cpu


def _decode(path: Path, max_segments: int | None):
    """(frames [T, 224, 224, 3], audio) per 2 s segment of a clip, as ingest decodes them."""
    from avu.media import probe, read_audio, read_frames

    dur = probe(path).duration
    n = int(dur // WINDOW)
    n = min(n, max_segments) if max_segments else n
    audio = read_audio(path, sr=16000).waveform.numpy()
    out = []
    for k in range(n):
        t0 = k * WINDOW
        times = [t0 + (i + 0.5) / FPS for i in range(int(WINDOW * FPS))]
        frames = read_frames(path, times=times, size=SIZE).data.numpy()
        out.append((frames, audio[int(t0 * 16000):int((t0 + WINDOW) * 16000)]))
    return out


def model_speeds(video_dir: Path, *, models_dir=None, threads: int = 1, repeats: int = 3) -> dict[str, Any]:
    """Items per second of each model on real items (see the module docstring)."""
    from avu.media import read_audio, read_frames
    from avu.perception.files import find_model
    from avu.perception.mobilenet import MobileNetV2
    from avu.perception.ocr import OCR
    from avu.perception.yamnet import YAMNet, patches
    from avu.perception.yolox import YOLOXNano

    bbb = video_dir / "big_buck_bunny_480p_30s.mp4"
    frames = read_frames(bbb, times=[1.0 + 2 * i for i in range(8)]).data.numpy()  # native 854 x 480
    small = read_frames(bbb, times=[1.0 + 2 * i for i in range(8)], size=SIZE).data.numpy()
    pt = patches(read_audio(bbb, sr=16000, start=0, end=10).waveform.numpy())
    card = read_frames(video_dir / "manifesto.mp4", times=[1.0, 3.0]).data.numpy()
    f = lambda n: find_model(n, models_dir)  # noqa: E731
    yam = YAMNet(f("yamnet.tflite"), f("yamnet_class_map.csv"), threads=threads)
    mob = MobileNetV2(f("tf2_mobilenet_v2_1.0_224_ptq.tflite"), f("imagenet_labels.txt"), threads=threads)
    yolo = YOLOXNano(f("yolox_nano.onnx"), f("coco80_labels.txt"), threads=threads)
    ocr = OCR(threads=threads)
    out = {}
    for key, n, fn in (("yamnet_patches_per_s", len(pt), lambda: yam.run(pt)),
                       ("mobilenet_frames_per_s", len(small), lambda: mob.run(small)),
                       ("yolox_frames_per_s", len(frames), lambda: yolo.run(frames)),
                       ("ocr_frames_per_s_with_text", len(card), lambda: ocr.run(card)),
                       ("ocr_frames_per_s_no_text", len(small), lambda: ocr.run(small))):
        wall, cpu = _best(fn, repeats)
        out[key] = round(n / wall, 2)
        out[key.replace("_per_s", "_per_cpu_s")] = round(n / cpu, 2) if cpu > 0 else None
    return out


def perceiver_cost(video_dir: Path, clips: Sequence[str], *, models_dir=None, threads: int = 1,
                   max_segments: int | None = None) -> dict[str, Any]:
    """The Perceiver over the clips' 2 s segments: seconds per segment (total and per modality)."""
    from avu.perception import MODALITIES, Perceiver

    per_clip, total, video, cpu = [], 0.0, 0.0, 0.0
    seconds = {m: 0.0 for m in MODALITIES}
    segments = 0
    for name in clips:
        segs = _decode(video_dir / name, max_segments)
        p = Perceiver(models_dir=models_dir, threads=threads)  # a fresh one per video, as an ingest worker
        if p.missing:
            raise RuntimeError("; ".join(p.missing.values()))
        t, c = time.perf_counter(), time.process_time()
        p.perceive_batch(segs)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        cpu += dc
        per_clip.append({"clip": name, "segments": len(segs), "seconds": round(dt, 2), "cpu_seconds": round(dc, 2),
                         "rt_factor": round(len(segs) * WINDOW / dt, 1),
                         "seconds_by_modality": {m: round(v, 2) for m, v in p.seconds.items()}})
        total += dt
        video += len(segs) * WINDOW
        segments += len(segs)
        for m, v in p.seconds.items():
            seconds[m] += v
    return {"clips": per_clip, "segments": segments, "video_seconds": video,
            "seconds_per_segment": round(total / max(1, segments), 4),
            "seconds_per_segment_by_modality": {m: round(v / max(1, segments), 4) for m, v in seconds.items()},
            "rt_factor_one_core": round(video / total, 1) if total else None,
            "cpu_seconds_per_segment": round(cpu / max(1, segments), 4),
            "rt_factor_per_cpu_second": round(video / cpu, 1) if cpu else None}


def ingest_rt_factor(video_dir: Path, clips: Sequence[str], *, models_dir=None,
                     embedders: Sequence[int] = (1, 2), decoders: int = 1) -> dict[str, Any]:
    """Ingest the clips with perception on, once per entry of `embedders` (see the module docstring)."""
    import tempfile

    from avu.bench.ingest import timed_ingest
    from avu.ingest import IngestConfig

    perception = {"enable": ["heard", "seen", "objects", "read"], "models_dir": str(models_dir) if models_dir else None}
    cfg = IngestConfig(asr="off", speakers="off", perception=perception)
    with tempfile.TemporaryDirectory(prefix="avu-bench-perception-") as tmp:
        runs = {str(n): timed_ingest([video_dir / c for c in clips], decoders, Path(tmp), embedders=n, cfg=cfg,
                                     decoder_threads=None) for n in embedders}
    best = max(runs.values(), key=lambda r: r["rt_factor"])
    return {"ingest_rt_factor": best["rt_factor"], "decoders": decoders, "by_embedders": runs,
            "config": {"asr": "off", "speakers": "off", "perception": perception["enable"]}}


def run(*, video_dir: str | Path | None = None, clips: Sequence[str] = CLIPS, models_dir=None, threads: int = 1,
        repeats: int = 3, max_segments: int | None = None, ingest: bool = False,
        embedders: Sequence[int] = (1, 2)) -> dict[str, Any]:
    """The parts (the JSON of `avu bench perception`); `ingest`: also `ingest_rt_factor`."""
    import os

    from avu._paths import shared_data
    from avu.bench.decode import machine

    vdir = Path(video_dir) if video_dir else Path(shared_data()) / "video"
    load = os.getloadavg()[0]
    out = {"machine": machine(), "threads": threads, "load_average_at_start": round(load, 2),
           "models": model_speeds(vdir, models_dir=models_dir, threads=threads, repeats=repeats),
           "perceiver": perceiver_cost(vdir, clips, models_dir=models_dir, threads=threads,
                                       max_segments=max_segments)}
    rt, rt_cpu = out["perceiver"]["rt_factor_one_core"], out["perceiver"]["rt_factor_per_cpu_second"]
    cores = os.cpu_count() or 1
    out["rt_factor_all_cores"] = round(rt * cores, 1) if rt else None  # one Perceiver per core, perception alone
    # the same from CPU time: what the cores give when the machine is not shared with other work
    out["rt_factor_all_cores_from_cpu_time"] = round(rt_cpu * cores, 1) if rt_cpu else None
    if ingest:
        out["ingest"] = ingest_rt_factor(vdir, clips, models_dir=models_dir, embedders=embedders)
        out["ingest_rt_factor"] = out["ingest"]["ingest_rt_factor"]
        out["load_average_at_end"] = round(os.getloadavg()[0], 2)
    return out


__all__ = ["CLIPS", "ingest_rt_factor", "model_speeds", "perceiver_cost", "run"]
