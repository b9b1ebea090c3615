"""The MiniLM text encoder (`avu.models.text`): ONNX Runtime on a graph exported from the packaged
weights, or torch's transformer layers, give sentence-transformers' embeddings without importing
it; a process that only encodes text with the exported graph does not import torch either."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

TEXTS = ["a dog running on a beach", "", "Gunfire and explosions!", "Café au lait, s'il vous plaît.",
         "the " * 300,  # past the 256-token cut
         "you can find the text version of this recording at www.marxists.org"]


@pytest.fixture(autouse=True)
def _default_backend(monkeypatch):
    monkeypatch.delenv("AVU_MINILM_BACKEND", raising=False)  # these tests pin the default themselves


def test_embeddings_match_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    from avu.models.text import MINILM_DIM, load_minilm, minilm_files

    assert load_minilm().backend == "onnx"  # the default on CPU
    ours = load_minilm().encode_text(TEXTS, batch_size=4)
    ref = SentenceTransformer(str(minilm_files()), device="cpu").encode(
        TEXTS, batch_size=4, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.shape == (len(TEXTS), MINILM_DIM) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    raw = load_minilm().encode_text(TEXTS[:1], normalize=False)
    assert np.linalg.norm(raw) > 1.5  # unnormalised means are not unit vectors
    np.testing.assert_allclose(raw / np.linalg.norm(raw), ours[:1], atol=1e-6)


def test_batching_and_order_do_not_change_a_text_s_vector():
    from avu.models.text import load_minilm

    enc = load_minilm()
    alone = np.stack([enc.encode_text([t])[0] for t in TEXTS])
    together = enc.encode_text(TEXTS, batch_size=3)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert enc.encode_text([]).shape == (0, 384)


def test_encoding_text_does_not_import_sentence_transformers_or_torch():
    from avu.models.text import load_minilm

    load_minilm()  # the graph is exported here if this machine has none yet (that imports torch)
    code = ("import sys; from avu.models.text import load_minilm; load_minilm().encode_text(['hi']);"
            "print(sorted(m for m in ('sentence_transformers', 'transformers', 'sklearn', 'torch') "
            "if m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if k != "AVU_MINILM_BACKEND"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_backends_agree_and_a_missing_graph_is_made_again(tmp_path, monkeypatch):
    from avu.models import text

    onnx, torch_ = text.MiniLM(backend="onnx"), text.MiniLM(backend="torch")
    assert (onnx.backend, torch_.backend) == ("onnx", "torch")
    np.testing.assert_allclose(onnx.encode_text(TEXTS, batch_size=4), torch_.encode_text(TEXTS, batch_size=4),
                               atol=2e-6)
    raw = [enc.encode_text(TEXTS[:3], normalize=False) for enc in (onnx, torch_)]
    np.testing.assert_allclose(*raw, atol=1e-5)
    torn = tmp_path / "minilm.onnx"
    torn.write_bytes(b"\x08\x01 not a graph")  # a torn write, or a file from another version
    monkeypatch.setattr(text, "onnx_file", lambda: torn)
    again = text.MiniLM(backend="onnx")
    assert torn.stat().st_size > 1_000_000 and not list(tmp_path.glob("*.tmp"))  # exported again, atomically
    np.testing.assert_allclose(again.encode_text(TEXTS[:2]), onnx.encode_text(TEXTS[:2]), atol=1e-6)

    def no_onnx(path):
        raise ModuleNotFoundError("No module named 'onnx'")

    monkeypatch.setattr(text, "onnx_file", lambda: tmp_path / "none" / "minilm.onnx")
    monkeypatch.setattr(text, "export_onnx", no_onnx)
    with pytest.warns(UserWarning, match="MiniLM runs on torch .*could not be made or run .*No module named 'onnx'"):
        assert text.MiniLM().backend == "torch"  # auto: slower, same vectors
    with pytest.raises(RuntimeError, match="the ONNX graph could not be made or run at .*none/minilm.onnx"):
        text.MiniLM(backend="onnx")
    with pytest.raises(ValueError, match="backend must be one of"):
        text.MiniLM(backend="tflite")


def test_the_process_wide_encoder_follows_avu_minilm_backend(monkeypatch):
    from avu.models import text

    monkeypatch.setenv("AVU_MINILM_BACKEND", "torch")
    assert text.load_minilm().backend == "torch" and text.load_minilm(backend="onnx").backend == "onnx"
    monkeypatch.setenv("AVU_MINILM_BACKEND", "ORT")
    with pytest.raises(ValueError, match="AVU_MINILM_BACKEND='ORT': must be one of"):
        text.load_minilm()
    monkeypatch.delenv("AVU_MINILM_BACKEND")
    assert text.load_minilm().backend == "onnx" and text.load_minilm() is text.load_minilm()  # loaded once


def test_long_texts_share_smaller_batches():
    """At most `BATCH_TOKENS` padded tokens a batch: 40 texts cut at 256 tokens go 16 at a time,
    short ones 64 at a time, and a text's vector does not depend on its batch."""
    from avu.models import text

    enc = text.load_minilm()
    widths = []
    real = enc._pooled
    enc._pooled = lambda ids, mask: widths.append(ids.shape) or real(ids, mask)
    try:
        got = enc.encode_text(["the " * 300] * 40 + ["a dog"] * 70 + [TEXTS[3]])
    finally:
        del enc._pooled
    assert [w for w in widths if w[1] == text.MAX_TOKENS] == [(16, 256)] * 3  # the third: 8 long, then short ones
    assert len(widths) == 4 and widths[3][0] == 63 and widths[3][1] < 20  # the other 63 short texts at once
    np.testing.assert_allclose(got[110], enc.encode_text([TEXTS[3]])[0], atol=1e-5)
    np.testing.assert_allclose(got[:40], np.repeat(got[:1], 40, axis=0), atol=1e-5)


@pytest.mark.parametrize("query,best", [("a flower in bloom", 1), ("a speech about workers", 0)])
def test_similar_meanings_are_nearest(query, best):
    from avu.models.text import load_minilm

    enc = load_minilm()
    docs = enc.encode_text(["the proletarians have nothing to lose but their chains", "a red tulip opening"])
    assert int(np.argmax(docs @ enc.encode_text([query])[0])) == best
