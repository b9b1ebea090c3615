"""LSMDC (Large Scale Movie Description Challenge) annotations, as MPII distributes them.

The clips and their files cannot be redistributed (registration with MPII), so this reads the
official formats and nothing else:

- annotation files, tab-separated, no header, one clip per line:
  `CLIP_ID \\t START_ALIGNED \\t END_ALIGNED \\t START_EXTRACTED \\t END_EXTRACTED \\t SENTENCE`,
  times as `hh.mm.ss.mmm` (`00.00.51.926`) -> `load_lsmdc`, one `LsmdcClip` per line;
- clip ids `<movie>_<start>-<end>` (`0001_American_Beauty_00.00.51.926-00.00.54.129`), the clip
  file stored as `<root>/<movie>/<clip_id>.<ext>` (or flat, `<root>/<clip_id>.<ext>`) -> `find_clip`;
- the split files of the 2016 challenge used by the retrieval papers (CLIP4Clip and the ones
  before it): training, val and the 1,000-clip public test -> `lsmdc_split_files`, `test_protocol`.
"""
from __future__ import annotations

import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

LSMDC_TEST_SIZE = 1000
SPLIT_FILES = {"train": "LSMDC16_annos_training.csv", "val": "LSMDC16_annos_val.csv",
               "test": "LSMDC16_challenge_1000_publictect.csv"}  # "publictect": the official spelling
VIDEO_EXTENSIONS = ("avi", "mp4", "mkv", "webm")
_TIME = r"\d{2}\.\d{2}\.\d{2}\.\d{3}"
_TIME_RE = re.compile(rf"^{_TIME}$")
_CLIP_RE = re.compile(rf"^(?P<movie>.+)_(?P<start>{_TIME})-(?P<end>{_TIME})$")


def parse_time(text: str) -> float:
    """Seconds from an LSMDC time `hh.mm.ss.mmm` ("00.00.51.926" -> 51.926)."""
    if not isinstance(text, str) or not _TIME_RE.match(text.strip()):
        raise ValueError(f"not an LSMDC time hh.mm.ss.mmm: {text!r}")
    h, m, s, ms = (int(p) for p in text.strip().split("."))
    if m >= 60 or s >= 60:
        raise ValueError(f"not an LSMDC time hh.mm.ss.mmm (minutes and seconds < 60): {text!r}")
    return h * 3600 + m * 60 + s + ms / 1000.0


def movie_of(clip_id: str) -> str:
    """The movie folder of a clip id: the id less its final `_<start>-<end>` part."""
    m = _CLIP_RE.match(clip_id) if isinstance(clip_id, str) else None
    if not m:
        raise ValueError(f"not an LSMDC clip id (<movie>_hh.mm.ss.mmm-hh.mm.ss.mmm): {clip_id!r}")
    return m["movie"]


@dataclass(frozen=True)
class LsmdcClip:
    """One line of an LSMDC annotation file; times in seconds into the movie."""

    clip_id: str
    movie: str
    start_aligned: float
    end_aligned: float
    start_extracted: float
    end_extracted: float
    sentence: str

    def __post_init__(self):
        if movie_of(self.clip_id) != self.movie:
            raise ValueError(f"clip {self.clip_id!r} belongs to movie {movie_of(self.clip_id)!r}, "
                             f"not {self.movie!r}")
        for a, b in (("start_aligned", "end_aligned"), ("start_extracted", "end_extracted")):
            t0, t1 = getattr(self, a), getattr(self, b)
            if not all(isinstance(t, (int, float)) and math.isfinite(t) and t >= 0 for t in (t0, t1)):
                raise ValueError(f"clip {self.clip_id}: {a} and {b} must be finite seconds >= 0, got {t0!r}, {t1!r}")
            if t1 < t0:
                raise ValueError(f"clip {self.clip_id}: {b} ({t1}) is before {a} ({t0})")
        if not isinstance(self.sentence, str) or not self.sentence.strip():
            raise ValueError(f"clip {self.clip_id}: the sentence is empty")

    @property
    def duration(self) -> float:
        """Length of the extracted clip, in seconds."""
        return self.end_extracted - self.start_extracted


def load_lsmdc(path: str | os.PathLike) -> list[LsmdcClip]:
    """Every clip of an official LSMDC annotation file, in file order. Blank lines are skipped; any
    other line that is not six tab-separated fields with valid times, a valid clip id and a
    non-empty sentence is a ValueError naming the file and the line number. Lines are kept as
    they are: a clip id that occurs twice gives two clips."""
    p = Path(path)
    clips = []
    with open(p, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 6:
                raise ValueError(f"{p}:{n}: expected 6 tab-separated fields (CLIP_ID, START_ALIGNED, "
                                 f"END_ALIGNED, START_EXTRACTED, END_EXTRACTED, SENTENCE), got {len(fields)}")
            clip_id = fields[0].strip()
            try:
                times = [parse_time(t) for t in fields[1:5]]
                clip = LsmdcClip(clip_id, movie_of(clip_id), *times, fields[5].strip())
            except ValueError as e:
                raise ValueError(f"{p}:{n}: {e}") from None
            clips.append(clip)
    return clips


def find_clip(videos_root: str | os.PathLike, clip: LsmdcClip | str) -> Path:
    """The video file of a clip: `<root>/<movie>/<clip_id>.<ext>`, else `<root>/<clip_id>.<ext>`,
    for ext in avi, mp4, mkv, webm (in that order). FileNotFoundError when none exists."""
    clip_id = clip.clip_id if isinstance(clip, LsmdcClip) else clip
    root = Path(videos_root)
    tried = [root / movie_of(clip_id), root]
    for folder in tried:
        for ext in VIDEO_EXTENSIONS:
            candidate = folder / f"{clip_id}.{ext}"
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(f"no video for clip {clip_id} under {root} (looked for {clip_id}."
                            f"{{{','.join(VIDEO_EXTENSIONS)}}} in {tried[0]} and in {root})")


def lsmdc_split_files(annotations_dir: str | os.PathLike) -> dict[str, Path]:
    """{"train", "val", "test"} -> the official LSMDC16 file of each split found in the folder
    (only those present); FileNotFoundError when the folder has none of them."""
    d = Path(annotations_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"LSMDC annotation folder not found: {d}")
    found = {split: d / name for split, name in SPLIT_FILES.items() if (d / name).is_file()}
    if not found:
        raise FileNotFoundError(f"{d} has none of the official LSMDC files ({', '.join(SPLIT_FILES.values())})")
    return found


def test_protocol(clips: Sequence[LsmdcClip]) -> dict:
    """Checks the clips of the public test file against the retrieval protocol (1,000 clips, each
    with one sentence, the text-to-video and video-to-text queries). Returns {"n_clips",
    "expected", "standard", "note"}; warns when the count is not 1,000 (results are then not
    comparable to the papers')."""
    n = len(clips)
    standard = n == LSMDC_TEST_SIZE
    note = (f"{n} test clips, as in the protocol" if standard else
            f"{n} test clips, not the protocol's {LSMDC_TEST_SIZE}: results are not comparable to the papers'")
    if not standard:
        warnings.warn(f"LSMDC test protocol: {note}", stacklevel=2)
    return {"n_clips": n, "expected": LSMDC_TEST_SIZE, "standard": standard, "note": note}


test_protocol.__test__ = False  # a library function, not a pytest test, whatever it is called
