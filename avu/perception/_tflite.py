"""One way to open a TFLite model for the perception adapters (YAMNet, MobileNetV2): the LiteRT
interpreter with an explicit thread count and every intermediate tensor kept, because the
embeddings the adapters return (YAMNet's 1024-d patch embedding, MobileNetV2's pooled features) are
intermediate tensors of these exports."""
from __future__ import annotations

import warnings
from pathlib import Path


def open_interpreter(model: Path, *, threads: int = 1):
    """A LiteRT `Interpreter` for `model`, tensors allocated; `threads` set explicitly."""
    from ai_edge_litert.interpreter import Interpreter

    with warnings.catch_warnings():  # preserve_all_tensors warns that it is meant for debugging
        warnings.simplefilter("ignore")
        it = Interpreter(str(model), num_threads=int(threads), experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    return it
