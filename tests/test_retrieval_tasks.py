"""Retrieval on the shared core with the benchmarks' own file formats: COCO captions and Karpathy
splits on the real shared images, LSMDC files written here in the official format with the shared
clips standing in for movie clips, and a local pretrained backbone checkpoint."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from avu.train.config import TrainConfig
from avu.train.loop import build_model, fit

SMALL_VISUAL = {"visual": {"width": 8, "stages": 3, "frame_size": 64}}


def coco_cfg(tmp_path, **kw):
    return TrainConfig.from_yaml("configs/coco.yaml", **{"out": str(tmp_path / "coco"), "model_overrides": SMALL_VISUAL,
                                                         "data": {"size": 64}, "epochs": 2, "eval_every": 1,
                                                         "batch_size": 16, **kw})


def test_coco_task_splits_the_shared_images_and_scores_five_captions(tmp_path, shared_data):
    from avu.train.tasks.image_text import CocoTask

    task = CocoTask(coco_cfg(tmp_path))
    assert len(task.splits["train"]) == 104 and len(task.splits["test"]) == 50
    assert len(task.captions("test")) == 250  # 5 per image
    result = fit(coco_cfg(tmp_path, epochs=15, eval_every=15, lr=3e-3), task=task)
    test, train = result["test"], result["val"]  # val = the training images (mechanics check)
    assert set(test["t2v"]) >= {"R@1", "R@5", "R@10", "MdR", "MnR"} and test["standard"] is False
    assert train["v2t"]["R@10"] > 25  # memorising the training images works (chance is ~10)


def test_coco_karpathy_split_file_drives_the_splits(tmp_path, shared_data):
    from avu.train.tasks.image_text import CocoTask

    coco = json.loads((shared_data / "coco" / "captions_val2017.json").read_text())
    present = {p.name for p in (shared_data / "coco" / "images").iterdir()}
    images = [im for im in coco["images"] if im["file_name"] in present][:12]
    caps = {}
    for a in coco["annotations"]:
        caps.setdefault(a["image_id"], []).append(a["caption"])
    entries = [{"filepath": "images", "filename": im["file_name"], "imgid": i,
                "split": "train" if i < 6 else ("restval" if i < 8 else ("val" if i < 10 else "test")),
                "sentences": [{"raw": c} for c in caps[im["id"]][:5]]} for i, im in enumerate(images)]
    karpathy = tmp_path / "dataset_coco.json"
    karpathy.write_text(json.dumps({"dataset": "coco", "images": entries}))
    cfg = coco_cfg(tmp_path, data={"karpathy": str(karpathy), "images": str(shared_data / "coco"), "size": 64})
    task = CocoTask(cfg)
    assert {k: len(v) for k, v in task.splits.items()} == {"train": 8, "val": 2, "test": 2}  # restval joins train
    result = fit(cfg, task=task)
    assert result["test"]["n"] == 2


def test_a_local_pretrained_backbone_is_used_for_training(tmp_path, shared_data):
    import torchvision

    ref = torchvision.models.resnet18(weights=None)
    torch.save(ref.state_dict(), tmp_path / "resnet18.pth")
    cfg = coco_cfg(tmp_path, model_overrides={"visual": {"backbone": "torchvision:resnet18", "frame_size": 64,
                                                         "checkpoint": str(tmp_path / "resnet18.pth")}})
    from avu.train.tasks.image_text import CocoTask

    task = CocoTask(cfg)
    model = build_model(cfg, task)
    assert torch.equal(model.visual.net.layer1[0].conv1.weight, ref.layer1[0].conv1.weight)
    result = fit(TrainConfig.from_dict({**cfg.to_dict(), "epochs": 1}), task=task)
    assert result["test"]["n"] == 50


LSMDC_LINES = [  # (movie folder, clip start, end, shared clip, sentence)
    ("0001_Big_Buck_Bunny", "00.00.01.000", "00.00.05.000", "big_buck_bunny_240p_5s.mp4",
     "A big rabbit wakes up in the meadow."),
    ("0001_Big_Buck_Bunny", "00.01.00.000", "00.01.30.000", "big_buck_bunny_480p_30s.mp4",
     "SOMEONE watches the butterflies."),
    ("0002_Tears_of_Steel", "00.10.00.000", "00.10.30.000", "tears_of_steel_battle.webm",
     "Soldiers fight robots on a bridge."),
    ("0003_A_Flower_Film", "00.00.00.000", "00.00.10.000", "flower.webm", "A flower opens in the sun."),
]


def write_lsmdc(tmp_path, shared):
    ann, vids = tmp_path / "ann", tmp_path / "movies"
    ann.mkdir()
    rows = []
    for movie, a, b, src, sentence in LSMDC_LINES:
        clip_id = f"{movie}_{a}-{b}"
        (vids / movie).mkdir(parents=True, exist_ok=True)
        (vids / movie / f"{clip_id}{(shared / 'video' / src).suffix}").symlink_to(shared / "video" / src)
        rows.append("\t".join([clip_id, a, b, a, b, sentence]))
    missing = "0009_Lost_Film_00.00.01.000-00.00.02.000\t00.00.01.000\t00.00.02.000\t00.00.01.000\t00.00.02.000\tGone."
    (ann / "LSMDC16_annos_training.csv").write_text("\n".join(rows) + "\n")
    (ann / "LSMDC16_annos_val.csv").write_text("\n".join(rows[:2]) + "\n")
    (ann / "LSMDC16_challenge_1000_publictect.csv").write_text("\n".join(rows[1:] + [missing]) + "\n")
    return ann, vids


def test_lsmdc_pipeline_trains_and_evaluates_end_to_end(tmp_path, shared_data):
    ann, vids = write_lsmdc(tmp_path, shared_data)
    out = tmp_path / "run"
    overrides = ["--set", f"data.annotations={ann}", "--set", f"data.videos={vids}", "--set", "epochs=2",
                 "--set", "batch_size=2", "--set", "data.num_frames=4", "--set", "data.size=64",
                 "--set", "model_overrides.visual.frame_size=64", "--set", "model_overrides.visual.num_frames=4",
                 "--set", "model_overrides.visual.width=8", "--set", f"data_cache={tmp_path / 'cache'}"]
    p = subprocess.run([sys.executable, "-m", "avu", "train", "configs/lsmdc.yaml", "--out", str(out), *overrides],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert (out / "best" / "model.safetensors").is_file()
    p = subprocess.run([sys.executable, "-m", "avu", "eval", "lsmdc", "--annotations", str(ann), "--videos",
                        str(vids), "--checkpoint", str(out / "best"), "--json"],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(p.stdout)
    assert res["n"] == 3 and res["protocol"]["standard"] is False and res["protocol"]["n_clips"] == 4
    assert len(res["skipped"]) == 1 and res["skipped"][0].startswith("0009_Lost_Film")
    assert 1 <= res["t2v"]["MdR"] <= 3


def test_lsmdc_needs_its_folders(tmp_path):
    from avu.train.tasks.lsmdc import LsmdcTask

    with pytest.raises(ValueError, match="set data.annotations"):
        LsmdcTask(TrainConfig.from_yaml("configs/lsmdc.yaml"))
