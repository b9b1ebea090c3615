"""Option values that need more than a type: `--set key=value` overrides, comma-separated lists,
the speech engine's name.

Each parser raises `typer.BadParameter` naming the option, so a bad value is a usage error (exit
code 2) before anything runs.
"""
from __future__ import annotations

from pathlib import Path

import typer

ENGINES = ("auto", "whisper", "pocketsphinx")
ENGINE_HELP = "auto, whisper or pocketsphinx."
MODEL_HELP = "CTranslate2 Whisper model folder [bundled tiny.en]."


def check_engine(engine: str) -> str:
    """The speech engine's name, or a usage error naming the valid ones."""
    if engine not in ENGINES:
        raise typer.BadParameter(f"must be one of {', '.join(ENGINES)}, not {engine!r}", param_hint="--engine")
    return engine


def parse_sets(sets: list[str]) -> dict:
    """`key=value` pairs (values parsed as YAML; dotted keys reach into mappings) as a nested dict."""
    import yaml

    out: dict = {}
    for s in sets:
        key, sep, value = s.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expects key=value, got {s!r}", param_hint="--set")
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return out


def merged(base: dict, extra: dict) -> dict:
    """`base` with `extra` laid over it, mappings merged key by key."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_mapping(path: Path) -> dict:
    """A YAML file that must hold a mapping (a training config)."""
    import yaml

    raw = yaml.safe_load(path.read_text()) if path.is_file() else None
    if not isinstance(raw, dict):
        raise FileNotFoundError(f"{path}: training config not found or not a mapping")
    return raw


def train_config(path: Path, sets: list[str] = (), **fields):
    """The `TrainConfig` of the YAML at `path` with `--set` overrides and `fields` laid over it."""
    from avu.train.config import TrainConfig

    return TrainConfig.from_dict(merged(merged(read_mapping(path), parse_sets(list(sets))), fields),
                                 source=str(path))


def int_list(text: str, option: str) -> tuple[int, ...]:
    """Comma-separated integers ("1,2,3"), at least one."""
    try:
        values = tuple(int(f) for f in text.split(",") if f.strip())
    except ValueError:
        raise typer.BadParameter(f"must be comma-separated integers, got {text!r}", param_hint=option) from None
    if not values:
        raise typer.BadParameter(f"no value given in {text!r}", param_hint=option)
    return values


__all__ = ["ENGINES", "ENGINE_HELP", "MODEL_HELP", "check_engine", "int_list", "merged", "parse_sets", "read_mapping",
           "train_config"]
