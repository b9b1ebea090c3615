"""Context gating and the gated embedding unit (GEU) that AVLnet puts on top of every branch.

Context gating (Miech, Laptev and Sivic, "Learnable pooled features with context gating", 2017)
re-weights each dimension of a feature by a sigmoid of a linear function of the whole feature:
y = x * sigmoid(W x + b). The gated embedding unit of the Mixture-of-Embedding-Experts model
(Miech et al., 2018), which AVLnet (Rouditchenko et al., 2021) uses as the last layer of its
video, audio and text branches, is a linear projection followed by context gating, and is
L2-normalised when embeddings are compared by cosine.

`ContextGating(dim)` and `GatedEmbeddingUnit(in_dim, out_dim, *, dropout=0.0)`;
`geu(x, normalize=True)` maps [..., in_dim] to [..., out_dim] (unit length along the last axis
when `normalize`). Both work on any number of leading axes, so token sequences can be gated too.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ContextGating(nn.Module):
    """y = x * sigmoid(W x + b) over the last axis (Miech et al., 2017)."""

    def __init__(self, dim: int):
        super().__init__()
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = dim
        self.fc = nn.Linear(dim, dim)  # the gate's W and b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.dim:
            raise ValueError(f"expected [..., {self.dim}], got {tuple(x.shape)}")
        return x * torch.sigmoid(self.fc(x))


class GatedEmbeddingUnit(nn.Module):
    """Dropout -> Linear(in_dim, out_dim) -> ContextGating(out_dim) (the MEE / AVLnet GEU)."""

    def __init__(self, in_dim: int, out_dim: int, *, dropout: float = 0.0):
        super().__init__()
        if in_dim < 1 or out_dim < 1:
            raise ValueError(f"in_dim and out_dim must be >= 1, got {in_dim}, {out_dim}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(in_dim, out_dim)
        self.gate = ContextGating(out_dim)

    def forward(self, x: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """[..., in_dim] -> [..., out_dim]; unit length along the last axis when `normalize`."""
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"expected [..., {self.in_dim}], got {tuple(x.shape)}")
        y = self.gate(self.fc(self.drop(x)))
        return F.normalize(y, dim=-1) if normalize else y


__all__ = ["ContextGating", "GatedEmbeddingUnit"]
