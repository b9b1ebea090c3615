"""The training objective: retrieval loss (MMS or InfoNCE), Text-Tri pair losses, the adversarial
cross-modal embedding and knowledge distillation, as one module holding the loss-side parameters
(learnable temperature, discriminator, reconstructors, distillation projection).

`Objective(model, cfg)(batch) -> dict` returns the scalar "total" plus every part (floats in logs).
The batch is what a task's `batch()` returns: {"video", "audio", "text"} tensors.

Modality dropout (`cfg.modality_dropout`, training only, Text-Fused models that read both
streams): each sample loses its visual stream with probability p/2 or its audio with p/2 (never
both), marked through the fusion's presence masks. The fused embedding then learns to stand for
a clip from one stream too, so the single-stream embeddings that ingest stores (`visual_emb` =
the clip without its audio, `audio_emb` = without its picture) are trained, and early fusion's
placeholders for an absent stream (`missing_visual` / `missing_audio`) get gradients instead of
keeping their random initial values. Chosen over per-stream towers because it keeps one embedding
space (a visual-only query compares with fused embeddings directly) and costs no extra pass.
Text-Tri models already train each stream's embedding against the text and are left alone.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from avu.models.distill import DistillationLoss
from avu.models.losses import AdversarialCrossModal, LearnableTemperature, info_nce, masked_margin_softmax
from avu.models.model import AVModel
from avu.train.config import TrainConfig


class Objective(nn.Module):
    """See the module docstring; `teacher` (a frozen AVModel) turns distillation on."""

    def __init__(self, model: AVModel, cfg: TrainConfig, teacher: AVModel | None = None):
        super().__init__()
        self.cfg = cfg
        self.temperature = LearnableTemperature() if cfg.loss == "infonce" else None
        self.adversarial = None
        if cfg.adversarial > 0:
            dims = {"text": 2 * model.text.out_dim,
                    "video": sum(2 * t.out_dim for t in (model.visual, model.audio) if t is not None)}
            self.adversarial = AdversarialCrossModal(embed_dim=model.cfg.embed_dim, feature_dims=dims)
        self.teacher = teacher
        self.distill = None
        if teacher is not None:
            d = cfg.distill
            teacher.eval().requires_grad_(False)
            self.distill = DistillationLoss(soft=d.soft, feature=d.feature, attention=d.attention,
                                            temperature=d.temperature, feature_kind=d.feature_kind,
                                            student_dim=model.cfg.embed_dim, teacher_dim=teacher.cfg.embed_dim)

    def pair_loss(self, sim: torch.Tensor) -> torch.Tensor:
        if self.temperature is not None:
            return info_nce(sim, self.temperature())
        return masked_margin_softmax(sim, margin=self.cfg.margin, scale=self.cfg.scale)

    def logit_scale(self) -> float:
        return float(self.temperature().detach()) if self.temperature is not None else self.cfg.scale

    def stream_masks(self, model: AVModel, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Presence masks {"visual_mask", "audio_mask"} [B] for modality dropout ({} when it does not apply)."""
        p = self.cfg.modality_dropout
        if (p <= 0 or not model.training or model.cfg.retrieval != "fused" or model.visual is None
                or model.audio is None or batch.get("video") is None or batch.get("audio") is None):
            return {}
        u = torch.rand(batch["video"].shape[0])  # the global generator, seeded by the trainer
        device = batch["video"].device
        return {"visual_mask": (u >= p / 2).to(device), "audio_mask": ((u < p / 2) | (u >= p)).to(device)}

    def forward(self, model: AVModel, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        parts: dict[str, torch.Tensor] = {}
        text_feats = model.text_features(batch["text"])  # once: the adversarial loss reconstructs them
        t = nn.functional.normalize(model.text_geu(text_feats), dim=-1)  # = model.encode_text(batch["text"])
        vids = model.video_embeddings({**batch, **self.stream_masks(model, batch)},
                                      features=self.adversarial is not None)
        v = vids["video"] if model.cfg.retrieval == "fused" else None
        if v is None:  # Text-Tri: text-visual, text-audio and audio-visual pairs
            parts["text_visual"] = self.pair_loss(t @ vids["visual"].T)
            parts["text_audio"] = self.pair_loss(t @ vids["audio"].T)
            parts["audio_visual"] = self.cfg.tri_av * self.pair_loss(vids["visual"] @ vids["audio"].T)
            v = vids["video"]
        else:
            parts["retrieval"] = self.pair_loss(t @ v.T)
        if self.adversarial is not None:
            feats = vids["features"]
            adv = self.adversarial({"text": t, "video": nn.functional.normalize(v, dim=-1)},
                                   {"text": text_feats,
                                    "video": torch.cat([feats[k] for k in ("visual", "audio") if k in feats], -1)})
            parts["adversarial"] = self.cfg.adversarial * adv["total"]
        if self.teacher is not None:
            with torch.no_grad():
                tt = self.teacher.encode_text(batch["captions"])  # the teacher's own tokenisation
                tv = self.teacher.encode_video(batch)
                t_attn = getattr(self.teacher.fusion, "last_attention", None)
            s_attn = getattr(model.fusion, "last_attention", None)
            scale = self.logit_scale()
            kd = self.distill(student_sim=scale * (t @ v.T), teacher_sim=scale * (tt @ tv.T),
                              student_emb=v, teacher_emb=tv,
                              student_attn=s_attn if self.cfg.distill.attention else None,
                              teacher_attn=t_attn if self.cfg.distill.attention else None)
            parts["distill"] = kd["total"]
        parts["total"] = sum(parts.values())
        return parts


__all__ = ["Objective"]
