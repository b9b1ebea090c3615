"""Prompts, visual and audio-visual events, per-second scoring, the AVE evaluation, and the
boundary check of a held-out model on a video assembled from ESC-10 clips it never trained on.

Hand cases use a keyword encoder and tiny random models; the tests marked `shared` use real
ESC-10 clips and the shipped models; one test ingests two generated videos (one without audio)
into a small index with the real pipeline.
"""
from __future__ import annotations

import io
import json

import av
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from avu.eval.ave import AVE_TO_ESC10, predict_segments, read_split
from avu.events import prompts as P
from avu.events import visual as V
from avu.events.detect import DEFAULT_WEIGHTS, Event, EventModel
from avu.events.esc10 import Esc10Config, build_model, save_model
from avu.events.timeline import segment_scores
from avu.media._write import mux_audio, mux_frames
from avu.media.audio import read_audio

SR = 16000
HELDOUT = DEFAULT_WEIGHTS.with_name("esc10_heldout5.safetensors")
LABELS = list(P.ESC10_AUDIOSET)


def _jpeg(rgb) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 18), rgb).save(buf, format="JPEG")
    return buf.getvalue()


def write_video(path, seconds: float, frame, audio: np.ndarray | None = None, fps: int = 10):
    """An FFV1 (+ FLAC) file: `frame(i)` gives frame i (64x48 RGB); `audio` is mono 16 kHz."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("ffv1", rate=fps)
        s.width, s.height, s.pix_fmt = 64, 48, "bgr0"
        a = None
        if audio is not None:
            a = c.add_stream("flac", rate=SR)
            a.layout = "mono"
        mux_frames(c, s, (frame(i) for i in range(int(seconds * fps))))
        if a is not None:
            mux_audio(c, a, audio.astype(np.float32))
    return path


def still(rgb):
    img = np.zeros((48, 64, 3), np.uint8)
    img[:] = rgb
    return lambda i: img


def noise(i):
    return np.random.default_rng(i).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def clip(root, name: str) -> np.ndarray:
    return read_audio(root / "audio" / name, sr=SR).waveform.numpy()[:5 * SR]


# ---------------------------------------------------------------- prompts ------------------------
KEYWORDS = ["dog", "bark", "rain", "water", "ocean", "sea", "fire", "baby", "sneez", "clock", "helicopter",
            "chainsaw", "rooster", "piano"]


def keyword_encoder(texts):
    """A stand-in for MiniLM: normalised keyword counts, so similarities are known exactly."""
    out = np.array([[t.lower().count(k) for k in KEYWORDS] for t in texts], dtype=np.float64) + 1e-3
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_prompt_weights_and_scores(tmp_path, monkeypatch):
    monkeypatch.setenv("AVU_SHARED_DATA", str(tmp_path))  # no ontology there: the built-in descriptions
    assert P.class_descriptions(LABELS) == {lab: P.FALLBACK[lab] for lab in LABELS}
    sc = P.PromptScorer(LABELS, encode=keyword_encoder)
    w = sc.weights("dog barking")
    assert w["dog"] == 1.0 and all(v < 0.01 for k, v in w.items() if k != "dog")
    water = sc.weights("water")  # rain and sea waves both mention water
    assert water["sea_waves"] == 1.0 and water["rain"] > 0.2 and water["dog"] < 0.01
    probs = [{"dog": 0.9, "rain": 0.1}, {"dog": 0.05, "rain": 0.95}]
    assert sc.score("dog barking", probs) == pytest.approx([0.9 + 0.1 * w["rain"], 0.05 + 0.95 * w["rain"]])
    with pytest.raises(P.UnknownPrompt, match="matches no known sound class"):
        sc.weights("piano music")
    with pytest.raises(ValueError):
        sc.weights("   ")
    rows = [(0.0, 2.0, probs[0]), (2.0, 4.0, probs[1])]
    out = P.prompt_rows(rows, ["dog barking", "water"], scorer=sc)
    assert [r[:2] for r in out] == [(0.0, 2.0), (2.0, 4.0)] and set(out[0][2]) == {"dog barking", "water"}
    assert out[0][2]["dog barking"] > 0.85
    assert out[1][2]["water"] == pytest.approx(0.05 * water["dog"] + 0.95 * water["rain"])
    with pytest.raises(P.UnknownPrompt):  # checked even when there is nothing to score
        P.prompt_rows([], ["piano music"], scorer=sc)


@pytest.mark.shared
def test_class_descriptions_from_an_ontology(tmp_path, shared_data):
    d = P.class_descriptions(LABELS, shared_data / "annotations" / "audioset" / "ontology.json")
    assert d["dog"].startswith("Domestic animals, pets. Dog: ") and "Bark: " in d["dog"]
    assert d["rain"].startswith("Water. Rain: ") and "Waves, surf: " in d["sea_waves"]
    bad = tmp_path / "ontology.json"
    bad.write_text(json.dumps([{"id": "/m/1", "name": "Dog", "description": "x", "child_ids": []}]))
    with pytest.raises(RuntimeError, match="not in the ontology"):
        P.class_descriptions(["dog"], bad)
    with pytest.raises(ValueError, match="no description"):
        P.class_descriptions(["dog", "cat"])


def test_prompts_with_minilm():
    torch.set_num_threads(1)
    sc = P.default_scorer(tuple(LABELS))
    w = sc.weights("dog barking")
    assert max(w, key=w.get) == "dog" and sorted(w.values())[-2] < 0.1
    water = sc.weights("water")
    assert {k for k, v in water.items() if v > 0.3} == {"rain", "sea_waves"}
    for unrelated in ("piano music", "a man giving a speech"):
        with pytest.raises(P.UnknownPrompt, match="matches no known sound class"):
            sc.weights(unrelated)


# ---------------------------------------------------------------- visual ---------------------------
def test_visual_and_audio_visual_hand_cases():
    red, green = _jpeg((200, 20, 20)), _jpeg((20, 200, 20))
    segs = [{"start": 2.0 * k, "end": 2.0 * k + 2, "motion": m, "keyframe_jpeg": j}
            for k, (m, j) in enumerate([(0.0, red), (1.0, red), (35.0, green), (40.0, green), (2.0, None)])]
    ev = V.visual_events(segs, min_duration=2.0)
    assert ev == [Event("scene change", 3.0, 5.0, ev[0].confidence, "visual"),
                  Event("high motion", 4.0, 8.0, pytest.approx((35 / 40 + 1) / 2), "visual")]
    assert ev[0].confidence > 0.9
    assert V.scene_changes(segs[:2]) == [] and V.scene_changes(segs[2:]) == []  # same colours either side
    assert V.visual_events([{"start": 0.0, "end": 2.0, "motion": None, "keyframe_jpeg": None}]) == []
    sound = [(0.0, 2.0, {"dog": 0.9}), (4.0, 6.0, {"dog": 0.9}), (8.0, 10.0, {"dog": 0.95})]
    fused = V.audio_visual_events(sound, segs, threshold=0.5)
    assert fused == [Event("dog + motion", 4.0, 6.0, pytest.approx(0.9), "audio-visual")]  # 0 and 8 s: too still
    assert V.audio_visual_events(sound, segs, threshold=0.3)[-1] == Event("dog + motion", 8.0, 10.0,
                                                                          pytest.approx(0.95 * 2 / 5), "audio-visual")
    with pytest.raises(ValueError, match="unreadable key frame"):
        V.colour_histogram(b"not a jpeg")


# ---------------------------------------------------------------- per-second scoring ----------------
def _random_model(tmp_path):
    torch.manual_seed(0)
    cfg = Esc10Config(stem_channels=4, width=16, stage_mults=(1, 2), embed_dim=32, dropout=0.0)
    return EventModel.load(save_model(build_model(cfg), cfg, LABELS, tmp_path))


def test_segment_scores_silence_and_ends(tmp_path):
    torch.set_num_threads(1)
    model = _random_model(tmp_path)
    rng = np.random.default_rng(0)
    wave = np.concatenate([np.zeros(2 * SR), 0.3 * rng.standard_normal(int(2.1 * SR))]).astype(np.float32)
    rows = segment_scores(model, wave, segment=1.0, context=0.5, n_segments=6)
    assert [r[:2] for r in rows] == [(float(k), float(k + 1)) for k in range(6)]
    assert rows[0][2] == {lab: 0.0 for lab in LABELS} and rows[1][2] == rows[0][2]  # silence: no sound at all
    assert all(sum(r[2].values()) == pytest.approx(1.0, abs=1e-5) for r in rows[2:4])
    assert rows[4][2] is None and rows[5][2] is None  # a 0.1 s tail and past the end: not scored
    assert len(segment_scores(model, wave, segment=1.0)) == 5
    with pytest.raises(ValueError):
        segment_scores(model, wave, segment=0.0)


def test_ave_prediction_rule_and_split(tmp_path):
    p = [None if k == 9 else {lab: (0.7 if lab == "dog" else 0.3 / 9) for lab in LABELS} for k in range(10)]
    p[0] = {lab: 0.0 for lab in LABELS}
    assert predict_segments(p, "Bark") == ["background"] + ["Bark"] * 8 + ["background"]
    p[1] = {**p[1], "dog": 0.4, "chainsaw": 0.55}
    assert predict_segments(p, "Bark", threshold=0.35)[1] == "Bark"
    assert predict_segments(p, "Bark", threshold=0.35, argmax=True)[1] == "background"
    split = tmp_path / "testSet.txt"
    split.write_text("Category&VideoID&Quality&StartTime&EndTime\nBark&abc&good&0&5\n")
    assert read_split(split) == {("Bark", "abc")}
    split.write_text("abc\ndef\n")
    assert read_split(split) == {"abc", "def"}
    assert set(AVE_TO_ESC10.values()) <= set(LABELS)


# ---------------------------------------------------------------- through the index ---------------
@pytest.fixture(scope="module")
def av_index(tmp_path_factory, shared_data):
    """A small real index: a video without audio (a cut at 4 s, noise from 8 s) and a noisy-picture
    video whose sound is a dog barking (an ESC-10 clip the shipped model scores >= 0.94 per 2 s)."""
    from avu.index import open_index
    from avu.ingest import IngestConfig
    from pipelines.ingest import IngestOptions, run_ingest

    folder = tmp_path_factory.mktemp("av_media")
    red, green = still((200, 30, 30)), still((30, 200, 30))
    write_video(folder / "silent.mkv", 12.0, lambda i: red(i) if i < 40 else green(i) if i < 80 else noise(i))
    write_video(folder / "dog.mkv", 4.0, noise, audio=clip(shared_data / "esc10", "1-32318-A.ogg")[:4 * SR])
    index = tmp_path_factory.mktemp("av_index") / "index"
    cfg = IngestConfig(asr="off", encoders={"text": None, "visual": None, "audio": None, "fused": None,
                                            "events": "esc10"}, perception={"enable": []})  # the ESC-10 path
    results = run_ingest([str(folder)], str(index), IngestOptions(config=cfg, decoders=1))
    assert all(r.status == "done" for r in results), results
    idx = open_index(index)
    ids = {v["path"].rsplit("/", 1)[-1]: v["video_id"] for v in idx.videos()}
    return idx, ids["silent.mkv"], ids["dog.mkv"]


@pytest.mark.shared
@pytest.mark.slow
def test_events_through_the_index(av_index):
    idx, silent, dog = av_index
    torch.set_num_threads(1)
    empty = idx.events(silent)
    assert empty == []  # no audio: no sound events, no error
    assert (empty.sounds, empty.threshold, empty.min_duration) == ("esc10", 0.8, 2.0)  # what nothing reached
    ev = idx.events(silent, visual=True)
    assert [(e.label, e.start, e.end, e.kind) for e in ev] == [
        ("scene change", 3.0, 5.0, "visual"), ("scene change", 7.0, 9.0, "visual"),
        ("high motion", 8.0, 12.0, "visual")]
    assert idx.events(silent, prompts=["dog barking"], visual=True) == ev
    with pytest.raises(P.UnknownPrompt):
        idx.events(silent, prompts=["piano music"])

    assert [(e.label, e.start, e.end, e.kind) for e in idx.events(dog)] == [("dog", 0.0, 4.0, "sound")]
    ev = idx.events(dog, prompts=["dog barking", "rain"], threshold=0.5, visual=True)
    assert [(e.label, e.start, e.end, e.kind) for e in ev] == [
        ("dog barking", 0.0, 4.0, "prompt"), ("dog barking + motion", 0.0, 4.0, "audio-visual"),
        ("high motion", 0.0, 4.0, "visual")]
    assert ev[0].confidence > 0.9

    from avu.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["events", idx.uri, dog, "--prompt", "dog barking", "--prompt", "water",
                              "--threshold", "0.5", "--json"])
    assert res.exit_code == 0, res.output
    assert [(e["label"], e["kind"]) for e in json.loads(res.stdout)] == [("dog barking", "prompt")]
    res = runner.invoke(app, ["events", idx.uri, silent, "--visual", "--json"])
    assert res.exit_code == 0 and len(json.loads(res.stdout)) == 3
    res = runner.invoke(app, ["events", idx.uri, silent, "--min-duration", "1"])  # no audio: an empty timeline
    said = " ".join(res.output.split())  # says which threshold and duration nothing reached (ESC-10's: 0.8)
    assert res.exit_code == 0 and "no events: nothing reached 0.8 (ESC-10 model) for 1 s or more" in said, res.output
    res = runner.invoke(app, ["events", idx.uri, dog, "--sounds", "loud"])
    assert res.exit_code == 1 and "sounds must be one of" in " ".join(res.output.split()), res.output
    res = runner.invoke(app, ["events", idx.uri, dog, "--prompt", "piano music"])
    assert res.exit_code == 1 and "matches no known sound class" in res.output and "Traceback" not in res.output


# ---------------------------------------------------------------- held-out model on unseen clips ----
def _heldout(shared_data):
    """The model trained on folds 1-4 only, and a check that the named clips are in fold 5."""
    if not HELDOUT.is_file():
        pytest.skip("no held-out model: avu train-esc10 --no-cv --train-folds 1,2,3,4 --name esc10_heldout5")
    from avu.data.esc10 import clip_name, read_meta

    folds = {clip_name(r): r["fold"] for r in read_meta(shared_data / "esc10")}
    return EventModel.load(HELDOUT), folds


def _fold5(shared_data, category: str) -> list[str]:
    """Every fold-5 clip of an ESC-10 class, sorted by name."""
    from avu.data.esc10 import clip_name, read_meta

    return sorted(clip_name(r) for r in read_meta(shared_data / "esc10")
                  if r["fold"] == "5" and r["category"] == category)


@pytest.mark.shared
@pytest.mark.slow
def test_heldout_boundaries_on_assembled_videos(shared_data):
    """`avu eval boundaries` (its rule, fixed before measuring, is in `avu.eval.boundaries`): every
    fold-5 dog clip, paired in name order with every fold-5 rain clip, after 3 s of silence.

    Measured (the shipped esc10_heldout5): 7 of 8 sounds give [dog, rain] (5-9032-A's dog is heard
    as clock_tick); of their 28 boundaries 21 are within 0.5 s and 25 within 1 s, the worst 3.5 s (a
    dog clip whose barking stops early, a rain clip that starts quietly). A retraining by today's
    code gives 4, 6 or 4 of 8 for seeds 0, 1, 2 (README): the threshold holds for this model."""
    _, folds = _heldout(shared_data)
    dogs, rains = _fold5(shared_data, "dog"), _fold5(shared_data, "rain")
    assert len(dogs) == len(rains) == 8 and {folds[n] for n in dogs + rains} == {"5"}
    from avu.cli import app

    res = CliRunner().invoke(app, ["eval", "boundaries", "--model", str(HELDOUT), "--json"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)
    assert r["sounds"] == 8 and r["fold"] == 5
    assert [(s["first"], s["second"]) for s in r["per_sound"]] == list(zip(dogs, rains))  # every clip, none chosen
    assert r["boundaries"] == 4 * r["right"]
    assert r["right"] >= 6, r["per_sound"]  # measured 7
    assert r["within_0_5"] >= 0.6 * r["boundaries"] and r["within_1"] >= 0.8 * r["boundaries"], r  # 21, 25 of 28
    full = CliRunner().invoke(app, ["eval", "boundaries", "--model", str(DEFAULT_WEIGHTS)])
    assert full.exit_code == 1 and "trained on fold 5" in full.output and "Traceback" not in full.output


@pytest.mark.shared
@pytest.mark.slow
def test_eval_ave_on_generated_videos(tmp_path, shared_data):
    """`avu eval ave` on AVE-style records: the rule, fixed before measuring, is every fold-5 clip of
    the five mapped classes (8 each), placed at 2-7 s in a quiet 10 s bed; plus one record of each
    skip reason. The category is given to the evaluation (it localises a known sound).

    Measured (esc10_heldout5): accuracy 0.7075 over 400 segments (argmax rule the same), against
    0.5 for all-background; per category: baby 0.79, chainsaw 0.78, bark 0.74, helicopter 0.74,
    clock 0.5 (fold-5 clock clips are quiet ticks the model rarely hears above the threshold)."""
    model, folds = _heldout(shared_data)
    root = shared_data / "esc10"
    rng = np.random.default_rng(0)

    def bed():  # a quiet background (-50 dBFS), above the silence gate so the model must judge it
        return (0.003 * rng.standard_normal(10 * SR)).astype(np.float32)

    videos = tmp_path / "AVE"
    videos.mkdir()
    lines = []
    for category, esc in AVE_TO_ESC10.items():
        names = _fold5(shared_data, esc)
        assert len(names) == 8 and {folds[n] for n in names} == {"5"}
        for j, name in enumerate(names):
            audio, c = bed(), clip(root, name)
            audio[2 * SR:2 * SR + len(c)] = c
            write_video(videos / f"{esc}{j}.mkv", 10.0, still((60, 120, 60)), audio=audio, fps=5)
            lines.append(f"{category}&{esc}{j}&good&2&7")
    for vid, audio in (("catAVE04", bed()), ("clockAVE05", None)):
        write_video(videos / f"{vid}.mkv", 10.0, still((60, 120, 60)), audio=audio, fps=5)
    lines += ["Cat&catAVE04&good&0&10", "Clock&clockAVE05&good&0&10", "Chainsaw&chainAVE06&bad&3&8"]
    ann = tmp_path / "Annotations.txt"  # the official format: Category&VideoID&Quality&Start&End
    ann.write_text("\n".join(lines) + "\n")
    from avu.cli import app

    res = CliRunner().invoke(app, ["eval", "ave", "--videos", str(videos), "--annotations", str(ann),
                                   "--model", str(HELDOUT), "--json"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)
    assert r["evaluated"] == 40 and r["segments"] == 400 and r["skipped"] == 3
    assert r["skipped_by_reason"] == {"category not mapped to ESC-10": 1, "no audio stream": 1,
                                      "video file not found": 1}
    assert r["unmapped_categories"] == {"Cat": 1}
    assert r["all_background_accuracy"] == pytest.approx(0.5, abs=1e-4)
    assert r["accuracy"] >= 0.65 and r["accuracy_argmax"] <= r["accuracy"]  # measured 0.7075 and 0.7075
    split = tmp_path / "split.txt"
    split.write_text("dog0\n")
    res = CliRunner().invoke(app, ["eval", "ave", "--videos", str(videos), "--annotations", str(ann),
                                   "--split", str(split), "--model", str(HELDOUT), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["evaluated"] == 1
    res = CliRunner().invoke(app, ["eval", "ave", "--videos", str(tmp_path / "nope"), "--annotations", str(ann)])
    assert res.exit_code == 1 and "video folder not found" in res.output
