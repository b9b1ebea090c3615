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

SCHEMA_VERSION = 3  # bump when the rows change meaning (2: what is seen, heard and read; 3: who speaks)
PERCEIVED = ("heard", "seen", "objects", "read")  # the perception modalities (avu.perception)


@dataclass(frozen=True)
class PerceptionConfig:
    """What the pretrained perception models (`avu models`) add to each segment."""

    enable: tuple = PERCEIVED  # modalities perceived: heard (YAMNet), seen (MobileNetV2), objects (YOLOX), read (OCR)
    models_dir: str | None = None  # folder with the model files; None: $AVU_MODELS, ~/.cache/avu/models, shared
    fps: float | None = None  # frames per second handed to perception (from the decoded ones); None: all of them
    # (the Perceiver samples inside a segment itself: every frame for tags, 2 for objects, 1 for text)

    def __post_init__(self):
        enable = tuple(self.enable or ())
        unknown = set(enable) - set(PERCEIVED)
        if unknown:
            raise ValueError(f"perception.enable: unknown modalities {sorted(unknown)}; choose from {PERCEIVED}")
        object.__setattr__(self, "enable", tuple(m for m in PERCEIVED if m in enable))
        if self.fps is not None and not (self.fps > 0):
            raise ValueError(f"perception.fps must be positive, got {self.fps}")


@dataclass(frozen=True)
class IngestConfig:
    window: float = 2.0  # segment length in seconds
    hop: float = 2.0  # seconds between segment starts
    fps: float = 2.0  # frames sampled per second of a segment
    size: int = 224  # frames resized to size x size
    sample_rate: int = 16000  # audio rate (mono)
    asr: str = "auto"  # "auto": transcribe videos without sidecar subtitles; "off": never
    speakers: str = "auto"  # "auto": diarize every video with audio (who speaks when); "off": never
    encoders: dict = field(default_factory=lambda: {"text": "minilm", "visual": None, "audio": None,
                                                    "fused": None, "events": "esc10"})  # None: not computed
    perception: PerceptionConfig = field(default_factory=PerceptionConfig)  # seen / heard / read per segment

    def __post_init__(self):
        if isinstance(self.perception, dict):  # from YAML or from `to_dict()` (how actors receive it)
            known = {f.name for f in fields(PerceptionConfig)}
            if set(self.perception) - known:
                raise ValueError(f"unknown perception settings {sorted(set(self.perception) - known)}")
            object.__setattr__(self, "perception", PerceptionConfig(**self.perception))
        elif self.perception is None:  # `perception: null`: none
            object.__setattr__(self, "perception", PerceptionConfig(enable=()))
        if self.window <= 0 or self.hop <= 0 or self.fps <= 0 or self.size < 16 or self.sample_rate < 8000:
            raise ValueError(f"invalid ingest config: {self}")
        if self.asr not in ("auto", "off"):
            raise ValueError(f"asr must be 'auto' or 'off', got {self.asr!r}")
        if self.speakers not in ("auto", "off"):
            raise ValueError(f"speakers must be 'auto' or 'off', got {self.speakers!r}")
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
        """Every setting (JSON-able; `IngestConfig(**d)` rebuilds it once `schema_version` is dropped)."""
        d = asdict(self)
        d["perception"]["enable"] = list(d["perception"]["enable"])
        return d | {"schema_version": SCHEMA_VERSION}

    @property
    def hash(self) -> str:
        """Of every setting but where the model files are (the files are pinned by sha256)."""
        d = self.to_dict()
        d["perception"].pop("models_dir")
        blob = json.dumps(d, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
