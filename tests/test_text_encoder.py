"""The MiniLM text encoder (`avu.models.text`): torch's transformer layers on the packaged weights
give sentence-transformers' embeddings, without importing it."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

TEXTS = ["a dog running on a beach", "", "Gunfire and explosions!", "Café au lait, s'il vous plaît.",
         "the " * 300,  # past the 256-token cut
         "you can find the text version of this recording at www.marxists.org"]


def test_embeddings_match_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    from avu.models.text import MINILM_DIM, load_minilm, minilm_files

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


def test_encoding_text_does_not_import_sentence_transformers():
    code = ("import sys; from avu.models.text import load_minilm; load_minilm().encode_text(['hi']);"
            "print(sorted(m for m in ('sentence_transformers', 'transformers', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("query,best", [("a flower in bloom", 1), ("a speech about workers", 0)])
def test_similar_meanings_are_nearest(query, best):
    from avu.models.text import load_minilm

    enc = load_minilm()
    docs = enc.encode_text(["the proletarians have nothing to lose but their chains", "a red tulip opening"])
    assert int(np.argmax(docs @ enc.encode_text([query])[0])) == best
