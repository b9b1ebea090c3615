"""Where the pretrained perception model files are found, and proof that they are the right ones.

Lookup order (first folder holding the file wins): `models_dir` (the `--models DIR` option) or
`$AVU_MODELS`, then `~/.cache/avu/models` (what `avu models install` fills), then the shared
`../shared/models` beside the checkout (`avu._paths.shared_models()`). Every file's sha256 is
pinned here; a file that exists but does not match its pin is refused (never used "as is"), and
a file found nowhere raises `ModelMissing` naming it and saying how to install it. The OCR models
ship inside the `rapidocr-onnxruntime` wheel, so "read" needs that package rather than a file.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from avu._paths import USER_CACHE, shared_models

CACHE_DIR = USER_CACHE / "models"  # `avu models install DIR` copies verified files here


@dataclass(frozen=True)
class ModelFile:
    """One pinned file: its name, size, sha256 and where it came from."""

    name: str  # file name, the same in every models folder
    sha256: str  # hex digest the file must have
    bytes: int  # size in bytes (checked before hashing: a cheap first test)
    what: str  # one line: the model or label list
    licence: str  # the licence the file is distributed under
    source: str  # repository@commit it was taken from

    def __post_init__(self):
        if len(self.sha256) != 64 or self.bytes <= 0:
            raise ValueError(f"{self.name}: a pin needs a 64-hex sha256 and a positive size")


PINS: dict[str, ModelFile] = {m.name: m for m in (
    ModelFile("yamnet.tflite", "469be6a3421cbc52cf97e9f2f966cba984198e8e7af9854d68b3e3ebb1e04194", 4078224,
              "YAMNet, 521 AudioSet sound classes + 1024-d embedding (TFLite)", "Apache-2.0",
              "Jaskaran197/Speaker-Detector@4ec29b69 (export of tensorflow/models research/audioset/yamnet)"),
    ModelFile("yamnet_class_map.csv", "cdf24d193e196d9e95912a2667051ae203e92a2ba09449218ccb40ef787c6df2", 14096,
              "YAMNet class names (index, mid, display_name)", "Apache-2.0 / AudioSet ontology CC BY-SA 4.0",
              "Jaskaran197/Speaker-Detector@4ec29b69"),
    ModelFile("tf2_mobilenet_v2_1.0_224_ptq.tflite",
              "5d3137241276e79c86d14a74fe43581398ae0e815191d3dba45495b810840e8c", 4070174,
              "MobileNetV2 1.0 224, 1000 ImageNet classes, int8 (TFLite)", "Apache-2.0",
              "google-coral/test_data@104342d2"),
    ModelFile("imagenet_labels.txt", "b8aaeb5630c62626a7d124a05c0e14230a7ffdd2136a31d0190a4fb71c1d82f1", 21686,
              "ImageNet labels (line 0 'background')", "Apache-2.0", "google-coral/test_data@104342d2"),
    ModelFile("yolox_nano.onnx", "e8af074932d4ed7e232278e3055cefcdea3edf178874a3694ae292649fb464dd", 3678356,
              "YOLOX-Nano, 80 COCO object classes with boxes (ONNX)", "Apache-2.0 (Megvii)",
              "Bigisland1729/object-detection-models@7f3f2fa3"),
    ModelFile("coco80_labels.txt", "bd17f1ee35d5f3c862a4894605855abbb9dda4b0621fdb0ac4c2c8c7bb7e730a", 621,
              "COCO class names in YOLOX's output order", "facts (class names)", "written for ../shared/models"),
)}

# modality -> the pinned files it needs ("read" needs the rapidocr-onnxruntime package instead)
MODALITY_FILES: dict[str, tuple[str, ...]] = {
    "heard": ("yamnet.tflite", "yamnet_class_map.csv"),
    "seen": ("tf2_mobilenet_v2_1.0_224_ptq.tflite", "imagenet_labels.txt"),
    "objects": ("yolox_nano.onnx", "coco80_labels.txt"),
    "read": (),
}
INSTALL_HINT = "copy the model files into ~/.cache/avu/models with `avu models install DIR`, or pass --models DIR"


class ModelMissing(Exception):
    """A model file is not found, or found with the wrong contents: `name` and a one-line `message`."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name
        self.message = message


def search_dirs(models_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders looked in, in order: models_dir or $AVU_MODELS, the user cache, the shared folder."""
    first = models_dir if models_dir is not None else os.environ.get("AVU_MODELS")
    dirs = [Path(first).expanduser()] if first else []
    return dirs + [CACHE_DIR.expanduser(), shared_models()]


_HASHES: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256: each file hashed once


def sha256_of(path: Path) -> str:
    """The file's sha256 (hex), remembered per (path, size, mtime) for the process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def verify(path: Path, pin: ModelFile) -> None:
    """Raise ModelMissing unless `path` has the pinned size and sha256."""
    size = path.stat().st_size
    if size != pin.bytes:
        raise ModelMissing(pin.name, f"{path}: {size} bytes, expected {pin.bytes} (not the pinned {pin.name}); "
                                     f"refused. {INSTALL_HINT}")
    digest = sha256_of(path)
    if digest != pin.sha256:
        raise ModelMissing(pin.name, f"{path}: sha256 {digest[:12]}..., expected {pin.sha256[:12]}... "
                                     f"(not the pinned {pin.name}); refused. {INSTALL_HINT}")


def find_model(name: str, models_dir: str | os.PathLike | None = None, *,
               dirs: Sequence[str | os.PathLike] | None = None) -> Path:
    """The verified path of pinned file `name`: the first of `search_dirs(models_dir)` (or exactly
    `dirs`, when given) that holds it. A wrong file there is refused, not skipped; none: ModelMissing."""
    if name not in PINS:
        raise ValueError(f"unknown model file {name!r}; pinned: {sorted(PINS)}")
    where = [Path(d).expanduser() for d in dirs] if dirs is not None else search_dirs(models_dir)
    for d in where:
        p = d / name
        if p.is_file():
            verify(p, PINS[name])
            return p
    looked = ", ".join(str(d) for d in where) or "no folders"
    raise ModelMissing(name, f"model file {name} not found (looked in {looked}); {INSTALL_HINT}")


def ocr_available() -> str | None:
    """None when the OCR package imports; otherwise the one-line reason."""
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError as e:
        return f"on-screen text needs the rapidocr-onnxruntime package ({e}); pip install rapidocr-onnxruntime==1.4.4"
    return None


def model_status(models_dir: str | os.PathLike | None = None, *,
                 dirs: Sequence[str | os.PathLike] | None = None) -> list[dict]:
    """One row per pinned file for `avu models`: name, found, path, bytes, licence, source, error."""
    rows = []
    for pin in PINS.values():
        row = {"file": pin.name, "what": pin.what, "licence": pin.licence, "source": pin.source,
               "found": False, "path": None, "bytes": None, "error": None}
        try:
            p = find_model(pin.name, models_dir, dirs=dirs)
            row.update(found=True, path=str(p), bytes=p.stat().st_size)
        except ModelMissing as e:
            row["error"] = e.message
        rows.append(row)
    return rows


def install(src: str | os.PathLike, dest: str | os.PathLike | None = None) -> list[Path]:
    """Copy every pinned file found in `src` into `dest` (default the user cache), verifying each
    before and after the copy. Returns the installed paths; a wrong file raises ModelMissing."""
    import shutil

    src, out = Path(src).expanduser(), Path(dest or CACHE_DIR).expanduser()
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: not a folder")
    found = [PINS[n] for n in PINS if (src / n).is_file()]
    if not found:
        raise ModelMissing(str(src), f"{src} holds none of the model files {sorted(PINS)}")
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for pin in found:
        verify(src / pin.name, pin)
        tmp = out / (pin.name + ".part")
        shutil.copyfile(src / pin.name, tmp)
        verify(tmp, pin)
        tmp.replace(out / pin.name)
        done.append(out / pin.name)
    return done


__all__ = ["CACHE_DIR", "INSTALL_HINT", "MODALITY_FILES", "ModelFile", "ModelMissing", "PINS", "find_model",
           "install", "model_status", "ocr_available", "search_dirs", "sha256_of", "verify"]
