"""`IngestConfig`: every setting that changes what an index holds, and its stable hash.

Re-running ingest skips a video whose content hash was indexed with the same config hash; any
change here (window, fps, encoders...) re-indexes it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

SCHEMA_VERSION = 1  # bump when the segment rows change meaning


@dataclass(frozen=True)
class IngestConfig:
    window: float = 2.0  # segment length in seconds
    hop: float = 2.0  # seconds between segment starts
    fps: float = 2.0  # frames sampled per second of a segment
    size: int = 224  # frames resized to size x size
    sample_rate: int = 16000  # audio rate (mono)
    asr: str = "auto"  # "auto": transcribe videos without sidecar subtitles; "off": never
    encoders: dict = field(default_factory=lambda: {"text": "minilm", "visual": None, "audio": None,
                                                    "fused": None, "events": "esc10"})  # None: not computed

    def __post_init__(self):
        if self.window <= 0 or self.hop <= 0 or self.fps <= 0 or self.size < 16 or self.sample_rate < 8000:
            raise ValueError(f"invalid ingest config: {self}")
        if self.asr not in ("auto", "off"):
            raise ValueError(f"asr must be 'auto' or 'off', got {self.asr!r}")
        for modality, name in self.encoders.items():
            if modality not in ("text", "visual", "audio", "fused", "events"):
                raise ValueError(f"unknown modality {modality!r} in encoders")
            if modality == "text" and name not in (None, "minilm"):
                raise ValueError(f"text encoder must be 'minilm' or null, got {name!r}")
            if modality == "events" and name not in (None, "esc10"):
                raise ValueError(f"events model must be 'esc10' (the shipped model) or null, got {name!r}")
            if modality in ("visual", "audio", "fused") and name is not None:
                ck = Path(str(name)).expanduser()
                folder = ck.parent if ck.suffix == ".safetensors" else ck
                if not ((folder / "model.safetensors").is_file() and (folder / "model.json").is_file()):
                    raise ValueError(f"encoders.{modality}: {name}: not a trained model checkpoint (a folder with "
                                     "model.safetensors and model.json, as `avu train` writes); or null")

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides) -> "IngestConfig":
        data = yaml.safe_load(Path(path).read_text()) or {}
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{path}: unknown ingest settings {sorted(unknown)}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self) | {"schema_version": SCHEMA_VERSION}

    @property
    def hash(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
