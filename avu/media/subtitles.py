"""Subtitles: read and write SRT/WebVTT cues, find sidecar files, and attach cues to segments.

Parsing and writing go through pysubs2; this module adds what a pipeline needs on top of it:
strict encoding handling, plain text without formatting tags, validation of the cue list (with an
opt-in repair that warns once), discovery of `<stem>[.<lang>].srt|vtt` files next to a video, and
a fast assignment of cues to time segments. Times are float seconds, as everywhere in avu.

Known limits inherited from pysubs2's line-based SRT/VTT reader: a text line that is only digits
at the very end of a cue is taken for the next cue's number, and a text line holding exactly two
timestamps is taken for a timing line.
"""
from __future__ import annotations

import bisect
import html
import math
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pysubs2
import pysubs2.exceptions
import pysubs2.formats
from pysubs2.formats.subrip import SubripFormat
from pysubs2.formats.webvtt import WebVTTFormat

from avu.media._errors import SubtitleError, check_readable
from avu.media._types import Cue, Segment

__all__ = [
    "Sidecar", "SubtitleRepairWarning", "assign_cues", "find_sidecars", "format_timestamp",
    "read_subtitles", "segment_text", "write_subtitles",
]

FORMATS = ("srt", "vtt")
_PARSERS = {"srt": SubripFormat, "vtt": WebVTTFormat}
_VTT_INLINE_TIME = re.compile(r"<\d+(?::\d{2}){1,2}\.\d{3}>")  # karaoke-style <00:00:01.920>
_LANG = r"[A-Za-z]{2,3}(?:[-_](?:[A-Za-z]{2}|\d{3}))?"  # en, deu, pt-BR, en_US, es-419


class SubtitleRepairWarning(UserWarning):
    """`read_subtitles(..., repair=True)` changed the cues it read; the message says how."""


@dataclass(frozen=True)
class Sidecar:
    """A subtitle file next to a video: `movie.srt`, `movie.en.vtt`, `movie.pt-BR.srt`, ..."""

    path: Path
    format: str  # "srt" or "vtt"
    language: str | None  # the tag as written in the file name; None when untagged


@dataclass
class _Raw:
    """A cue before validation: signed times in ms; `number` is its 1-based place in the file."""

    number: int
    start: int
    end: int
    text: str


def format_timestamp(seconds: float, *, sep: str = ".") -> str:
    """`seconds` as "hh:mm:ss.mmm" (rounded to the millisecond); `sep=","` gives SRT style."""
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _decode(p: Path, data: bytes, encoding: str | None) -> str:
    try:
        text = data.decode(encoding or "utf-8-sig")
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as e:
        bad = f"byte 0x{data[e.start]:02x} at offset {e.start}"
        if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):  # not UTF-16 text
            raise SubtitleError(p, f"binary data (NUL bytes; {bad} is not text), not a subtitle file") from None
        if encoding is None:
            raise SubtitleError(p, f"not valid UTF-8 ({bad}); pass encoding=... "
                                   "(for example encoding='latin-1' or 'cp1252')") from None
        raise SubtitleError(p, f"not valid {encoding} ({bad})") from None
    if "\x00" in text:
        raise SubtitleError(p, "binary data (NUL bytes), not a subtitle file")
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _detect_format(p: Path, text: str) -> str:
    if text.lstrip().startswith("WEBVTT"):
        return "vtt"
    ext = p.suffix.lower().lstrip(".")
    if ext in FORMATS:
        return ext
    try:
        fmt = pysubs2.formats.autodetect_format(text[:10000])
    except pysubs2.exceptions.Pysubs2Error as e:
        raise SubtitleError(p, f"not an SRT or WebVTT file (pysubs2: {e})") from None
    if fmt not in FORMATS:
        raise SubtitleError(p, f"unsupported subtitle format {fmt!r} (only SRT and WebVTT)")
    return fmt


def _signs(text: str, fmt: str) -> list[tuple[int, int]]:
    """(start sign, end sign) for each timing line, found the way pysubs2 finds them.

    pysubs2's timestamp pattern has no minus sign, so "-00:00:01,000" would silently read as +1 s.
    """
    def sign(line: str, pos: int) -> int:
        before = line[:pos].rstrip()  # "-00:00:01,000" or "--> -00:00:01,000", not "-->"
        return -1 if before.endswith("-") and not before.endswith("--") else 1

    signs = []
    for line in text.split("\n"):
        stamps = list(_PARSERS[fmt].TIMESTAMP.finditer(line))
        if len(stamps) == 2:
            signs.append((sign(line, stamps[0].start()), sign(line, stamps[1].start())))
    return signs


def _clean(text: str, fmt: str) -> str:
    if fmt == "vtt":
        text = text.split("\n\n", 1)[0]  # a blank line ends a WebVTT cue (the rest is a NOTE etc.)
        text = html.unescape(_VTT_INLINE_TIME.sub("", text))
    lines = (line.strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _parse(p: Path, text: str) -> list[_Raw]:
    fmt = _detect_format(p, text)
    try:
        subs = pysubs2.SSAFile.from_string(text, format_=fmt)
    except (pysubs2.exceptions.Pysubs2Error, ValueError) as e:
        raise SubtitleError(p, f"cannot parse as {fmt.upper()}: {e}") from None
    if not subs.events and not (fmt == "vtt" and text.lstrip().startswith("WEBVTT")):
        raise SubtitleError(p, f"no {fmt.upper()} cues found (no 'start --> end' timing lines)")
    signs = _signs(text, fmt)
    if len(signs) != len(subs.events):  # cannot happen unless pysubs2 changes how it reads
        signs = [(1, 1)] * len(subs.events)
    raws = []
    for number, (ev, (s0, s1)) in enumerate(zip(subs.events, signs), start=1):
        cue_text = _clean(ev.plaintext, fmt)
        if cue_text:
            raws.append(_Raw(number, s0 * ev.start, s1 * ev.end, cue_text))
    return raws


def _validate(p: Path, raws: list[_Raw]) -> None:
    prev: _Raw | None = None
    for r in raws:
        where = f"cue {r.number} ({_ms(r.start)} --> {_ms(r.end)})"
        if r.start < 0 or r.end < 0:
            raise SubtitleError(p, f"{where}: negative time")
        if r.end <= r.start:
            raise SubtitleError(p, f"{where}: ends at or before it starts")
        if prev is not None and r.start < prev.start:
            raise SubtitleError(p, f"{where}: out of order, starts before cue {prev.number} "
                                   f"({_ms(prev.start)}); pass repair=True to sort")
        if prev is not None and r.start < prev.end:
            raise SubtitleError(p, f"{where}: overlaps cue {prev.number}, which ends at "
                                   f"{_ms(prev.end)}; pass repair=True to trim")
        prev = r


def _ms(ms: int) -> str:
    return ("-" if ms < 0 else "") + format_timestamp(abs(ms) / 1000)


def _repair(p: Path, raws: list[_Raw]) -> list[_Raw]:
    counts = dict.fromkeys(("clamped", "empty", "unsorted", "trimmed", "swallowed"), 0)
    for r in raws:
        if r.start < 0 or r.end < 0:
            counts["clamped"] += 1
            r.start, r.end = max(r.start, 0), max(r.end, 0)
    kept = [r for r in raws if r.end > r.start]
    counts["empty"] = len(raws) - len(kept)
    counts["unsorted"] = sum(b.start < a.start for a, b in zip(kept, kept[1:]))
    kept.sort(key=lambda r: r.start)  # stable: cues starting together keep their file order
    out: list[_Raw] = []
    for r in kept:
        while out and r.start < out[-1].end:
            out[-1].end = r.start
            counts["trimmed"] += 1
            if out[-1].end > out[-1].start:
                break
            out.pop()
            counts["swallowed"] += 1
        out.append(r)  # sorted input + trimming above keep `out` sorted and non-overlapping
    what = {"clamped": "clamped {} cue(s) with negative times to 0",
            "empty": "dropped {} cue(s) of zero or negative length",
            "unsorted": "sorted {} out-of-order cue(s) by start",
            "trimmed": "trimmed the end of {} cue(s) overlapping the next",
            "swallowed": "dropped {} cue(s) left empty by trimming"}
    done = [what[k].format(n) for k, n in counts.items() if n]
    if done:
        warnings.warn(f"{p}: repaired subtitles: " + "; ".join(done), SubtitleRepairWarning,
                      stacklevel=3)
    return out


def read_subtitles(path: str | os.PathLike, *, encoding: str | None = None,
                   repair: bool = False) -> list[Cue]:
    """Read an SRT or WebVTT file into plain-text cues, sorted and non-overlapping.

    `encoding=None` means strict UTF-8 (a BOM is fine). Formatting tags are stripped and lines
    are joined with "\\n"; cues with no text are dropped. Invalid cues (negative times, empty
    duration, out of order, overlapping) raise `SubtitleError` naming the file and the cue number,
    unless `repair=True`, which fixes them and emits one `SubtitleRepairWarning` naming the changes.
    Missing, unreadable or empty files raise the matching `MediaError` from `check_readable`.
    """
    p = check_readable(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise SubtitleError(p, f"cannot read: {e.strerror}") from None
    raws = _parse(p, _decode(p, data, encoding))
    if repair:
        raws = _repair(p, raws)
    else:
        _validate(p, raws)
    return [Cue(r.start / 1000, r.end / 1000, r.text) for r in raws]


def write_subtitles(cues: Iterable[Cue], path: str | os.PathLike, *,
                    format: str | None = None) -> None:
    """Write `cues` to `path` as SRT or WebVTT (from `format`, else the file extension), UTF-8.

    Times are rounded to the millisecond, the precision of both formats.
    """
    p = Path(path)
    fmt = (format or p.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"{p}: cannot tell the subtitle format; use a .srt/.vtt name or "
                         f"format='srt'/'vtt' (got {format or p.suffix!r})")
    subs = pysubs2.SSAFile()
    for cue in cues:
        if not isinstance(cue, Cue):
            raise TypeError(f"expected Cue, got {type(cue).__name__}")
        text = "\n".join(line.strip() for line in cue.text.split("\n") if line.strip())
        if fmt == "vtt":
            text = html.escape(text, quote=False)
        subs.append(pysubs2.SSAEvent(start=round(cue.start * 1000), end=round(cue.end * 1000),
                                     text=text.replace("\n", r"\N")))
    # keep_ssa_tags: write the text as given instead of interpreting "{...}" as override tags
    p.write_text(subs.to_string(fmt, keep_ssa_tags=True), encoding="utf-8", newline="\n")


def find_sidecars(video_path: str | os.PathLike) -> list[Sidecar]:
    """Subtitle files next to `video_path`: `<stem>.srt|vtt` and `<stem>.<lang>.srt|vtt`.

    Untagged files come first, then by language; SRT before VTT for the same language.
    """
    video = Path(video_path)
    pattern = re.compile(rf"{re.escape(video.stem)}(?:\.({_LANG}))?\.(srt|vtt)", re.IGNORECASE)
    try:
        entries = list(os.scandir(video.parent))
    except OSError:
        return []
    found = []
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        if m and entry.is_file() and entry.name != video.name:
            found.append(Sidecar(video.parent / entry.name, m.group(2).lower(), m.group(1)))
    found.sort(key=lambda s: (s.language is not None, (s.language or "").lower(),
                              FORMATS.index(s.format), s.path.name))
    return found


def assign_cues(cues: Sequence[Cue], segments: Sequence[Segment], *,
                min_overlap: float = 0.0) -> list[list[Cue]]:
    """For each segment, the cues sharing more than `min_overlap` seconds with it, in time order.

    A cue that only touches a segment's boundary shares 0 s, so it is not assigned there.
    Runs in O((N + M) log N + output) for N cues and M segments.
    """
    if not math.isfinite(min_overlap) or min_overlap < 0:
        raise ValueError(f"min_overlap must be a finite number >= 0, got {min_overlap!r}")
    ordered = sorted(cues, key=lambda c: (c.start, c.end))
    starts = [c.start for c in ordered]
    max_end: list[float] = []  # running max of ends: every cue before the bisect point ends earlier
    for c in ordered:
        max_end.append(max(c.end, max_end[-1]) if max_end else c.end)
    result = []
    for seg in segments:
        lo = bisect.bisect_right(max_end, seg.start)
        hi = bisect.bisect_left(starts, seg.end)
        result.append([c for c in ordered[lo:hi] if seg.overlap(c.start, c.end) > min_overlap])
    return result


def segment_text(cues: Iterable[Cue]) -> str:
    """The cues' texts joined with single spaces (line breaks inside a cue become spaces too)."""
    return " ".join(" ".join(c.text.split()) for c in cues if c.text.strip())
