"""Where avu finds things outside the package: the shared real media, the user's pretrained model
files and cache, and the repository checkout (for user-facing configs when run from a clone).

One home for these lookups, so that every command honours the same environment variables:
`AVU_SHARED_DATA` (real media; default `../shared/data` beside the checkout) and `AVU_MODELS`
(pretrained perception models; see `avu.perception.files`).
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent  # the installed `avu` package
REPO = PACKAGE.parent  # the checkout when run from a clone (configs/, runs/); site-packages otherwise


def shared_data() -> Path:
    """The real media folder: `$AVU_SHARED_DATA`, else `../shared/data` beside the checkout."""
    env = os.environ.get("AVU_SHARED_DATA")
    return Path(env).expanduser() if env else REPO.parent / "shared" / "data"


def shared_models() -> Path:
    """The shared pretrained-model folder beside the checkout (`../shared/models`)."""
    return REPO.parent / "shared" / "models"


USER_CACHE = Path("~/.cache/avu")  # installed model files (models/) and derived caches, per user


def user_cache(*parts: str) -> Path:
    """A path under the user's avu cache (`~/.cache/avu`, expanded)."""
    return USER_CACHE.expanduser().joinpath(*parts)


def user_config(*parts: str) -> Path:
    """A user-facing config shipped in the checkout's `configs/` (`user_config("avshapes.yaml")`)."""
    return REPO.joinpath("configs", *parts)


__all__ = ["PACKAGE", "REPO", "USER_CACHE", "shared_data", "shared_models", "user_cache", "user_config"]
