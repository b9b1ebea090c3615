"""Sound events: the audio encoder, ESC-10 training, the shipped model, event detection, AVE labels.

Fast by design: training runs a few steps on a handful of real ESC-10 clips with a small model;
the full 5-fold cross-validation is `avu eval esc10` (its result is recorded in esc10.json).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from avu.data.esc10 import clip_name
from avu.events import ave
from avu.events.detect import DEFAULT_WEIGHTS, Event, EventModel, detect_events
from avu.events.esc10 import Esc10Config, augment, build_model, mix, read_meta, save_model
from avu.media.audio import log_mel, read_audio
from avu.models.audio import AudioClassifier, count_parameters, create_audio_encoder

SMALL = dict(stem_channels=4, width=16, stage_mults=(1, 2), embed_dim=32, dropout=0.0)


def test_encoder_shapes_and_gradients():
    torch.manual_seed(0)
    enc = create_audio_encoder(n_mels=64, **SMALL)
    mel = torch.randn(3, 64, 101, requires_grad=True)
    z = enc.encode_audio(mel, normalize=True)
    assert z.shape == (3, 32)
    assert torch.allclose(z.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert enc.encode_audio(mel[0].detach(), normalize=False).shape == (1, 32)  # [n_mels, T] is a batch of one
    assert enc.frame_features(mel).shape[-1] == math.ceil(101 / 4)  # 2-D stem /2, one strided stage /2
    clf = AudioClassifier(enc, 10)
    clf(mel).logsumexp(-1).sum().backward()
    assert mel.grad is not None and mel.grad.abs().sum() > 0
    assert all(p.grad is not None for p in clf.parameters())
    one_d = create_audio_encoder(n_mels=40, stem_channels=0, width=8, stage_mults=(1, 2, 4))
    assert one_d.encode_audio(torch.randn(2, 40, 200)).shape == (2, 128)
    with pytest.raises(ValueError):
        enc.encode_audio(torch.randn(2, 40, 50))
    with pytest.raises(ValueError):
        create_audio_encoder(kernel=4)


def test_shipped_recipe_size():
    cfg = Esc10Config.from_yaml("configs/esc10.yaml")
    n = count_parameters(build_model(cfg))
    assert 100_000 < n < 5_000_000  # 4 bytes each: well under the 20 MB checkpoint limit


def test_augment_and_mix_keep_shapes():
    g = torch.Generator().manual_seed(0)
    cfg = Esc10Config(crop_seconds=2.0, mixup_prob=1.0)
    mel = torch.randn(4, 64, 501)
    out = augment(mel, cfg, g)
    assert out.shape == (4, 64, 200) and torch.isfinite(out).all()
    y = torch.eye(10)[:4]
    mixed, ym = mix(out, y, cfg, g)
    assert mixed.shape == out.shape and torch.allclose(ym.sum(-1), torch.ones(4))
    same = out[:1].expand(4, -1, -1).contiguous()  # mixing a clip with itself (power domain) changes nothing
    assert torch.allclose(mix(same, y, cfg, g)[0], same, atol=1e-5)


def _clips(root, per_class: int):
    rows = read_meta(root)
    labels = sorted({r["category"] for r in rows})
    chosen = [r for c in labels for r in [r for r in rows if r["category"] == c][:per_class]]
    waves = [read_audio(root / "audio" / clip_name(r)).waveform[:80000] for r in chosen]
    waves = [torch.nn.functional.pad(w, (0, 80000 - w.shape[0])) for w in waves]
    return chosen, torch.stack(waves), torch.tensor([labels.index(r["category"]) for r in chosen]), labels


@pytest.mark.shared
def test_training_steps_reduce_loss(shared_data):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    _, waves, y, _ = _clips(shared_data / "esc10", per_class=1)
    mel = log_mel(waves, sr=16000)
    model = AudioClassifier(create_audio_encoder(**SMALL), 10, dropout=0.0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = torch.nn.functional.cross_entropy(model(mel[:, :, :300]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_safetensors_round_trip(tmp_path):
    torch.manual_seed(1)
    cfg = Esc10Config(**SMALL)
    model = build_model(cfg).eval()
    labels = [f"class{i}" for i in range(10)]
    path = save_model(model, cfg, labels, tmp_path, extra={"command": "test"})
    assert path.name == "esc10.safetensors" and path.with_suffix(".json").is_file()
    loaded = EventModel.load(tmp_path)
    assert loaded.labels == labels
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.model.state_dict()[k]), k
    wave = torch.randn(2, 16000) * 0.1
    p = loaded.scores(wave)
    assert p.shape == (2, 10) and torch.allclose(p.sum(-1), torch.ones(2), atol=1e-5)
    with torch.no_grad():
        ref = torch.softmax(model(log_mel(wave, sr=16000)), -1)
    assert torch.allclose(p, ref, atol=1e-6)
    with pytest.raises(RuntimeError, match="not found"):
        EventModel.load(tmp_path / "missing.safetensors")


def test_shipped_json_matches_tensors():
    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("no shipped ESC-10 model yet (avu train-esc10)")
    meta = json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    state = load_file(str(DEFAULT_WEIGHTS))
    assert {k: list(v.shape) for k, v in state.items()} == meta["tensors"]
    assert len(meta["labels"]) == 10 and meta["model"]["n_classes"] == 10
    assert DEFAULT_WEIGHTS.stat().st_size <= 20 * 2**20
    cv = meta["cross_validation"]
    assert len(cv["folds"]) == 5 and abs(np.mean(cv["folds"]) - cv["mean_accuracy"]) < 1e-3
    assert "train-esc10" in meta["command"]


@pytest.mark.shared
def test_shipped_model_classifies_clips(shared_data):
    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("no shipped ESC-10 model yet (avu train-esc10)")
    torch.set_num_threads(1)
    model = EventModel.load()
    rows, waves, _, _ = _clips(shared_data / "esc10", per_class=2)
    pred = model.scores(waves).argmax(-1)
    truth = torch.tensor([model.labels.index(r["category"]) for r in rows])
    assert (pred == truth).float().mean() >= 0.9  # held-in clips (the model trained on all folds)


def test_detect_events_hand_cases():
    lab = ["dog", "rain"]
    rows = [(float(t), t + 1.0, s) for t, s in enumerate([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.7],
                                                           [0.1, 0.8], [0.7, 0.3]])]
    ev = detect_events(rows, threshold=0.5, labels=lab)
    assert [(e.label, e.start, e.end) for e in ev] == [("dog", 0, 2), ("rain", 2, 5), ("dog", 5, 6)]
    assert ev[0].confidence == pytest.approx(0.85) and isinstance(ev[0], Event)
    assert [e.label for e in detect_events(rows, threshold=0.5, labels=lab, min_duration=2.5)] == ["rain"]
    assert detect_events(rows, threshold=0.95, labels=lab) == []
    # a single spike is removed by smoothing; mappings and unsorted windows are accepted
    spiky = [(t, t + 1.0, {"dog": 0.9 if t == 3 else 0.1}) for t in range(6, -1, -1)]
    assert detect_events(spiky, threshold=0.5) == [Event("dog", 3.0, 4.0, 0.9)]
    assert detect_events(spiky, threshold=0.5, smoothing=3) == []
    # a gap between windows splits an event unless merge_gap covers it
    gap = [(0.0, 1.0, [1.0]), (1.0, 2.0, [1.0]), (3.0, 4.0, [1.0])]
    assert len(detect_events(gap, threshold=0.5)) == 2
    assert detect_events(gap, threshold=0.5, merge_gap=1.0) == [Event("0", 0.0, 4.0, 1.0)]
    assert detect_events([], threshold=0.5) == []
    with pytest.raises(ValueError):
        detect_events(rows, threshold=1.5, labels=lab)


def test_stored_events_choose_the_source_and_say_which():
    """One video's stored rows -> events: ESC-10 scores without AudioSet tags, AudioSet tags when
    perception stored them, nothing from a silent segment; the timeline names the source and threshold."""
    from avu.events.stored import EventTimeline, stored_events

    esc = lambda dog: json.dumps({"dog": dog, "rain": 0.05})  # noqa: E731
    rows = [{"start": 0.0, "end": 2.0, "event_scores": esc(0.9), "audio_db": -20.0},
            {"start": 2.0, "end": 4.0, "event_scores": esc(0.95), "audio_db": -70.0},  # digital silence
            {"start": 4.0, "end": 6.0, "event_scores": esc(0.9), "audio_db": -20.0}]
    got = stored_events(rows, name="clip.mp4", min_duration=0.0)
    assert [(e.label, e.start, e.end) for e in got] == [("dog", 0.0, 2.0), ("dog", 4.0, 6.0)]
    assert (got.sounds, got.threshold, got.min_duration) == ("esc10", 0.8, 0.0)
    assert got.threshold_text() == "0.8 (ESC-10 model) for 0 s or more"
    with pytest.raises(ValueError, match="clip.mp4: no AudioSet tags"):
        stored_events(rows, name="clip.mp4", sounds="audioset")
    heard = [{**r, "heard_json": json.dumps([["Bark", 0.6]])} for r in rows]
    got = stored_events(heard, name="clip.mp4", min_duration=0.0)
    assert [(e.label, e.start) for e in got] == [("Bark", 0.0), ("Bark", 4.0)] and got.sounds == "audioset"
    assert got.threshold == 0.3 and stored_events(heard, name="c", threshold=0.7) == []
    assert stored_events(heard, name="c", sounds="esc10", min_duration=0.0).sounds == "esc10"
    with pytest.raises(ValueError, match="sounds must be one of"):
        stored_events(rows, name="c", sounds="loud")
    with pytest.raises(ValueError):
        EventTimeline([], sounds="esc10", threshold=1.5, min_duration=0.0)


def test_a_prompt_says_what_it_means_and_how_close_it_came():
    """`EventTimeline.prompts`: the classes a prompt was matched to and its best segment, in either
    sound source; a silent segment reaches nothing; `avu events` says it in one line."""
    from avu.cli.events import prompt_note
    from avu.events.stored import PromptMatch, stored_events

    rows = [{"start": 0.0, "end": 2.0, "event_scores": json.dumps({"dog": 0.7, "rain": 0.3}), "audio_db": -20.0,
             "heard_json": json.dumps([["Bark", 0.6]])},
            {"start": 2.0, "end": 4.0, "event_scores": json.dumps({"dog": 0.99, "rain": 0.01}), "audio_db": -70.0,
             "heard_json": json.dumps([["Bark", 0.99]])},  # digital silence: reaches nothing
            {"start": 4.0, "end": 6.0, "event_scores": json.dumps({"dog": 0.9, "rain": 0.1}), "audio_db": -20.0,
             "heard_json": json.dumps([["Bark", 0.8], ["Speech", 0.1]])}]
    got = stored_events(rows, name="clip.mp4", prompts=["dog barking"], threshold=0.9)
    assert got == [] and got.sounds == "audioset"  # 0.8 is under 0.9, but the prompt says how close it came
    (m,) = got.prompts
    assert m.prompt == "dog barking" and m.classes[0] == ("Bark", 1.0) and len(m.classes) <= PromptMatch.SHOWN
    assert (m.best, m.start, m.end) == (pytest.approx(0.8), 4.0, 6.0)
    note = prompt_note(m)
    assert note.startswith("prompt 'dog barking' means Bark 1.00") and note.endswith(
        "it reached 0.80 at 00:00:04.000-00:00:06.000")
    (e,) = stored_events(rows, name="clip.mp4", prompts=["dog barking"], sounds="esc10", min_duration=0.0).prompts
    assert e.classes[0] == ("dog", 1.0) and e.start == 4.0 and 0.9 <= e.best <= 1.0
    assert stored_events(rows, name="c", min_duration=0.0).prompts == []  # no prompts: nothing to say
    silent = PromptMatch("dog barking", (("Bark", 1.0),), 0.0, 0.0, 2.0)
    assert prompt_note(silent) == "prompt 'dog barking' means Bark 1.00; none of them was heard here"
    with pytest.raises(ValueError, match="must be in"):
        PromptMatch("x", (), 1.5)


def test_ave_hand_cases():
    v = ave.parse_line("Bark&abc&good&2&5")
    assert v.segment_labels() == ["background"] * 2 + ["Bark"] * 3 + ["background"] * 5
    assert ave.parse_line("Bark&x&good&0&0").segment_labels() == ["background"] * 10
    for bad in ("Bark&abc&good&2", "Bark&abc&good&5&11", "Bark&abc&good&a&5"):
        with pytest.raises(ValueError):
            ave.parse_line(bad)
    assert ave.segment_accuracy([[0, 1, 2, 2]], [[0, 1, 2, 3]]) == 0.75
    assert ave.segment_accuracy([["a", "b"], ["c", "d"]], [["a", "x"], ["c", "d"]]) == 0.75
    with pytest.raises(ValueError):
        ave.segment_accuracy([[0, 1]], [[0, 1, 2]])
    scores = np.zeros((1, 2, 3))
    scores[0, 0] = [0.6, 0.1, 0.3]
    scores[0, 1] = [0.2, 0.1, 0.7]
    assert ave.labels_from_scores(scores, background_index=2).tolist() == [[0, 2]]
    assert ave.labels_from_scores(scores, background_index=2, threshold=0.5).tolist() == [[0, 2]]
    assert ave.labels_from_scores(scores, background_index=2, threshold=0.1).tolist() == [[0, 0]]


@pytest.mark.shared
def test_ave_annotations_real_file(shared_data):
    a = ave.load_annotations(shared_data / "annotations" / "ave" / "Annotations.txt")
    assert len(a.videos) == 4143 and len(a.categories) == 28 and a.classes[-1] == "background"
    assert a.background_index == 28
    counts = a.counts()
    assert sum(counts.values()) == 4143 and counts["Church bell"] == 188 and counts["Cat"] == 60
    t = a.segment_targets()
    assert t.shape == (4143, 10) and t.min() == 0 and t.max() == 28
    first = a.videos[0]
    assert (first.category, first.video_id, first.start, first.end) == ("Church bell", "RUhOCu3LNXM", 0, 10)
    assert ave.segment_accuracy(t, t) == 1.0
    all_bg = np.full_like(t, a.background_index)
    assert 0 < ave.segment_accuracy(all_bg, t) < 0.5  # most segments hold an event


def test_cli_errors_are_one_line(tmp_path):
    from avu.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["eval", "esc10", "--json", "--config", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 1 and "error:" in res.output and "Traceback" not in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 3\nlayers: 9\n")
    res = runner.invoke(app, ["train-esc10", "--config", str(bad), "--out", str(tmp_path)])
    assert res.exit_code == 1 and "unknown config keys" in res.output


def _tiny_data(n_per_fold: int = 4):
    """Random log-mels with ESC-10's layout (5 folds, 10 labels): enough to run training code."""
    from avu.events.esc10 import Esc10Data

    g = torch.Generator().manual_seed(0)
    n = 5 * n_per_fold
    return Esc10Data(torch.randn(n, 64, 101, generator=g), torch.arange(n) % 10,
                     torch.arange(n) // n_per_fold + 1, [f"c{i}" for i in range(10)], [f"{i}.ogg" for i in range(n)])


def test_train_on_chosen_folds_scores_the_rest(tmp_path):
    from avu.events.esc10 import train_all

    torch.set_num_threads(1)
    cfg = Esc10Config(**SMALL, epochs=1, batch_size=4, crop_seconds=1.0, threads=1)
    path = train_all(cfg, tmp_path, data=_tiny_data(), folds=[1, 2, 3, 4], name="esc10_heldout5", command="t")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert path.name == "esc10_heldout5.safetensors" and meta["train_folds"] == [1, 2, 3, 4]
    assert set(meta["held_out"]) == {"5"} and 0.0 <= meta["held_out"]["5"] <= 1.0
    assert EventModel.load(path).labels == [f"c{i}" for i in range(10)]
    with pytest.raises(ValueError, match="subset"):
        train_all(cfg, tmp_path, data=_tiny_data(), folds=[6])
    with pytest.raises(ValueError, match="file stem"):
        save_model(build_model(cfg), cfg, [str(i) for i in range(10)], tmp_path, name="../x")


HELDOUT = DEFAULT_WEIGHTS.with_name("esc10_heldout5.safetensors")


def test_heldout_model_json_records_its_recipe():
    if not HELDOUT.is_file():
        pytest.skip("no held-out ESC-10 model (avu train-esc10 --train-folds 1,2,3,4 --name esc10_heldout5)")
    meta = json.loads(HELDOUT.with_suffix(".json").read_text())
    state = load_file(str(HELDOUT))
    assert {k: list(v.shape) for k, v in state.items()} == meta["tensors"]
    assert HELDOUT.stat().st_size < 5 * 2**20
    assert meta["train_folds"] == [1, 2, 3, 4] and set(meta["held_out"]) == {"5"}
    assert "--train-folds 1,2,3,4" in meta["command"] and "--name esc10_heldout5" in meta["command"]
    shipped = json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    assert meta["recipe"] == shipped["recipe"]  # the shipped recipe, only the folds differ


def test_avu_train_dispatches_the_esc10_recipe(tmp_path, monkeypatch):
    """`avu train configs/esc10.yaml` runs the ESC-10 training (train_all), not the video trainer."""
    import avu.events.esc10 as esc10
    from avu.cli import app

    calls = {}
    monkeypatch.setattr(esc10, "load_esc10", lambda root, n_mels: "DATA")

    def fake_train_all(cfg, out, *, command, data, log):
        calls.update(cfg=cfg, out=out, command=command, data=data)
        w = tmp_path / "esc10.safetensors"
        w.write_bytes(b"123")
        return w

    monkeypatch.setattr(esc10, "train_all", fake_train_all)
    res = CliRunner().invoke(app, ["train", "configs/esc10.yaml", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert isinstance(calls["cfg"], Esc10Config) and calls["cfg"].epochs == 60 and calls["data"] == "DATA"
    assert calls["out"] == tmp_path and calls["command"] == "avu train configs/esc10.yaml"
    assert json.loads(res.output.strip().splitlines()[-1]) == {"weights": str(tmp_path / "esc10.safetensors"),
                                                               "bytes": 3}


def test_seen_and_heard_agree_in_one_encoder_batch():
    """`agreement_rows` pairs a label seen with a sound heard when their vectors agree, encoding
    every label of the video in one batch (not one call per label and segment)."""
    from avu.events.perceived import agreement_rows

    axes = {"dog": [1, 0, 0], "Bark": [0.9, 0.3, 0.3], "car": [0, 1, 0], "Rain": [0, 0, 1]}
    calls = []

    def encode(texts):
        calls.append(list(texts))
        return np.array([axes[t] for t in texts], dtype=np.float32)

    segs = [{"start": 0.0, "end": 2.0, "seen_json": json.dumps([["dog", 0.9]]),
             "objects_json": json.dumps([["car", 0.7, 2]]), "heard_json": json.dumps([["Bark", 0.6], ["Rain", 0.4]])},
            {"start": 2.0, "end": 4.0, "seen_json": json.dumps([["car", 0.8]]), "objects_json": None,
             "heard_json": json.dumps([["Rain", 0.5]])},
            {"start": 4.0, "end": 6.0, "seen_json": None, "objects_json": None, "heard_json": None}]
    rows = agreement_rows(segs, encode=encode, agree=0.5)
    assert len(calls) == 1 and sorted(calls[0]) == ["Bark", "Rain", "car", "dog"]
    assert rows == [(0.0, 2.0, {"dog + Bark": 0.6}), (2.0, 4.0, {"dog + Bark": 0.0}), (4.0, 6.0, {"dog + Bark": 0.0})]


def test_audioset_class_vectors_are_encoded_once_per_user(tmp_path, monkeypatch):
    """The ~630 AudioSet class descriptions are encoded once and kept in the user cache (keyed by
    the model version and the texts); a torn cache file is encoded again."""
    import avu.events.perceived as perceived

    calls = []

    def fake_minilm(texts):
        calls.append(len(texts))
        return np.stack([np.random.default_rng(len(t)).normal(size=384) for t in texts]).astype(np.float32)

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(perceived, "_minilm", fake_minilm)
    first = perceived.AudioSetPrompts()
    assert len(calls) == 1 and calls[0] == len(first.names) > 500
    (cached,) = (tmp_path / ".cache" / "avu" / "audioset-classes").glob("minilm-*.npy")
    again = perceived.AudioSetPrompts()
    assert len(calls) == 1 and np.array_equal(again._vecs, first._vecs)
    cached.write_bytes(cached.read_bytes()[:100])  # torn
    third = perceived.AudioSetPrompts()
    assert len(calls) == 2 and np.array_equal(third._vecs, first._vecs)
    perceived.AudioSetPrompts(encode=fake_minilm)  # an encoder of one's own is not cached
    assert len(calls) == 3
