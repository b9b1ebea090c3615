"""An installed avu (a wheel, not the checkout) carries what it needs: the model configs and the
shipped weights inside the package, so `create_model` and `avu --help` work away from the repo."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_ships_model_configs_and_works_outside_the_checkout(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(REPO)], check=True, timeout=600)
    wheel, = (tmp_path / "dist").glob("avu-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    configs = {Path(n).name for n in names if n.startswith("avu/models/configs/") and n.endswith(".yaml")}
    assert {"avshapes_fused.yaml", "coco_image_text.yaml"} <= configs
    assert "avu/models/weights/esc10.safetensors" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site), "AVU_MODEL_CONFIGS": ""}
    env.pop("AVU_MODEL_CONFIGS")
    code = ("import avu.models.registry as r, avu; assert r.CONFIG_DIR.is_relative_to(%r), r.CONFIG_DIR; "
            "m = r.create_model('avshapes_fused'); print(avu.__file__, sorted(r.list_models())[:2])") % str(site)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert str(site) in out.stdout and "avshapes_fused" in out.stdout
    cli = subprocess.run([sys.executable, "-m", "avu", "--help"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert cli.returncode == 0 and "ingest" in cli.stdout, cli.stderr[-2000:]
