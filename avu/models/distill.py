"""Knowledge distillation from a large retrieval model (teacher) into a small one (student).

Three signals, usable alone or together through `DistillationLoss`:

- `soft_label_kd`: Hinton et al. (2015) soft labels over a batch's similarity matrices. Each row
  (query -> clips) and each column (clip -> queries) is a softmax at `temperature`; the loss is
  KL(teacher || student) averaged over rows, the same over columns, the two averaged, times
  temperature^2 so its gradient scale does not depend on the temperature.
- `feature_kd`: match the student's embeddings to the teacher's (1 - cosine, or MSE), through an
  optional projection when their widths differ (FitNets, Romero et al., 2015).
- `attention_kd`: match attention maps (TinyBERT / MiniLM style). Rows of an attention map are
  probability distributions over keys, so the loss is KL(teacher row || student row), averaged
  over batch, heads and query rows. Maps with different head counts are first averaged over
  heads; lists of per-layer maps are paired uniformly (student layer i <- teacher layer
  ceil((i + 1) * Lt / Ls) - 1, so the last layers meet).

The teacher's side is always detached: only the student (and a projection) learn.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FEATURE_KINDS = ("cosine", "mse")


def soft_label_kd(student_sim: Tensor, teacher_sim: Tensor, *, temperature: float = 4.0) -> Tensor:
    """T^2 * mean(KL over rows, KL over columns) of softmax(sim / T); 0 when student == teacher."""
    if student_sim.ndim != 2 or student_sim.shape != teacher_sim.shape:
        raise ValueError(f"expected two [B, B'] similarity matrices of one shape, got student "
                         f"{tuple(student_sim.shape)}, teacher {tuple(teacher_sim.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    s, t = student_sim / temperature, teacher_sim.detach() / temperature

    def kl(dim: int) -> Tensor:
        log_t = F.log_softmax(t, dim=dim)
        return (log_t.exp() * (log_t - F.log_softmax(s, dim=dim))).sum(dim).mean()

    return 0.5 * (kl(1) + kl(0)) * temperature ** 2


def feature_kd(student: Tensor, teacher: Tensor, *, kind: str = "cosine", proj: nn.Module | None = None) -> Tensor:
    """Embedding matching: mean(1 - cosine) or MSE between proj(student) and the teacher [B, D]."""
    if kind not in FEATURE_KINDS:
        raise ValueError(f"unknown feature kind {kind!r}; valid kinds: {', '.join(FEATURE_KINDS)}")
    s = proj(student) if proj is not None else student
    t = teacher.detach()
    if s.shape != t.shape:
        hint = "" if proj is not None else " (pass proj= to map the student to the teacher's width)"
        raise ValueError(f"student {tuple(s.shape)} and teacher {tuple(t.shape)} embeddings differ{hint}")
    if kind == "cosine":
        return (1.0 - F.cosine_similarity(s, t, dim=-1)).mean()
    return F.mse_loss(s, t)


def _attention_pair(student: Tensor, teacher: Tensor, eps: float) -> Tensor:
    shapes = f"student {tuple(student.shape)}, teacher {tuple(teacher.shape)}"
    if student.ndim not in (3, 4) or teacher.ndim not in (3, 4):
        raise ValueError(f"attention maps must be [B, N, N] or [B, heads, N, N], got {shapes}")
    s, t = student, teacher.detach()
    if not (s.ndim == 4 and t.ndim == 4 and s.shape[1] == t.shape[1]):
        s = s.mean(1) if s.ndim == 4 else s  # different head counts: compare head-averaged maps
        t = t.mean(1) if t.ndim == 4 else t
    if s.shape[0] != t.shape[0] or s.shape[-2:] != t.shape[-2:]:
        raise ValueError(f"attention maps differ in batch or token count: {shapes}")
    kl = torch.xlogy(t, t) - t * torch.log(s.clamp_min(eps))  # a masked key (teacher weight 0) adds 0
    return kl.sum(-1).mean()


def attention_kd(student_attn: Tensor | Sequence[Tensor], teacher_attn: Tensor | Sequence[Tensor], *,
                 eps: float = 1e-8) -> Tensor:
    """KL(teacher row || student row) between attention maps, or the mean over uniformly paired layers."""
    if isinstance(student_attn, Tensor) and isinstance(teacher_attn, Tensor):
        return _attention_pair(student_attn, teacher_attn, eps)
    s_list = [student_attn] if isinstance(student_attn, Tensor) else list(student_attn)
    t_list = [teacher_attn] if isinstance(teacher_attn, Tensor) else list(teacher_attn)
    if not s_list or not t_list:
        raise ValueError(f"need at least one attention map each, got {len(s_list)} student and {len(t_list)} teacher")
    ls, lt = len(s_list), len(t_list)
    losses = [_attention_pair(s, t_list[math.ceil((i + 1) * lt / ls) - 1], eps) for i, s in enumerate(s_list)]
    return torch.stack(losses).mean()


class DistillationLoss(nn.Module):
    """Weighted sum of soft-label, feature and attention distillation.

    `forward(student_sim=, teacher_sim=, student_emb=, teacher_emb=, student_attn=, teacher_attn=)`
    returns {"soft", "feature", "attention"} for the parts with a non-zero weight, plus "total".
    A part with a non-zero weight whose inputs are missing is an error. When `student_dim` and
    `teacher_dim` differ, a learned linear projection maps student embeddings to the teacher's
    width (put this module's parameters in the optimiser).
    """

    def __init__(self, *, soft: float = 1.0, feature: float = 1.0, attention: float = 0.0, temperature: float = 4.0,
                 feature_kind: str = "cosine", student_dim: int | None = None, teacher_dim: int | None = None):
        super().__init__()
        if min(soft, feature, attention) < 0 or soft + feature + attention == 0:
            raise ValueError(f"weights must be >= 0 and not all 0, got soft={soft} feature={feature} "
                             f"attention={attention}")
        if feature_kind not in FEATURE_KINDS:
            raise ValueError(f"unknown feature kind {feature_kind!r}; valid kinds: {', '.join(FEATURE_KINDS)}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.weights = {"soft": soft, "feature": feature, "attention": attention}  # weight of each part
        self.temperature = temperature  # softmax temperature of the soft labels
        self.feature_kind = feature_kind  # "cosine" or "mse"
        needs_proj = student_dim is not None and teacher_dim is not None and student_dim != teacher_dim
        self.proj = nn.Linear(student_dim, teacher_dim) if needs_proj else None  # student -> teacher width

    def forward(self, *, student_sim: Tensor | None = None, teacher_sim: Tensor | None = None,
                student_emb: Tensor | None = None, teacher_emb: Tensor | None = None,
                student_attn: Tensor | Sequence[Tensor] | None = None,
                teacher_attn: Tensor | Sequence[Tensor] | None = None) -> dict[str, Tensor]:
        inputs = {"soft": (student_sim, teacher_sim), "feature": (student_emb, teacher_emb),
                  "attention": (student_attn, teacher_attn)}
        out: dict[str, Tensor] = {}
        for name, (s, t) in inputs.items():
            if self.weights[name] == 0:
                continue
            if s is None or t is None:
                raise ValueError(f"{name} distillation has weight {self.weights[name]} but its student or teacher "
                                 "input is missing")
            if name == "soft":
                out[name] = soft_label_kd(s, t, temperature=self.temperature)
            elif name == "feature":
                out[name] = feature_kd(s, t, kind=self.feature_kind, proj=self.proj)
            else:
                out[name] = attention_kd(s, t)
        out["total"] = sum(self.weights[k] * v for k, v in out.items())
        return out


__all__ = ["FEATURE_KINDS", "DistillationLoss", "attention_kd", "feature_kd", "soft_label_kd"]
