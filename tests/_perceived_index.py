"""One index of the shared clips plus a generated title card, built once per test session and
shared by the search, events and API tests (ingest runs Ray and every perception model: slow).

The title card is a 6 s clip with no audio track, white text drawn by ffmpeg's drawtext on a dark
background: what it says can only be found by reading it.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

TITLE = "HARBOUR FESTIVAL TICKETS"  # what the generated clip shows (and nothing else)
_BUILT: dict = {}


def title_card(path: Path, text: str = TITLE, seconds: float = 6.0) -> Path:
    """A clip showing `text` in large letters (ffmpeg drawtext with DejaVu Sans Bold), no audio."""
    ffmpeg = shutil.which("ffmpeg")
    font = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
    if ffmpeg is None or not font.is_file():
        pytest.skip("ffmpeg with drawtext and the DejaVu fonts are needed to draw a title card")
    draw = (f"drawtext=fontfile={font}:text='{text}':fontsize=56:fontcolor=white:"
            "x=(w-text_w)/2:y=(h-text_h)/2")
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c=0x202040:s=960x540:d={seconds}:r=10",
                    "-vf", draw, "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)], check=True, timeout=120)
    return path


def perceived_index(shared_data: Path, tmp_path_factory) -> Path:
    """The session's index (built on first use): every shared clip and the title card, ASR off."""
    if "index" not in _BUILT:
        from avu.ingest import IngestConfig
        from avu.perception.files import model_status

        missing = [m["error"] for m in model_status() if not m["found"]]
        if missing:  # what this index is for (seen, heard, read) needs every model
            pytest.skip(f"pretrained perception models absent: {missing[0]} (set AVU_MODELS to the shared "
                        "models folder, or put ../shared/models beside the checkout)")
        from pipelines.ingest import IngestOptions, run_ingest

        root = tmp_path_factory.mktemp("perceived")
        card = title_card(root / "title_card.mp4")
        index = root / "index"
        results = run_ingest([str(shared_data / "video"), str(card)], str(index),
                             IngestOptions(config=IngestConfig(asr="off")))
        bad = [r for r in results if r.status != "done"]
        assert not bad, bad
        _BUILT["index"] = index
    return _BUILT["index"]
