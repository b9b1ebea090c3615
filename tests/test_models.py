"""The shared model: towers, the composite AVModel, configs, registry and safe checkpoints."""
from __future__ import annotations

import pickle

import pytest
import torch

from avu.models.model import AVModel, ModelConfig, prepare_frames
from avu.models.registry import (
    create_model,
    get_model_config,
    list_models,
    load_backbone_weights,
    load_checkpoint,
    save_checkpoint,
)
from avu.models.text_tower import TextConfig, WordEncoder, build_vocab, masked_pool, tokenize
from avu.models.visual import VisualConfig, create_visual_tower

CAPTIONS = ["a red circle moves left while a dog barks", "rain falls as a blue square moves up"]


def tiny_config(**changes) -> ModelConfig:
    cfg = get_model_config("avshapes_student")
    return cfg.replace(text={**cfg.to_dict()["text"], "vocab": list(build_vocab(CAPTIONS))}, **changes)


def clip(b=2, t=4, size=64, audio=True):
    g = torch.Generator().manual_seed(0)
    return {"video": torch.rand(b, t, 3, size, size, generator=g),
            "audio": torch.randn(b, 64, 200, generator=g) if audio else None}


def test_registry_lists_and_builds_named_models():
    names = list_models()
    assert {"avshapes_fused", "avshapes_student"} <= set(names)
    with pytest.raises(ValueError, match="unknown model 'nope'; available: .*avshapes_fused"):
        get_model_config("nope")
    cfg = ModelConfig.from_dict(get_model_config("avshapes_fused").to_dict())
    assert cfg == get_model_config("avshapes_fused")
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({"embed_dim": 8, "colour": "red"})
    with pytest.raises(ValueError, match="tri"):
        ModelConfig(fusion="attention", retrieval="tri")


@pytest.mark.parametrize("backbone,size,t,dim", [("frame_cnn", 64, 4, 32), ("torchvision:resnet18", 32, 2, 512),
                                                 ("torchvision_video:r3d_18", 32, 4, 512), ("x3d", 32, 4, 192)])
def test_visual_towers_give_token_sequences_and_gradients(backbone, size, t, dim):
    tower = create_visual_tower(VisualConfig(backbone=backbone, width=8, frame_size=size, num_frames=t))
    x = torch.rand(2, t, 3, size, size, requires_grad=True)
    y = tower(x)
    assert y.shape[0] == 2 and y.shape[2] == dim == tower.out_dim
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    img = tower(torch.rand(2, 3, size, size)) if backbone.startswith(("frame", "torchvision:")) else None
    if img is not None:
        assert img.shape == (2, 1, dim)


def test_frame_cnn_sees_the_order_of_frames():
    tower = create_visual_tower(VisualConfig(width=8)).eval()
    x = torch.rand(1, 4, 3, 64, 64)
    assert not torch.allclose(tower(x).mean(1), tower(x.flip(1)).mean(1))  # the temporal convolution


def test_word_encoder_tokenises_with_its_vocabulary():
    vocab = build_vocab(CAPTIONS)
    assert vocab[:2] == ("<pad>", "<unk>") and "circle" in vocab
    enc = WordEncoder(TextConfig(vocab=vocab, dim=16))
    ids = enc.featurize(["A red CIRCLE!", "zebra"])
    assert ids[0, :3].tolist() == [vocab.index(w) for w in tokenize("a red circle")]
    assert ids[1, 0].item() == 1 and ids[1, 1:].eq(0).all()  # unknown word, then padding
    tokens, mask = enc(ids)
    assert tokens.shape == (2, 3, 16) and mask.tolist() == [[True] * 3, [True, False, False]]
    pooled = masked_pool(tokens, mask)
    assert torch.allclose(pooled[1, :16], tokens[1, 0])  # the mean ignores padding


def test_model_encodes_every_modality_to_unit_vectors():
    model = AVModel(tiny_config()).eval()
    t = model.encode_text(CAPTIONS)
    v = model.encode_video(clip())
    a = model.encode_audio(clip()["audio"])
    i = model.encode_image(torch.rand(2, 3, 64, 64))
    no_audio = model.encode_video(clip(audio=False))
    for z in (t, v, a, i, no_audio):
        assert z.shape == (2, 64) and torch.allclose(z.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert not torch.allclose(v, no_audio)
    sim = t @ v.T  # retrieval is one matrix product
    assert sim.shape == (2, 2)


def test_text_tri_video_embedding_is_the_mean_of_stream_embeddings():
    model = AVModel(tiny_config(fusion="late", retrieval="tri", fusion_options={})).eval()
    parts = model.video_embeddings(clip())
    assert torch.allclose(parts["video"], (parts["visual"] + parts["audio"]) / 2)
    t = model.encode_text(CAPTIONS)
    assert torch.allclose(t @ parts["video"].T, ((t @ parts["visual"].T) + (t @ parts["audio"].T)) / 2, atol=1e-6)


def test_single_modality_models_refuse_clips_without_their_stream():
    model = AVModel(tiny_config(modalities=["audio"]))
    assert model.visual is None
    with pytest.raises(ValueError, match="reads \\('audio',\\)"):
        model.encode_video({"video": torch.rand(1, 4, 3, 64, 64), "audio": None})


def test_prepare_frames_converts_decoded_frames():
    frames = torch.full((3, 48, 80, 3), 255, dtype=torch.uint8)
    x = prepare_frames(frames, 32)
    assert x.shape == (3, 3, 32, 32) and torch.allclose(x, torch.ones_like(x))


def test_checkpoint_round_trip_is_exact(tmp_path):
    model = AVModel(tiny_config()).eval()
    folder = save_checkpoint(model, tmp_path / "ck", epoch=3)
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "model.safetensors"]
    again = load_checkpoint(folder)
    assert again.cfg == model.cfg
    x = clip()
    assert torch.equal(model.encode_video(x), again.encode_video(x))
    assert torch.equal(model.encode_text(CAPTIONS), again.encode_text(CAPTIONS))
    via_create = create_model("avshapes_student", checkpoint=folder / "model.safetensors")
    assert torch.equal(via_create.eval().encode_text(CAPTIONS), model.encode_text(CAPTIONS))
    (folder / "model.json").write_text("{not json")
    with pytest.raises(ValueError, match="model.json: not a valid avu model config"):
        load_checkpoint(folder)


def test_backbone_checkpoints_load_in_three_formats_and_pickles_are_refused(tmp_path):
    import torchvision

    ref = torchvision.models.resnet18(weights=None)
    state = ref.state_dict()
    torch.save(state, tmp_path / "torchvision.pth")
    torch.save({"model_state": state}, tmp_path / "pytorchvideo.pyth")
    from safetensors.torch import save_file

    save_file({f"visual.{k}": v.contiguous() for k, v in state.items()}, str(tmp_path / "open_clip.safetensors"))
    for name in ("torchvision.pth", "pytorchvideo.pyth", "open_clip.safetensors"):
        tower = create_visual_tower(VisualConfig(backbone="torchvision:resnet18", frame_size=32))
        report = load_backbone_weights(tower, tmp_path / name)
        assert "conv1.weight" in report["loaded"]
        assert torch.equal(tower.net.conv1.weight, ref.conv1.weight)
    with open(tmp_path / "evil.pth", "wb") as f:  # an arbitrary pickled object: never unpickled
        pickle.dump({"x": torch.nn.Linear(2, 2)}, f)
    tower = create_visual_tower(VisualConfig(backbone="torchvision:resnet18", frame_size=32))
    with pytest.raises(ValueError, match="evil.pth: not a weights-only torch checkpoint"):
        load_backbone_weights(tower, tmp_path / "evil.pth")
    save_file({"unrelated": torch.zeros(3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="none of its 1 tensors match"):
        load_backbone_weights(tower, tmp_path / "other.safetensors")
