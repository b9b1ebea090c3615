"""Perception parts: model lookup and pins, the adapters' arithmetic, the Perceiver's contract, and
golden checks of each pretrained model on shared media (skipped without ../shared)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from avu._paths import shared_models
from avu.perception import (
    Box,
    ModelMissing,
    ObjectTag,
    Perceiver,
    SegmentPerception,
    Tag,
    TextLine,
    files,
    modality_embeddings,
    modality_texts,
)
from avu.perception._words import restore_spaces
from avu.perception.perceiver import pick_frames
from avu.perception.yamnet import PATCH, patches
from avu.perception.yolox import letterbox, nms

HAVE_MODELS = all((shared_models() / n).is_file() for n in files.PINS)
needs_models = pytest.mark.skipif(not HAVE_MODELS, reason=f"pretrained models absent: {shared_models()} "
                                                          "(the shared model folder beside the checkout)")


# -- no model files needed ------------------------------------------------------------------
@pytest.mark.parametrize("raw, want", [
    ("CommunistParty", "Communist Party"), ("Manifestoofthe", "Manifesto of the"),
    ("byKarlMarx&FriedrichEngels", "by Karl Marx & Friedrich Engels"), ("SUMMERSALE", "SUMMER SALE"),
    ("Audible Socialism", "Audible Socialism"), ("Engels", "Engels"), ("www.example.com", "www.example.com"),
])
def test_restore_spaces(raw, want):
    assert restore_spaces(raw) == want


def test_pick_frames_holds_the_key_frame_first():
    assert pick_frames(4, 1) == [2]
    assert pick_frames(4, 2)[0] == 2 and len(pick_frames(4, 2)) == 2
    assert sorted(pick_frames(3, 10)) == [0, 1, 2]
    assert pick_frames(0, 2) == []


def test_yamnet_patches_cover_the_audio():
    assert patches(np.zeros(1000, np.float32)).shape == (0, PATCH)  # under 0.25 s: nothing to hear
    assert patches(np.zeros(8000, np.float32)).shape == (1, PATCH)  # 0.5 s: one zero-padded patch
    assert patches(np.zeros(32000, np.float32)).shape == (4, PATCH)  # 2 s at hop 0.48 s, YAMNet's padding
    w = np.arange(80000, dtype=np.float32)
    p = patches(w)
    assert p.shape == (10, PATCH) and p[1, 0] == 7680 and p[-1, -1] == 0  # 5 s: 10 patches, last padded


def test_letterbox_keeps_aspect_and_pads_114():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[..., 0] = 255  # red in RGB -> last channel in BGR
    x, r = letterbox(frame)
    assert x.shape == (3, 416, 416) and r == pytest.approx(2.08)
    assert x[2, 0, 0] == 255 and x[0, 0, 0] == 0  # BGR order
    assert (x[:, 300:, :] == 114).all()  # padding below the 208-row image


def test_nms_drops_overlapping_boxes_only():
    boxes = np.array([[0, 0, 1, 1], [0.02, 0, 1, 1], [2, 2, 3, 3]], np.float32)
    assert nms(boxes, np.array([0.9, 0.8, 0.7])) == [0, 2]


def test_results_validate_and_round_trip():
    with pytest.raises(ValueError):
        Tag("dog", 1.5)
    with pytest.raises(ValueError):
        Box("dog", 0.5, (0.5, 0, 0.2, 1))
    with pytest.raises(ValueError):
        ObjectTag("dog", 0.5, 0)
    p = SegmentPerception(heard=[Tag("Bark", 0.6)], seen=[Tag("golden retriever", 0.4)],
                          objects=[ObjectTag("dog", 0.8, 2)], boxes=[Box("dog", 0.8, (0.1, 0.2, 0.5, 0.9))],
                          text=[TextLine("Summer Sale", 0.95)], audio_features=np.zeros((3, 1024)))
    d = json.loads(json.dumps(p.to_dict()))
    assert "audio_features" not in d
    assert SegmentPerception.from_dict(d).to_dict() == d


class _BagOfWords:
    """A stand-in text encoder for the arithmetic only: one axis per known word (not a model)."""

    dim = 4
    words = ["dog", "cat", "bark", "sale"]

    def encode_text(self, texts, normalize=True):
        out = np.array([[float(w in t.lower()) for w in self.words] for t in texts], np.float32) + 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_modality_texts_and_embeddings_weigh_labels():
    p = SegmentPerception(seen=[Tag("dog", 0.6), Tag("cat", 0.2)], objects=[ObjectTag("cat", 0.9, 1)],
                          heard=[Tag("Bark", 0.7)])
    texts = modality_texts(p)
    assert texts["seen"][0] == ("cat", 0.9) and ("dog", 0.6) in texts["seen"]  # a COCO object lifts its label
    e = modality_embeddings(p, _BagOfWords())
    assert e["read"] is None
    assert np.linalg.norm(e["seen"]) == pytest.approx(1.0, abs=1e-5)
    assert e["seen"][1] > e["seen"][0] > 0  # cat (0.9) outweighs dog (0.6)
    assert int(np.argmax(e["heard"])) == 2
    empty = modality_embeddings(SegmentPerception(), _BagOfWords())
    assert empty == {"seen": None, "heard": None, "read": None}


def test_missing_model_is_named_not_faked(tmp_path):
    with pytest.raises(ModelMissing) as e:
        files.find_model("yamnet.tflite", dirs=[tmp_path])
    assert "yamnet.tflite" in e.value.message and "avu models install" in e.value.message
    p = Perceiver(enable=("heard", "seen"), search_dirs=[tmp_path])
    assert p.available == () and set(p.missing) == {"heard", "seen"}
    assert "yamnet.tflite" in p.missing["heard"] and "tf2_mobilenet_v2_1.0_224_ptq.tflite" in p.missing["seen"]
    out = p.perceive(np.zeros((2, 32, 32, 3), np.uint8), np.zeros(32000, np.float32))
    assert out.heard == [] and out.seen == [] and out.audio_features is None


def test_wrong_file_is_refused(tmp_path):
    pin = files.PINS["coco80_labels.txt"]
    (tmp_path / pin.name).write_bytes(b"x" * pin.bytes)  # right size, wrong contents
    with pytest.raises(ModelMissing, match="sha256"):
        files.find_model(pin.name, dirs=[tmp_path])
    (tmp_path / pin.name).write_bytes(b"person\n")
    with pytest.raises(ModelMissing, match="bytes"):
        files.find_model(pin.name, dirs=[tmp_path])


def test_models_dir_and_env_come_first(tmp_path, monkeypatch):
    monkeypatch.setenv("AVU_MODELS", str(tmp_path / "env"))
    assert files.search_dirs()[0] == tmp_path / "env"
    assert files.search_dirs(tmp_path / "opt")[0] == tmp_path / "opt"
    assert files.search_dirs()[-1] == shared_models()


# -- golden checks on shared media -----------------------------------------------------------
@pytest.fixture(scope="module")
def perceiver():
    if not HAVE_MODELS:
        pytest.skip(f"pretrained models absent: {shared_models()}")
    return Perceiver(search_dirs=[shared_models()])


@needs_models
def test_install_copies_and_verifies(tmp_path):
    done = files.install(shared_models(), tmp_path)
    assert sorted(p.name for p in done) == sorted(files.PINS)
    assert files.find_model("yamnet.tflite", dirs=[tmp_path]) == tmp_path / "yamnet.tflite"


def test_chainsaw_is_heard(perceiver, shared_data):
    from avu.data.esc10 import clip_name, read_meta
    from avu.media import read_audio

    root = shared_data / "esc10"
    rows = [r for r in read_meta(root) if r["category"] == "chainsaw"][:3]
    for r in rows:
        wave = read_audio(root / "audio" / clip_name(r)).waveform.numpy()
        heard = [t.label for t in perceiver.perceive(None, wave).heard]
        assert "Chainsaw" in heard, (r, heard)


def _image(shared_data, name):
    from PIL import Image

    with Image.open(shared_data / "coco" / "images" / name) as im:
        return np.asarray(im.convert("RGB"))[None]


def test_people_are_detected(perceiver, shared_data):
    p = perceiver.perceive(_image(shared_data, "000000000139.jpg"), None)
    assert "person" in [o.label for o in p.objects]
    assert any(b.label == "person" for b in p.boxes)
    assert p.image_features.shape == (1, 1280)


def test_broccoli_is_seen(perceiver, shared_data):
    p = perceiver.perceive(_image(shared_data, "000000019221.jpg"), None)
    assert p.seen[0].label == "broccoli" and p.seen[0].score > 0.5


@pytest.mark.slow
def test_manifesto_title_card_reads(perceiver, shared_data):
    from avu.media import read_frames

    frames = read_frames(shared_data / "video" / "manifesto.mp4", times=[1.0]).data.numpy()
    text = " ".join(t.text for t in Perceiver(enable=("read",)).perceive(frames, None).text)
    assert "Audible Socialism" in text and "Communist Party" in text


def _card(text: str) -> np.ndarray:
    """A 640x360 title card: white words on dark blue (DejaVu Sans Bold), as one frame [1, H, W, 3]."""
    from PIL import Image, ImageDraw, ImageFont

    font = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
    if not font.is_file():
        pytest.skip("the DejaVu fonts are needed to draw a title card (.ci/run installs fonts-dejavu-core)")
    im = Image.new("RGB", (640, 360), (32, 32, 64))
    ImageDraw.Draw(im).text((40, 160), text, fill=(255, 255, 255), font=ImageFont.truetype(str(font), 28))
    return np.asarray(im)[None]


def test_text_read_is_reused_within_a_batch_only():
    """Two cards alike but for their words (thumbnails ~1 grey level apart, under the reuse
    threshold): a batch reads its own card whatever batch came before (an embed actor interleaves
    videos), and a card repeated inside a batch is read once."""
    reader = Perceiver(enable=("read",))
    if "read" in reader.missing:
        pytest.skip(reader.missing["read"])
    model, calls = reader._models["read"], []
    real = model.read
    model.read = lambda frame: calls.append(1) or real(frame)
    a, b = _card("HARBOUR FESTIVAL TICKETS"), _card("SUMMER GARDEN CONCERT")
    first = reader.perceive_batch([(a, None), (a, None)])
    assert len(calls) == 1 and all("FESTIVAL" in " ".join(t.text for t in p.text).upper() for p in first)
    second = reader.perceive_batch([(b, None)])
    assert len(calls) == 2 and "GARDEN" in " ".join(t.text for t in second[0].text).upper()
    assert "GARDEN" in " ".join(t.text for t in reader.perceive(b, None).text).upper()
