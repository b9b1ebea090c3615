"""Models: the encoders that turn segments and queries into embeddings.

Only pretrained parts that ship inside packages are used as-is (MiniLM for text); visual and
audio encoders are trained by avu's own recipes or loaded from a checkpoint the user names.
"""
from avu.models.text import MiniLM, load_minilm

__all__ = ["MiniLM", "load_minilm"]
