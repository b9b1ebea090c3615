"""The model's building blocks: gated embedding unit, the four fusions, MMS / InfoNCE (checked
against values computed by hand), the adversarial cross-modal loss and distillation. Tiny tensors."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from avu.models.distill import DistillationLoss, attention_kd, feature_kd, soft_label_kd
from avu.models.fusion import FUSION_KINDS, AttentionFusion, LateFusion, create_fusion
from avu.models.gated import ContextGating, GatedEmbeddingUnit
from avu.models.losses import (
    AdversarialCrossModal,
    LearnableTemperature,
    ModalityDiscriminator,
    grad_reverse,
    info_nce,
    masked_margin_softmax,
)

VD, AD, E, B, TV, TA = 6, 5, 8, 4, 3, 5
EXTRA = {"early": {}, "late": {}, "intermediate": {"hidden": 8, "heads": 2, "layers": 2},
         "attention": {"hidden": 8, "heads": 2, "layers": 2}}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def make(kind: str):
    return create_fusion(kind, visual_dim=VD, audio_dim=AD, embed_dim=E, **EXTRA[kind])


def nll(pos: float, negs: list[float]) -> float:
    """-log(e^pos / (e^pos + sum e^neg)), by hand."""
    return -math.log(math.exp(pos) / (math.exp(pos) + sum(math.exp(n) for n in negs)))


# --- gated embedding unit ---------------------------------------------------------------------

def test_context_gating_and_geu():
    cg = ContextGating(4)
    x = torch.randn(3, 4)
    assert torch.allclose(cg(x), x * torch.sigmoid(cg.fc(x)))
    geu = GatedEmbeddingUnit(6, 4, dropout=0.1)
    x = torch.randn(3, 6, requires_grad=True)
    y = geu(x, normalize=True)
    assert y.shape == (3, 4) and torch.allclose(y.norm(dim=-1), torch.ones(3), atol=1e-5)
    geu(x).sum().backward()
    assert x.grad is not None and geu.fc.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        geu(torch.randn(3, 5))


# --- fusion -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", FUSION_KINDS)
def test_fusion_shapes_and_gradients(kind):
    f = make(kind)
    v = torch.randn(B, TV, VD, requires_grad=True)
    a = torch.randn(B, TA, AD, requires_grad=True)
    out = f(v, a)
    assert out.shape == (B, E) and torch.isfinite(out).all()
    out.pow(2).sum().backward()
    assert v.grad.abs().sum() > 0 and a.grad.abs().sum() > 0
    assert f(v, None).shape == (B, E) and f(None, a).shape == (B, E)
    assert f(torch.randn(B, VD), None).shape == (B, E)  # [B, D] = one token
    with pytest.raises(ValueError):
        f(None, None)
    with pytest.raises(ValueError):  # a sample with neither modality
        f(v, a, visual_mask=torch.tensor([True, False, True, True]), audio_mask=torch.tensor([True, False, True, True]))
    rebuilt = create_fusion(f.kind, **f.hparams)
    assert type(rebuilt) is type(f)


@pytest.mark.parametrize("kind", FUSION_KINDS)
def test_missing_modality_equivalence(kind):
    f = make(kind).eval()
    v, a = torch.randn(B, TV, VD), torch.randn(B, TA, AD)
    has_audio = torch.tensor([True, False, True, False])
    with torch.no_grad():
        mixed = f(v, a, audio_mask=has_audio)
        assert torch.allclose(mixed[~has_audio], f(v[~has_audio], None), atol=1e-5)
        assert torch.allclose(mixed[has_audio], f(v[has_audio], a[has_audio]), atol=1e-5)
        has_visual = torch.tensor([False, True, True, True])
        mixed = f(v, a, visual_mask=has_visual)
        assert torch.allclose(mixed[~has_visual], f(None, a[~has_visual]), atol=1e-5)
        assert torch.allclose(mixed[has_visual], f(v[has_visual], a[has_visual]), atol=1e-5)
    # gradients flow in a mixed batch, too
    f.train()
    v.requires_grad_(True)
    f(v, a, audio_mask=has_audio).sum().backward()
    assert v.grad.abs().sum() > 0


def test_early_fusion_placeholder_is_learned_not_zero():
    f = make("early")
    assert f.missing_audio.abs().sum() > 0
    f(torch.randn(B, TV, VD), None).sum().backward()
    assert f.missing_audio.grad.abs().sum() > 0  # used for every sample
    assert f.missing_visual.grad is None or f.missing_visual.grad.abs().sum() == 0  # used by none


def test_late_fusion_embeddings_and_weights():
    f = LateFusion(visual_dim=VD, audio_dim=AD, embed_dim=E)
    v, a = torch.randn(B, TV, VD), torch.randn(B, TA, AD)
    embs = f.embeddings(v, a)
    assert set(embs) == {"visual", "audio"}
    assert torch.allclose(embs["visual"].norm(dim=-1), torch.ones(B), atol=1e-5)
    assert set(f.embeddings(v, None)) == {"visual"}
    # equal logits at init: fused = (visual + audio) / 2; visual alone: fused = visual
    assert torch.allclose(f(v, a), 0.5 * (embs["visual"] + embs["audio"]), atol=1e-6)
    assert torch.allclose(f(v, None), embs["visual"], atol=1e-6)
    masked = f.embeddings(v, a, audio_mask=torch.tensor([True, False, True, True]))
    assert masked["audio"][1].abs().sum() == 0


def test_attention_fusion_keeps_maps_and_masks_missing_audio():
    f = AttentionFusion(visual_dim=VD, audio_dim=AD, embed_dim=E, hidden=8, heads=2, layers=2).eval()
    v, a = torch.randn(B, TV, VD), torch.randn(B, TA, AD)
    has_audio = torch.tensor([True, False, True, True])
    f(v, a, audio_mask=has_audio)
    n = 1 + TV + TA
    assert len(f.last_attention) == 2 and f.last_attention[0].shape == (B, 2, n, n)
    audio_cols = f.last_layout["audio"]
    assert f.last_attention[0][1, :, :, audio_cols].abs().max() == 0  # no one attends to missing audio
    assert torch.allclose(f.last_attention[-1].sum(-1), torch.ones(B, 2, n), atol=1e-5)
    f(v, None)
    assert f.last_attention[0].shape == (B, 2, 1 + TV, 1 + TV)


def test_create_fusion_unknown_kind():
    with pytest.raises(ValueError, match="early, intermediate, late, attention"):
        create_fusion("mid", visual_dim=VD, audio_dim=AD, embed_dim=E)


# --- MMS / InfoNCE on hand-computed cases ------------------------------------------------------

def test_mms_two_by_two_by_hand():
    s = torch.tensor([[0.9, 0.1], [0.3, 0.8]], dtype=torch.float64)
    m = 0.1
    rows = nll(0.8, [0.1]) + nll(0.7, [0.3])  # row i: S_ii - m against S_ik
    cols = nll(0.8, [0.3]) + nll(0.7, [0.1])  # column j: S_jj - m against S_kj
    expected = rows / 2 + cols / 2
    assert masked_margin_softmax(s, margin=m).item() == pytest.approx(expected, rel=1e-6)
    sc = 2.0
    expected = (nll(sc * 0.8, [sc * 0.1]) + nll(sc * 0.7, [sc * 0.3])) / 2 \
        + (nll(sc * 0.8, [sc * 0.3]) + nll(sc * 0.7, [sc * 0.1])) / 2
    assert masked_margin_softmax(s, margin=m, scale=sc).item() == pytest.approx(expected, rel=1e-6)


def test_mms_mask_excludes_the_marked_negatives_only():
    s = torch.tensor([[0.5, 0.2, 0.9], [0.1, 0.6, 0.3], [0.4, 0.0, 0.7]], dtype=torch.float64)
    m = 0.05
    mask = torch.zeros(3, 3, dtype=torch.bool)
    mask[0, 2] = True  # S_02 leaves row 0 and column 2
    mask[1, 1] = True  # the diagonal is never masked
    rows = nll(0.45, [0.2]) + nll(0.55, [0.1, 0.3]) + nll(0.65, [0.4, 0.0])
    cols = nll(0.45, [0.1, 0.4]) + nll(0.55, [0.2, 0.0]) + nll(0.65, [0.3])
    got = masked_margin_softmax(s, margin=m, mask=mask).item()
    assert got == pytest.approx(rows / 3 + cols / 3, rel=1e-6)
    assert got < masked_margin_softmax(s, margin=m).item()  # S_02 was a hard negative
    with pytest.raises(ValueError):
        masked_margin_softmax(torch.zeros(2, 3))


def test_info_nce_by_hand_and_temperature():
    s = torch.tensor([[0.9, 0.1], [0.3, 0.8]], dtype=torch.float64)
    sc = 10.0
    rows = (nll(9.0, [1.0]) + nll(8.0, [3.0])) / 2
    cols = (nll(9.0, [3.0]) + nll(8.0, [1.0])) / 2
    assert info_nce(s, sc).item() == pytest.approx((rows + cols) / 2, rel=1e-6)
    t = LearnableTemperature(init=0.07, max_scale=100.0)
    assert t().item() == pytest.approx(1 / 0.07, rel=1e-5)
    with torch.no_grad():
        t.log_scale.fill_(10.0)
    assert t().item() == pytest.approx(100.0)


@pytest.mark.parametrize("kind", FUSION_KINDS)
def test_fusion_and_text_geu_learn_with_mms(kind):
    torch.set_num_threads(1)
    n, td = 16, 7
    fusion = make(kind)
    text = GatedEmbeddingUnit(td, E)
    v, a = torch.randn(n, TV, VD), torch.randn(n, TA, AD)
    t = torch.randn(n, td)
    opt = torch.optim.Adam([*fusion.parameters(), *text.parameters()], lr=1e-2)
    losses = []
    for _ in range(30):
        sim = text(t, normalize=True) @ F.normalize(fusion(v, a), dim=-1).t()
        loss = masked_margin_softmax(sim, margin=0.1, scale=10.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5, losses


# --- adversarial cross-modal -------------------------------------------------------------------

def test_gradient_reversal_sign():
    disc = ModalityDiscriminator(E, 2, hidden=8)
    z = torch.randn(6, E, requires_grad=True)
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    F.cross_entropy(disc(z), y).backward()
    plain = z.grad.clone()
    z.grad = None
    F.cross_entropy(disc(grad_reverse(z, 0.5)), y).backward()
    assert torch.allclose(z.grad, -0.5 * plain)


def test_adversarial_cross_modal_losses_and_signs():
    adv = AdversarialCrossModal(embed_dim=E, feature_dims={"visual": VD, "audio": AD}, lambda_rec=0.0,
                                lambda_align=0.0, lambda_adv=1.0, grl=1.0, hidden=8)
    zv = torch.randn(B, E, requires_grad=True)
    za = torch.randn(B, E, requires_grad=True)
    feats = {"visual": torch.randn(B, TV, VD), "audio": torch.randn(B, AD)}
    out = adv({"visual": zv, "audio": za}, feats)
    assert set(out) == {"reconstruction", "alignment", "adversarial", "total"}
    assert all(torch.isfinite(x) for x in out.values()) and out["reconstruction"] > 0 and out["alignment"] > 0
    out["total"].backward()
    encoder_grad = zv.grad.clone()
    # the same cross-entropy without the reversal: the discriminator's own descent direction
    zv2, za2 = zv.detach().requires_grad_(True), za.detach().requires_grad_(True)
    y = torch.tensor([0] * B + [1] * B)
    F.cross_entropy(adv.discriminator(torch.cat([zv2, za2])), y).backward()
    assert torch.allclose(encoder_grad, -zv2.grad, atol=1e-6)
    assert (encoder_grad * zv2.grad).sum() < 0
    # masked rows: only real rows take part; one modality alone still gives finite losses
    out = adv({"visual": zv, "audio": za}, feats, masks={"audio": torch.tensor([True, False, True, False])})
    assert torch.isfinite(out["total"])
    assert adv({"visual": zv}, feats)["alignment"] == 0


# --- distillation ------------------------------------------------------------------------------

def test_soft_and_feature_kd():
    t = torch.randn(4, 4)
    assert soft_label_kd(t.clone(), t).item() == pytest.approx(0.0, abs=1e-6)
    s = torch.randn(4, 4, requires_grad=True)
    kd = soft_label_kd(s, t, temperature=2.0)
    assert kd > 0
    kd.backward()
    assert s.grad.abs().sum() > 0
    e = torch.randn(3, 5)
    assert feature_kd(e, e).item() == pytest.approx(0.0, abs=1e-6)
    assert feature_kd(e, e, kind="mse").item() == 0.0
    assert feature_kd(torch.randn(3, 5), e) > 0
    assert feature_kd(torch.randn(3, 4), e, proj=torch.nn.Linear(4, 5)).ndim == 0
    with pytest.raises(ValueError, match="proj"):
        feature_kd(torch.randn(3, 4), e)


def test_attention_kd():
    t = torch.softmax(torch.randn(2, 4, 5, 5), dim=-1)
    assert attention_kd(t, t).item() == pytest.approx(0.0, abs=1e-6)
    s = torch.softmax(torch.randn(2, 2, 5, 5), dim=-1)  # fewer heads: compared head-averaged
    assert attention_kd(s, t) > 0
    assert attention_kd(t.mean(1), t).item() == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match=r"\(2, 2, 6, 6\).*\(2, 4, 5, 5\)"):
        attention_kd(torch.softmax(torch.randn(2, 2, 6, 6), dim=-1), t)
    assert attention_kd([s, s, s], [t, t]) > 0  # uniform layer pairing


def test_distillation_loss_with_attention_fusions():
    teacher = AttentionFusion(visual_dim=VD, audio_dim=AD, embed_dim=12, hidden=12, heads=4, layers=3).eval()
    student = AttentionFusion(visual_dim=VD, audio_dim=AD, embed_dim=E, hidden=8, heads=2, layers=1)
    v, a, q = torch.randn(B, TV, VD), torch.randn(B, TA, AD), torch.randn(B, 12)
    with torch.no_grad():
        zt = teacher(v, a)
    zs = student(v, a)
    loss = DistillationLoss(soft=1.0, feature=1.0, attention=1.0, student_dim=E, teacher_dim=12)
    out = loss(student_sim=F.normalize(loss.proj(zs), dim=-1) @ F.normalize(q, dim=-1).t(),
               teacher_sim=F.normalize(zt, dim=-1) @ F.normalize(q, dim=-1).t(),
               student_emb=zs, teacher_emb=zt, student_attn=student.last_attention,
               teacher_attn=teacher.last_attention)
    assert set(out) == {"soft", "feature", "attention", "total"} and out["total"] > 0
    out["total"].backward()
    assert student.proj_v.weight.grad.abs().sum() > 0 and loss.proj.weight.grad is not None
    with pytest.raises(ValueError, match="attention"):
        loss(student_sim=zs @ zs.t(), teacher_sim=zs @ zs.t(), student_emb=zs, teacher_emb=zt)
