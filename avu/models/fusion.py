"""Audio-visual fusion: four ways to turn visual and audio token sequences into one embedding.

AVLnet (Rouditchenko et al., 2021) compares a text query with a video clip through one fused
audio-visual embedding; the paper and its follow-ups fuse at different depths. Every module here
takes per-modality TOKEN SEQUENCES, visual [B, Tv, visual_dim] and audio [B, Ta, audio_dim]
(a [B, D] tensor is read as one token), and returns an UNNORMALISED embedding [B, embed_dim]:

- `EarlyFusion`: mean+max pool each sequence, concatenate, one gated embedding unit (GEU).
- `IntermediateFusion`: project both to a hidden width, L layers of bidirectional cross-modal
  attention (visual queries audio and audio queries visual), pool each, sum their GEU outputs.
- `LateFusion`: one GEU per modality on pooled features; the fused embedding is a learned
  softmax-weighted sum of the L2-normalised per-modality embeddings. `embeddings()` gives those
  per-modality embeddings, for AVLnet's Text-Tri variant (score = text.visual + text.audio).
- `AttentionFusion`: a small pre-LN transformer over [CLS] + visual + audio tokens (learned
  modality-type embeddings, sinusoidal time positions), GEU of the CLS token; the attention maps
  of the last forward are kept in `last_attention` (for inspection and attention distillation).

Missing modalities: pass None for a modality that the whole batch lacks, or a boolean mask
`visual_mask` / `audio_mask` [B] (True = this sample has it) when a batch mixes clips with and
without sound. A sample without a modality gets exactly the output it would get if that
modality were absent altogether; every sample must have at least one. Nothing mixes samples
(no batch norm), so the outputs of a sample do not depend on the rest of its batch.

`create_fusion(kind, **kwargs)` builds one by name (`FUSION_KINDS`); each module keeps its
constructor arguments in `hparams`, so `create_fusion(m.kind, **m.hparams)` rebuilds it.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from avu.models.gated import GatedEmbeddingUnit


def pool_tokens(x: Tensor) -> Tensor:
    """Mean and max over time: [B, T, D] -> [B, 2D]."""
    return torch.cat([x.mean(1), x.amax(1)], dim=-1)


def sinusoid_positions(n: int, dim: int, *, device: torch.device | None = None) -> Tensor:
    """Fixed sine/cosine position codes [n, dim] (Vaswani et al., 2017), any length."""
    pos = torch.arange(n, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    pe = torch.zeros(n, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe


def _tokens(x: Tensor | None, dim: int, name: str) -> Tensor | None:
    if x is None:
        return None
    if x.ndim == 2:
        x = x.unsqueeze(1)
    if x.ndim != 3 or x.shape[-1] != dim or x.shape[1] < 1:
        raise ValueError(f"{name}: expected [B, T, {dim}] (T >= 1) or [B, {dim}], got {tuple(x.shape)}")
    return x


def _presence(mask: Tensor | None, x: Tensor | None, b: int, device: torch.device, name: str) -> Tensor:
    if x is None:
        if mask is not None and bool(torch.as_tensor(mask).any()):
            raise ValueError(f"{name} marks samples as present but the tensor is None")
        return torch.zeros(b, dtype=torch.bool, device=device)
    if mask is None:
        return torch.ones(b, dtype=torch.bool, device=device)
    mask = torch.as_tensor(mask, device=device)
    if mask.dtype != torch.bool or tuple(mask.shape) != (b,):
        raise ValueError(f"{name}: expected a bool tensor of shape [{b}], got {mask.dtype} {tuple(mask.shape)}")
    return mask


def _present_only(e: Tensor, present: Tensor) -> Tensor:
    """Zero the rows of samples that lack the modality (torch.where, so no NaN leaks through)."""
    return torch.where(present[:, None], e, torch.zeros_like(e))


class _Fusion(nn.Module):
    """Shared argument checks; subclasses implement `forward(visual, audio, *, visual_mask, audio_mask)`."""

    kind = ""

    def __init__(self, *, visual_dim: int, audio_dim: int, embed_dim: int, **options: Any):
        super().__init__()
        if min(visual_dim, audio_dim, embed_dim) < 1:
            raise ValueError(f"dims must be >= 1, got visual={visual_dim} audio={audio_dim} embed={embed_dim}")
        if not 0.0 <= options.get("dropout", 0.0) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {options['dropout']}")
        self.visual_dim = visual_dim
        self.audio_dim = audio_dim
        self.embed_dim = embed_dim
        self.hparams: dict[str, Any] = dict(visual_dim=visual_dim, audio_dim=audio_dim, embed_dim=embed_dim, **options)

    def _inputs(self, visual: Tensor | None, audio: Tensor | None, visual_mask: Tensor | None,
                audio_mask: Tensor | None) -> tuple[Tensor | None, Tensor | None, Tensor, Tensor]:
        """Check shapes; return (visual tokens, audio tokens, visual presence [B], audio presence [B])."""
        v = _tokens(visual, self.visual_dim, "visual")
        a = _tokens(audio, self.audio_dim, "audio")
        if v is None and a is None:
            raise ValueError("fusion needs at least one modality: visual and audio are both None")
        if v is not None and a is not None and v.shape[0] != a.shape[0]:
            raise ValueError(f"batch sizes differ: visual {tuple(v.shape)}, audio {tuple(a.shape)}")
        ref = v if v is not None else a
        b, device = ref.shape[0], ref.device
        vm = _presence(visual_mask, v, b, device, "visual_mask")
        am = _presence(audio_mask, a, b, device, "audio_mask")
        if not bool((vm | am).all()):
            bad = (~(vm | am)).nonzero().flatten().tolist()
            raise ValueError(f"samples {bad[:10]} have neither visual nor audio")
        return v, a, vm, am


def _check_transformer(hidden: int, layers: int, heads: int, ffn_mult: int) -> None:
    if hidden < 1 or layers < 1 or heads < 1 or ffn_mult < 1:
        raise ValueError(f"hidden, layers, heads, ffn_mult must be >= 1, got {hidden}, {layers}, {heads}, {ffn_mult}")
    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")


def _ffn(dim: int, mult: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, mult * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mult * dim, dim))


class EarlyFusion(_Fusion):
    """Pool, concatenate [visual; audio], one GEU. A missing modality is a learned placeholder."""

    kind = "early"

    def __init__(self, *, visual_dim: int, audio_dim: int, embed_dim: int, dropout: float = 0.0):
        super().__init__(visual_dim=visual_dim, audio_dim=audio_dim, embed_dim=embed_dim, dropout=dropout)
        # learned stand-ins for the pooled (mean+max) features of an absent modality
        self.missing_visual = nn.Parameter(0.02 * torch.randn(2 * visual_dim))
        self.missing_audio = nn.Parameter(0.02 * torch.randn(2 * audio_dim))
        self.geu = GatedEmbeddingUnit(2 * (visual_dim + audio_dim), embed_dim, dropout=dropout)

    @staticmethod
    def _pooled(x: Tensor | None, present: Tensor, fill: Tensor) -> Tensor:
        filled = fill.expand(present.shape[0], -1)
        return filled if x is None else torch.where(present[:, None], pool_tokens(x), filled)

    def forward(self, visual: Tensor | None = None, audio: Tensor | None = None, *,
                visual_mask: Tensor | None = None, audio_mask: Tensor | None = None) -> Tensor:
        v, a, vm, am = self._inputs(visual, audio, visual_mask, audio_mask)
        feats = [self._pooled(v, vm, self.missing_visual), self._pooled(a, am, self.missing_audio)]
        return self.geu(torch.cat(feats, dim=-1))


class CrossModalLayer(nn.Module):
    """One bidirectional exchange: visual attends to audio and audio to visual (both from the
    layer's inputs), residual + LayerNorm, then a per-stream FFN with residual + LayerNorm."""

    def __init__(self, dim: int, heads: int, *, ffn_mult: int = 2, dropout: float = 0.0):
        super().__init__()
        self.v_from_a = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.a_from_v = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm_v1, self.norm_a1 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.norm_v2, self.norm_a2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ffn_v, self.ffn_a = _ffn(dim, ffn_mult, dropout), _ffn(dim, ffn_mult, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, v: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
        dv, _ = self.v_from_a(v, a, a, need_weights=False)
        da, _ = self.a_from_v(a, v, v, need_weights=False)
        v = self.norm_v1(v + self.drop(dv))
        a = self.norm_a1(a + self.drop(da))
        return self.norm_v2(v + self.ffn_v(v)), self.norm_a2(a + self.ffn_a(a))


class _ProjectedFusion(_Fusion):
    """A fusion whose streams are first projected to a common transformer width `hidden`."""

    def __init__(self, *, visual_dim: int, audio_dim: int, embed_dim: int, hidden: int, layers: int, heads: int,
                 ffn_mult: int, dropout: float):
        super().__init__(visual_dim=visual_dim, audio_dim=audio_dim, embed_dim=embed_dim, hidden=hidden,
                         layers=layers, heads=heads, ffn_mult=ffn_mult, dropout=dropout)
        _check_transformer(hidden, layers, heads, ffn_mult)
        self.proj_v = nn.Linear(visual_dim, hidden)
        self.proj_a = nn.Linear(audio_dim, hidden)


class IntermediateFusion(_ProjectedFusion):
    """Project, L cross-modal exchange layers, pool each stream, sum the two GEU embeddings.

    Samples that lack a modality skip the exchange and use the present stream alone."""

    kind = "intermediate"

    def __init__(self, *, visual_dim: int, audio_dim: int, embed_dim: int, hidden: int = 128, layers: int = 2,
                 heads: int = 4, ffn_mult: int = 2, dropout: float = 0.0):
        super().__init__(visual_dim=visual_dim, audio_dim=audio_dim, embed_dim=embed_dim, hidden=hidden,
                         layers=layers, heads=heads, ffn_mult=ffn_mult, dropout=dropout)
        self.layers = nn.ModuleList(CrossModalLayer(hidden, heads, ffn_mult=ffn_mult, dropout=dropout)
                                    for _ in range(layers))
        self.geu_v = GatedEmbeddingUnit(2 * hidden, embed_dim, dropout=dropout)
        self.geu_a = GatedEmbeddingUnit(2 * hidden, embed_dim, dropout=dropout)

    def forward(self, visual: Tensor | None = None, audio: Tensor | None = None, *,
                visual_mask: Tensor | None = None, audio_mask: Tensor | None = None) -> Tensor:
        v, a, vm, am = self._inputs(visual, audio, visual_mask, audio_mask)
        hv = self.proj_v(v) if v is not None else None
        ha = self.proj_a(a) if a is not None else None
        if hv is not None and ha is not None:
            both = vm & am
            if bool(both.all()):
                for layer in self.layers:
                    hv, ha = layer(hv, ha)
            elif bool(both.any()):
                xv, xa = hv[both], ha[both]  # exchange only where both are present
                for layer in self.layers:
                    xv, xa = layer(xv, xa)
                hv = hv.index_put((both,), xv)
                ha = ha.index_put((both,), xa)
        parts = []
        if hv is not None:
            parts.append(_present_only(self.geu_v(pool_tokens(hv)), vm))
        if ha is not None:
            parts.append(_present_only(self.geu_a(pool_tokens(ha)), am))
        return parts[0] if len(parts) == 1 else parts[0] + parts[1]


class LateFusion(_Fusion):
    """One GEU per modality; fused = softmax(learned logits over present modalities) . normalised embeddings."""

    kind = "late"

    def __init__(self, *, visual_dim: int, audio_dim: int, embed_dim: int, dropout: float = 0.0):
        super().__init__(visual_dim=visual_dim, audio_dim=audio_dim, embed_dim=embed_dim, dropout=dropout)
        self.geu_v = GatedEmbeddingUnit(2 * visual_dim, embed_dim, dropout=dropout)
        self.geu_a = GatedEmbeddingUnit(2 * audio_dim, embed_dim, dropout=dropout)
        self.modality_logits = nn.Parameter(torch.zeros(2))  # weights of (visual, audio) before the softmax

    def _embed(self, v: Tensor | None, a: Tensor | None, vm: Tensor, am: Tensor) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        if v is not None:
            out["visual"] = _present_only(self.geu_v(pool_tokens(v), normalize=True), vm)
        if a is not None:
            out["audio"] = _present_only(self.geu_a(pool_tokens(a), normalize=True), am)
        return out

    def embeddings(self, visual: Tensor | None = None, audio: Tensor | None = None, *,
                   visual_mask: Tensor | None = None, audio_mask: Tensor | None = None) -> dict[str, Tensor]:
        """Per-modality unit-length embeddings {"visual": [B, E], "audio": [B, E]}; a modality given as
        None is absent from the dict, and rows of samples masked out are zeros (so they add 0 to a
        Text-Tri score text.visual + text.audio)."""
        return self._embed(*self._inputs(visual, audio, visual_mask, audio_mask))

    def forward(self, visual: Tensor | None = None, audio: Tensor | None = None, *,
                visual_mask: Tensor | None = None, audio_mask: Tensor | None = None) -> Tensor:
        v, a, vm, am = self._inputs(visual, audio, visual_mask, audio_mask)
        embs = self._embed(v, a, vm, am)
        present = torch.stack([vm, am], dim=1)  # [B, 2]
        logits = self.modality_logits.expand(present.shape[0], -1).masked_fill(~present, float("-inf"))
        w = torch.softmax(logits, dim=1)
        parts = [w[:, i:i + 1] * embs[name] for i, name in enumerate(("visual", "audio")) if name in embs]
        return parts[0] if len(parts) == 1 else parts[0] + parts[1]


class AttentionLayer(nn.Module):
    """Pre-LN transformer encoder layer that also returns its attention weights [B, heads, N, N]."""

    def __init__(self, dim: int, heads: int, *, ffn_mult: int = 2, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = _ffn(dim, ffn_mult, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = self.norm1(x)
        y, w = self.attn(h, h, h, key_padding_mask=key_padding_mask, need_weights=True, average_attn_weights=False)
        x = x + self.drop(y)
        return x + self.drop(self.ffn(self.norm2(x))), w


class AttentionFusion(_ProjectedFusion):
    """Transformer over [CLS] + visual + audio tokens; output = GEU(LayerNorm(CLS)).

    After each forward, `last_attention` holds one [B, heads, N, N] map per layer (N = 1 + Tv + Ta;
    still attached to the graph when gradients are on, so attention distillation can train
    through it) and `last_layout` the token slices {"cls", "visual", "audio"} of those maps.
    Tokens of a missing modality are masked as keys, so they get zero attention."""

    kind = "attention"

    def __init__(self, *, visual_dim: int, audio_dim: int, embed_dim: int, hidden: int = 128, layers: int = 2,
                 heads: int = 4, ffn_mult: int = 2, dropout: float = 0.0):
        super().__init__(visual_dim=visual_dim, audio_dim=audio_dim, embed_dim=embed_dim, hidden=hidden,
                         layers=layers, heads=heads, ffn_mult=ffn_mult, dropout=dropout)
        self.cls = nn.Parameter(0.02 * torch.randn(hidden))
        self.type_embed = nn.Embedding(3, hidden)  # 0 = CLS, 1 = visual token, 2 = audio token
        self.layers = nn.ModuleList(AttentionLayer(hidden, heads, ffn_mult=ffn_mult, dropout=dropout)
                                    for _ in range(layers))
        self.norm = nn.LayerNorm(hidden)
        self.geu = GatedEmbeddingUnit(hidden, embed_dim, dropout=dropout)
        self.last_attention: list[Tensor] = []
        self.last_layout: dict[str, slice] = {}

    def forward(self, visual: Tensor | None = None, audio: Tensor | None = None, *,
                visual_mask: Tensor | None = None, audio_mask: Tensor | None = None) -> Tensor:
        v, a, vm, am = self._inputs(visual, audio, visual_mask, audio_mask)
        b = vm.shape[0]
        tokens = [(self.cls + self.type_embed.weight[0]).expand(b, 1, -1)]
        pads = [torch.zeros(b, 1, dtype=torch.bool, device=vm.device)]
        layout, n = {"cls": slice(0, 1)}, 1
        for name, x, present, proj, type_id in (("visual", v, vm, self.proj_v, 1), ("audio", a, am, self.proj_a, 2)):
            if x is None:
                continue
            t = x.shape[1]
            pos = sinusoid_positions(t, self.type_embed.embedding_dim, device=x.device)
            tokens.append(proj(x) + self.type_embed.weight[type_id] + pos)
            pads.append((~present)[:, None].expand(b, t))
            layout[name], n = slice(n, n + t), n + t
        h, pad = torch.cat(tokens, dim=1), torch.cat(pads, dim=1)
        maps = []
        for layer in self.layers:
            h, w = layer(h, key_padding_mask=pad)
            maps.append(w)
        self.last_attention, self.last_layout = maps, layout
        return self.geu(self.norm(h[:, 0]))


FUSION_KINDS: tuple[str, ...] = ("early", "intermediate", "late", "attention")
_FUSION_CLASSES: dict[str, type[_Fusion]] = {"early": EarlyFusion, "intermediate": IntermediateFusion,
                                              "late": LateFusion, "attention": AttentionFusion}


def create_fusion(kind: str, **kwargs: Any) -> nn.Module:
    """Build a fusion module by name (one of `FUSION_KINDS`) from its keyword arguments."""
    if kind not in _FUSION_CLASSES:
        raise ValueError(f"unknown fusion kind {kind!r}; valid kinds: {', '.join(FUSION_KINDS)}")
    return _FUSION_CLASSES[kind](**kwargs)


__all__ = ["FUSION_KINDS", "AttentionFusion", "AttentionLayer", "CrossModalLayer", "EarlyFusion",
           "IntermediateFusion", "LateFusion", "create_fusion", "pool_tokens", "sinusoid_positions"]
