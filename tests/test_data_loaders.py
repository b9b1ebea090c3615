"""Dataset loaders: the real COCO captions and images in ../shared/data/coco (skipped when absent),
Karpathy split files and LSMDC annotation files written here in the official formats, the
5-captions protocol, the COCO 1K / 5K folds and the image-text evaluation."""
from __future__ import annotations

import json

import numpy as np
import pytest

from avu import metrics
from avu.data import coco, lsmdc


@pytest.fixture(scope="module")
def coco_dir(shared_data):
    d = shared_data / "coco"
    if not (d / "images").is_dir():
        pytest.skip(f"{d}/images absent: the shared COCO sample is missing")
    return d


# -- COCO, official captions files ----------------------------------------------------------------
def test_val2017_reports_the_images_not_present(coco_dir):
    with pytest.raises(FileNotFoundError, match=r"4896 of 5000 images are missing .*missing='skip'"):
        coco.load_coco_captions(coco_dir / "captions_val2017.json", coco_dir / "images")


def test_real_coco_captions(coco_dir):
    with pytest.warns(UserWarning, match="4896 of 5000 images are missing"):
        val = coco.load_coco_captions(coco_dir / "captions_val2017.json", coco_dir / "images", missing="skip")
    with pytest.warns(UserWarning, match="30 of 80 images are missing"):
        train = coco.load_coco_captions(coco_dir / "captions_train2017_subset.json", coco_dir / "images",
                                        missing="skip")
    assert len(val) == 104 and len(train) == 50  # the 154 images of the README, 770 captions
    assert {im.split for im in val} == {"val2017"} and {im.split for im in train} == {"train2017_subset"}
    images = val + train
    assert len({im.image_id for im in images}) == 154 and len(list((coco_dir / "images").iterdir())) == 154
    assert all(im.path.is_file() and len(im.captions) == 5 for im in images)
    assert sum(len(im.captions) for im in images) == 770
    first = next(im for im in val if im.image_id == 139)  # the first val2017 image by id
    assert first.path.name == "000000000139.jpg"
    assert all(c and c == c.strip() for c in first.captions)
    texts, owner = coco.protocol_captions(images)
    assert len(texts) == 770 and owner.tolist() == np.repeat(np.arange(154), 5).tolist()
    folds = coco.coco_protocol_folds(images, "1k")
    assert folds.ranges == ((0, 154),) and not folds.standard and "fewer than one 1000-image fold" in folds.note


def test_coco_captions_format_errors(tmp_path):
    f = tmp_path / "captions_x.json"
    f.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}],
                             "annotations": [{"image_id": 2, "id": 5, "caption": "A dog."}]}))
    with pytest.raises(ValueError, match=r"captions_x.json: annotations\[0\] refers to image id 2"):
        coco.load_coco_captions(f, tmp_path)
    f.write_text(json.dumps({"images": [{"file_name": "a.jpg"}], "annotations": []}))
    with pytest.raises(ValueError, match=r"images\[0\] has no 'id'"):
        coco.load_coco_captions(f, tmp_path)
    f.write_text("{not json")
    with pytest.raises(ValueError, match="captions_x.json: not valid JSON"):
        coco.load_coco_captions(f, tmp_path)
    with pytest.raises(ValueError, match="missing must be"):
        f.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": []}))
        coco.load_coco_captions(f, tmp_path, missing="ignore")


# -- Karpathy split files -------------------------------------------------------------------------
def _karpathy_entry(imgid, filename, split, captions, filepath=None):
    e = {"filename": filename, "imgid": imgid, "split": split,
         "sentences": [{"tokens": c.lower().rstrip(".").split(), "raw": c, "imgid": imgid, "sentid": 5 * imgid + k}
                       for k, c in enumerate(captions)], "sentids": [5 * imgid + k for k in range(len(captions))]}
    if filepath is not None:
        e["filepath"], e["cocoid"] = filepath, int(filename.split(".")[0])
    return e


@pytest.fixture(scope="module")
def real_val(coco_dir):
    data = json.loads((coco_dir / "captions_val2017.json").read_text())
    present = {p.name for p in (coco_dir / "images").iterdir()}
    caps: dict[int, list[str]] = {}
    for a in data["annotations"]:
        caps.setdefault(a["image_id"], []).append(a["caption"])
    return [(im["file_name"], caps[im["id"]]) for im in data["images"] if im["file_name"] in present][:6]


def _write_karpathy(path, real_val, coco_style=True):
    splits = ["test", "test", "restval", "train", "val", "test"]
    entries = [_karpathy_entry(i, name, s, caps, "images" if coco_style else None)
               for i, ((name, caps), s) in enumerate(zip(real_val, splits))]
    entries[5]["sentences"] = entries[5]["sentences"][:4]  # an image with only 4 captions
    entries.append(_karpathy_entry(6, "000000999999.jpg", "test", ["x"] * 5, "images" if coco_style else None))
    path.write_text(json.dumps({"images": entries, "dataset": "coco" if coco_style else "flickr30k"}))
    return path


def test_karpathy_coco_format(coco_dir, real_val, tmp_path):
    f = _write_karpathy(tmp_path / "dataset_coco.json", real_val)
    with pytest.raises(FileNotFoundError, match="1 of 7 images are missing .*000000999999.jpg"):
        coco.load_karpathy(f, coco_dir)
    with pytest.warns(UserWarning, match="1 of 4 images are missing"):
        test = coco.load_karpathy(f, coco_dir, "test", missing="skip")
    assert [im.image_id for im in test] == [0, 1, 5] and {im.split for im in test} == {"test"}
    assert test[0].path == coco_dir / "images" / real_val[0][0] and test[0].path.is_file()
    assert test[0].captions == tuple(c.strip() for c in real_val[0][1])
    assert [im.image_id for im in coco.load_karpathy(f, coco_dir, "train")] == [3]
    both = coco.load_karpathy(f, coco_dir, "train", restval_as_train=True)
    assert [(im.image_id, im.split) for im in both] == [(2, "train"), (3, "train")]
    with pytest.raises(ValueError, match=r"image 5 \(.*\) has 4 captions; the protocol needs 5"):
        coco.protocol_captions(test)
    texts, owner = coco.protocol_captions(test, min_captions=4)
    assert len(texts) == 14 and owner.tolist() == [0] * 5 + [1] * 5 + [2] * 4


def test_karpathy_flickr_format_and_errors(coco_dir, real_val, tmp_path):
    f = _write_karpathy(tmp_path / "dataset_flickr30k.json", real_val, coco_style=False)
    with pytest.warns(UserWarning):
        images = coco.load_karpathy(f, coco_dir / "images", missing="skip")  # no filepath: root/filename
    assert len(images) == 6 and all(im.path.parent == coco_dir / "images" for im in images)
    data = json.loads(f.read_text())
    data["images"][1]["split"] = "holdout"
    f.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"dataset_flickr30k.json: images\[1\] has split 'holdout'"):
        coco.load_karpathy(f, coco_dir / "images")
    del data["images"][1]["sentences"]
    data["images"][1]["split"] = "val"
    f.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"images\[1\] has no 'sentences'"):
        coco.load_karpathy(f, coco_dir / "images")
    with pytest.raises(ValueError, match="split must be one of"):
        coco.load_karpathy(f, coco_dir / "images", split="dev")


# -- protocol folds and evaluation ----------------------------------------------------------------
@pytest.mark.parametrize("n, protocol, ranges, standard, words", [
    (5000, "1k", tuple((k * 1000, (k + 1) * 1000) for k in range(5)), True, "5 fold(s) of 1000"),
    (1000, "1k", ((0, 1000),), True, "1 fold(s) of 1000"),  # Flickr30k's test set
    (2500, "1k", ((0, 1000), (1000, 2000)), False, "the last 500 of 2500 images are left out"),
    (5000, "5k", ((0, 5000),), True, "1 fold(s) of 5000"),
    (25000, "5k", ((0, 5000),), False, "left out"),
    (300, "5k", ((0, 300),), False, "only 300 images"),
])
def test_protocol_folds(n, protocol, ranges, standard, words):
    folds = coco.coco_protocol_folds(range(n), protocol)
    assert folds.ranges == ranges and folds.standard is standard and words in folds.note
    with pytest.raises(ValueError, match="protocol must be one of"):
        coco.coco_protocol_folds(range(n), "10k")


def test_evaluate_image_text_perfect_and_averaged():
    rng = np.random.default_rng(0)
    img = rng.normal(size=(2000, 16))
    owner = np.repeat(np.arange(2000), 2)
    txt = img[owner] * 3.0  # cosine 1 with its own image: perfect, whatever the scale
    txt[2000:] = rng.normal(size=(2000, 16))  # the second fold's texts are noise
    out = coco.evaluate_image_text(img, txt, owner, "1k")
    assert out["folds"] == 2 and out["standard"] is False
    first, second = out["per_fold"]
    assert first["images"] == (0, 1000) and first["i2t"]["R@1"] == first["t2i"]["R@1"] == 100.0
    assert second["t2i"]["R@10"] < 10.0  # chance is 1%
    for d in ("i2t", "t2i"):
        assert out[d]["R@5"] == pytest.approx((first[d]["R@5"] + second[d]["R@5"]) / 2)
        assert out[d]["MnR"] == pytest.approx((first[d]["MnR"] + second[d]["MnR"]) / 2)
    assert out["i2t"]["n_queries"] == 2000 and out["t2i"]["n_queries"] == 4000
    assert out["rsum"] == pytest.approx(sum(out[d][k] for d in ("i2t", "t2i") for k in ("R@1", "R@5", "R@10")))
    # one fold is exactly bidirectional_retrieval on that fold's cosine matrix
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    ref = metrics.bidirectional_retrieval(unit(txt[2000:]) @ unit(img[1000:]).T, owner[2000:] - 1000)
    assert second["i2t"] == pytest.approx(ref["v2t"]) and second["t2i"] == pytest.approx(ref["t2v"])


def test_evaluate_image_text_bad_input():
    with pytest.raises(ValueError, match="same d"):
        coco.evaluate_image_text(np.zeros((3, 4)), np.zeros((3, 5)), [0, 1, 2])
    with pytest.raises(ValueError, match="one entry per text"):
        coco.evaluate_image_text(np.ones((3, 4)), np.ones((4, 4)), [0, 1, 2])
    with pytest.raises(ValueError, match="text 2 points at image 7"):
        coco.evaluate_image_text(np.ones((3, 4)), np.ones((3, 4)), [0, 1, 7])


def test_captioned_image_validates():
    with pytest.raises(ValueError, match="non-empty string"):
        coco.CaptionedImage(1, "a.jpg", ("A cat.", " "), "val")
    with pytest.raises(ValueError, match="not one string"):
        coco.CaptionedImage(1, "a.jpg", "A cat.", "val")
    with pytest.raises(ValueError, match="image_id must be an integer"):
        coco.CaptionedImage("1", "a.jpg", ("A cat.",), "val")


# -- LSMDC ----------------------------------------------------------------------------------------
LSMDC_LINES = [
    "0001_American_Beauty_00.00.51.926-00.00.54.129\t00.00.51.926\t00.00.54.129\t00.00.51.800\t00.00.54.300\t"
    "SOMEONE wakes up, rubbing his eyes.",
    "1051_Harry_Potter_and_the_goblet_of_fire_01.02.03.004-01.02.05.500\t01.02.03.004\t01.02.05.500\t"
    "01.02.02.900\t01.02.05.600\tHe glances at SOMEONE's wand.",
    "3041_JUST_GO_WITH_IT_00.00.41.263-00.00.43.491\t00.00.41.263\t00.00.43.491\t00.00.41.263\t00.00.43.491\t"
    "Now, in a bar, SOMEONE sips a drink.",
]


def _write(path, lines, end="\n"):
    path.write_text(end.join(lines) + end, encoding="utf-8")
    return path


def test_load_lsmdc(tmp_path):
    clips = lsmdc.load_lsmdc(_write(tmp_path / "LSMDC16_annos_val.csv", LSMDC_LINES + [""]))
    assert [c.movie for c in clips] == ["0001_American_Beauty", "1051_Harry_Potter_and_the_goblet_of_fire",
                                        "3041_JUST_GO_WITH_IT"]
    a, b, _ = clips
    assert (a.start_aligned, a.end_aligned, a.start_extracted, a.end_extracted) == pytest.approx(
        (51.926, 54.129, 51.8, 54.3))
    assert b.start_aligned == pytest.approx(3600 + 2 * 60 + 3.004) and b.duration == pytest.approx(2.7)
    assert b.sentence == "He glances at SOMEONE's wand."
    assert lsmdc.load_lsmdc(_write(tmp_path / "crlf.csv", LSMDC_LINES, "\r\n")) == clips


@pytest.mark.parametrize("line, message", [
    ("0001_American_Beauty_00.00.51.926-00.00.54.129\t00.00.51.926\t00.00.54.129\t00.00.51.800\tWakes.", "got 5"),
    ("0001_American_Beauty_00.00.51.926-00.00.54.129\t00.00.51.926\t00.00.54.129\t00.00.51.800\t00.00.54.300\t",
     "the sentence is empty"),
    ("0001_American_Beauty_00.00.51.926-00.00.54.129\t00.00.5.926\t00.00.54.129\t00.00.51.800\t00.00.54.300\tX.",
     "not an LSMDC time"),
    ("0001_American_Beauty\t00.00.51.926\t00.00.54.129\t00.00.51.800\t00.00.54.300\tX.", "not an LSMDC clip id"),
    ("0001_American_Beauty_00.00.51.926-00.00.54.129\t00.00.54.129\t00.00.51.926\t00.00.51.800\t00.00.54.300\tX.",
     "end_aligned .* is before start_aligned"),
])
def test_lsmdc_bad_line_names_file_and_line(tmp_path, line, message):
    f = _write(tmp_path / "LSMDC16_annos_training.csv", LSMDC_LINES[:2] + [line])
    with pytest.raises(ValueError, match=rf"LSMDC16_annos_training.csv:3: .*{message}"):
        lsmdc.load_lsmdc(f)


def test_find_clip(tmp_path):
    a, b, c = lsmdc.load_lsmdc(_write(tmp_path / "annos.csv", LSMDC_LINES))
    root = tmp_path / "videos"
    (root / a.movie).mkdir(parents=True)
    for name in (f"{a.movie}/{a.clip_id}.mp4", f"{a.movie}/{a.clip_id}.avi", f"{a.clip_id}.avi", f"{b.clip_id}.webm"):
        (root / name).touch()  # empty placeholders: only the lookup is tested
    assert lsmdc.find_clip(root, a) == root / a.movie / f"{a.clip_id}.avi"  # movie folder first, avi first
    assert lsmdc.find_clip(str(root), b.clip_id) == root / f"{b.clip_id}.webm"  # flat layout
    with pytest.raises(FileNotFoundError, match=f"no video for clip {c.clip_id}"):
        lsmdc.find_clip(root, c)


def test_split_files_and_test_protocol(tmp_path):
    with pytest.raises(FileNotFoundError, match="has none of the official LSMDC files"):
        lsmdc.lsmdc_split_files(tmp_path)
    with pytest.raises(FileNotFoundError, match="folder not found"):
        lsmdc.lsmdc_split_files(tmp_path / "nope")
    _write(tmp_path / "LSMDC16_annos_training.csv", LSMDC_LINES)
    lines = [f"0005_Chinatown_00.{m:02d}.{s:02d}.000-00.{m:02d}.{s:02d}.500\t00.{m:02d}.{s:02d}.000\t"
             f"00.{m:02d}.{s:02d}.500\t00.{m:02d}.{s:02d}.000\t00.{m:02d}.{s:02d}.500\tSOMEONE looks, {m}:{s}."
             for m in range(20) for s in range(50)]
    _write(tmp_path / "LSMDC16_challenge_1000_publictect.csv", lines)
    files = lsmdc.lsmdc_split_files(tmp_path)
    assert files == {"train": tmp_path / "LSMDC16_annos_training.csv",
                     "test": tmp_path / "LSMDC16_challenge_1000_publictect.csv"}
    check = lsmdc.test_protocol(lsmdc.load_lsmdc(files["test"]))
    assert check["n_clips"] == 1000 and check["standard"] is True
    with pytest.warns(UserWarning, match="3 test clips, not the protocol's 1000"):
        assert lsmdc.test_protocol(lsmdc.load_lsmdc(files["train"]))["standard"] is False


def test_lsmdc_clip_validates():
    with pytest.raises(ValueError, match="belongs to movie '0001_American_Beauty'"):
        lsmdc.LsmdcClip("0001_American_Beauty_00.00.51.926-00.00.54.129", "0001_American", 1, 2, 1, 2, "X.")
    assert lsmdc.parse_time("00.00.51.926") == pytest.approx(51.926)
    with pytest.raises(ValueError, match="minutes and seconds < 60"):
        lsmdc.parse_time("00.61.00.000")
