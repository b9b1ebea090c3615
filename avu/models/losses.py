"""Training losses for cross-modal retrieval: MMS, InfoNCE, and an adversarial cross-modal objective.

- `masked_margin_softmax` is the Masked Margin Softmax (MMS) loss of Ilharco, Zhang and
  Baldridge (2019) that AVLnet (Rouditchenko et al., 2021) trains with: over a [B, B]
  similarity matrix with the positives on the diagonal, a softmax cross-entropy in both
  directions (rows: query -> clip, columns: clip -> query) whose positive logit is lowered by a
  margin, with optional masking of negatives that are not really negative (two clips of one video).
- `info_nce` is the symmetric CLIP-style InfoNCE, with `LearnableTemperature` giving its scale.
- `AdversarialCrossModal` learns a modality-invariant shared space: per-modality
  `Reconstructor`s keep each embedding informative about its input (MSE), `alignment_loss` pulls
  paired embeddings together (1 - cosine), and a `ModalityDiscriminator` behind a
  `GradientReversal` layer learns to tell modalities apart while the encoders, receiving the
  reversed gradient, learn to make them indistinguishable (Ganin and Lempitsky, 2015).
"""
from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _check_square(sim: Tensor, name: str = "sim") -> int:
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1] or sim.shape[0] < 1:
        raise ValueError(f"{name} must be a square [B, B] similarity matrix, got {tuple(sim.shape)}")
    return sim.shape[0]


def masked_margin_softmax(sim: Tensor, *, margin: float = 0.001, scale: float | Tensor = 1.0,
                          mask: Tensor | None = None) -> Tensor:
    """Bidirectional MMS loss over `sim` [B, B] (positives on the diagonal).

    Row i contributes -log(e^{s(S_ii - m)} / (e^{s(S_ii - m)} + sum_{k != i, not mask[i, k]} e^{s S_ik}))
    and column j the same with S_kj; the loss is mean over rows + mean over columns (as AVLnet
    sums its two directions). `mask` [B, B] bool marks negatives to exclude: entry (i, k) leaves
    S_ik out of row i's and of column k's denominator. The diagonal is never masked.
    """
    b = _check_square(sim)
    eye = torch.eye(b, dtype=torch.bool, device=sim.device)
    logits = scale * (sim - margin * eye.to(sim.dtype))
    if mask is not None:
        mask = torch.as_tensor(mask, device=sim.device)
        if mask.dtype != torch.bool or mask.shape != sim.shape:
            raise ValueError(f"mask must be a bool tensor of shape {tuple(sim.shape)}, got {mask.dtype} "
                             f"{tuple(mask.shape)}")
        logits = logits.masked_fill(mask & ~eye, float("-inf"))
    pos = logits.diagonal()
    rows = torch.logsumexp(logits, dim=1) - pos
    cols = torch.logsumexp(logits, dim=0) - pos
    return rows.mean() + cols.mean()


class LearnableTemperature(nn.Module):
    """The logit scale 1 / temperature as exp(learnable log-scale), clamped to `max_scale` (CLIP)."""

    def __init__(self, init: float = 0.07, max_scale: float = 100.0):
        super().__init__()
        if init <= 0 or max_scale <= 0:
            raise ValueError(f"init temperature and max_scale must be > 0, got {init}, {max_scale}")
        self.max_scale = float(max_scale)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / init)))  # log of the logit scale

    def forward(self) -> Tensor:
        return self.log_scale.exp().clamp(max=self.max_scale)


def info_nce(sim: Tensor, scale: float | Tensor = 1.0) -> Tensor:
    """Symmetric InfoNCE: (CE over rows + CE over columns) / 2 of scale * sim, targets on the diagonal."""
    b = _check_square(sim)
    logits = scale * sim
    target = torch.arange(b, device=sim.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


class GradientReversal(torch.autograd.Function):
    """Identity forward; multiplies the incoming gradient by -lambda backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, lambd: float) -> Tensor:
        ctx.lambd = float(lambd)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return -ctx.lambd * grad, None


def grad_reverse(x: Tensor, lambd: float = 1.0) -> Tensor:
    """`x` unchanged, with its gradient multiplied by -`lambd` on the way back."""
    return GradientReversal.apply(x, lambd)


def _mlp(d_in: int, hidden: int, d_out: int, dropout: float) -> nn.Sequential:
    if min(d_in, hidden, d_out) < 1:
        raise ValueError(f"MLP sizes must be >= 1, got {d_in}, {hidden}, {d_out}")
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, d_out))


class ModalityDiscriminator(nn.Module):
    """MLP: embedding [B, embed_dim] -> logits [B, n_modalities] over which modality produced it."""

    def __init__(self, embed_dim: int, n_modalities: int, *, hidden: int = 128, dropout: float = 0.0):
        super().__init__()
        if n_modalities < 2:
            raise ValueError(f"n_modalities must be >= 2, got {n_modalities}")
        self.net = _mlp(embed_dim, hidden, n_modalities, dropout)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class Reconstructor(nn.Module):
    """MLP decoding an input feature [B, target_dim] back from its embedding [B, embed_dim]."""

    def __init__(self, embed_dim: int, target_dim: int, *, hidden: int = 256, dropout: float = 0.0):
        super().__init__()
        self.net = _mlp(embed_dim, hidden, target_dim, dropout)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


def alignment_loss(a: Tensor, b: Tensor) -> Tensor:
    """Mean of 1 - cosine(a_i, b_i) over paired rows."""
    if a.shape != b.shape:
        raise ValueError(f"paired embeddings must have one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return (1.0 - F.cosine_similarity(a, b, dim=-1)).mean()


class AdversarialCrossModal(nn.Module):
    """Reconstruction + alignment + adversarial modality confusion over per-modality embeddings.

    `forward(embeddings, features, masks=None)` takes {modality: [B, embed_dim]} and
    {modality: [B, D] or [B, T, D] (mean-pooled over T)} and returns {"reconstruction",
    "alignment", "adversarial", "total"}. `masks` {modality: bool [B]} marks which rows of a
    modality are real (default: all); alignment uses rows where both modalities of a pair are real.
    The discriminator's class index of a modality is its position in `feature_dims`.
    """

    def __init__(self, *, embed_dim: int, feature_dims: dict[str, int], lambda_rec: float = 1.0,
                 lambda_align: float = 1.0, lambda_adv: float = 0.1, grl: float = 1.0, hidden: int = 128):
        super().__init__()
        if len(feature_dims) < 2:
            raise ValueError(f"need at least two modalities, got {list(feature_dims)}")
        self.modalities = list(feature_dims)  # discriminator class order
        self.lambda_rec = lambda_rec  # weight of the reconstruction MSE
        self.lambda_align = lambda_align  # weight of the paired 1 - cosine
        self.lambda_adv = lambda_adv  # weight of the discriminator cross-entropy
        self.grl = grl  # gradient reversal strength seen by the encoders
        self.reconstructors = nn.ModuleDict({m: Reconstructor(embed_dim, d, hidden=hidden)
                                             for m, d in feature_dims.items()})
        self.discriminator = ModalityDiscriminator(embed_dim, len(feature_dims), hidden=hidden)

    def forward(self, embeddings: dict[str, Tensor], features: dict[str, Tensor],
                masks: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        unknown = set(embeddings) - set(self.modalities)
        if unknown or not embeddings:
            raise ValueError(f"embeddings must use modalities {self.modalities}, got {list(embeddings)}")
        masks = masks or {}
        ref = next(iter(embeddings.values()))
        zero = ref.new_zeros(())
        rows = {m: masks.get(m, torch.ones(z.shape[0], dtype=torch.bool, device=z.device))
                for m, z in embeddings.items()}
        for m, r in rows.items():
            if r.dtype != torch.bool or tuple(r.shape) != (embeddings[m].shape[0],):
                raise ValueError(f"masks[{m!r}] must be bool [{embeddings[m].shape[0]}], "
                                 f"got {r.dtype} {tuple(r.shape)}")
        rec = []
        for m, z in embeddings.items():
            if m in features and bool(rows[m].any()):
                target = features[m].detach()
                target = target.mean(1) if target.ndim == 3 else target
                rec.append(F.mse_loss(self.reconstructors[m](z[rows[m]]), target[rows[m]]))
        align = []
        for m1, m2 in combinations(embeddings, 2):
            both = rows[m1] & rows[m2]
            if bool(both.any()):
                align.append(alignment_loss(embeddings[m1][both], embeddings[m2][both]))
        zs = [grad_reverse(z[rows[m]], self.grl) for m, z in embeddings.items()]
        labels = [torch.full((int(rows[m].sum()),), self.modalities.index(m), dtype=torch.long, device=z.device)
                  for m, z in embeddings.items()]
        z_all, y_all = torch.cat(zs), torch.cat(labels)
        adv = F.cross_entropy(self.discriminator(z_all), y_all) if len(y_all) else zero
        out = {"reconstruction": torch.stack(rec).mean() if rec else zero,
               "alignment": torch.stack(align).mean() if align else zero,
               "adversarial": adv}
        out["total"] = (self.lambda_rec * out["reconstruction"] + self.lambda_align * out["alignment"]
                        + self.lambda_adv * out["adversarial"])
        return out


__all__ = ["AdversarialCrossModal", "GradientReversal", "LearnableTemperature", "ModalityDiscriminator",
           "Reconstructor", "alignment_loss", "grad_reverse", "info_nce", "masked_margin_softmax"]
