"""avu.media.subtitles: real SRT/VTT files, round trips, errors, repair, sidecars, assignment."""
from __future__ import annotations

import os
import random
import time
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avu.media._errors import EmptyMedia, MediaNotFound, SubtitleError
from avu.media._types import Cue, Segment
from avu.media.subtitles import (
    Sidecar,
    SubtitleRepairWarning,
    assign_cues,
    find_sidecars,
    format_timestamp,
    read_subtitles,
    segment_text,
    write_subtitles,
)

SHARED = Path(os.environ.get("AVU_SHARED_DATA")
              or Path(__file__).resolve().parents[1].parent / "shared" / "data")


def shared(rel: str) -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared/data absent: {SHARED} not found (set AVU_SHARED_DATA to its path)")
    return SHARED / rel


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


# --- real files ------------------------------------------------------------------------------
# Expected numbers were read off the files by hand (the `-->` lines), not computed by this module.

@pytest.mark.shared
def test_manifesto_srt():
    cues = read_subtitles(shared("video/manifesto.srt"))
    assert len(cues) == 37
    assert (cues[0].start, cues[0].end) == pytest.approx((1.599, 3.919), abs=1e-9)
    assert cues[0].text == "this audiobook is in the public domain"
    assert (cues[-1].start, cues[-1].end) == pytest.approx((84.880, 87.840), abs=1e-9)
    assert cues[-1].text == "languages"
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))


@pytest.mark.shared
def test_manifesto_vtt_strips_karaoke_tags_and_blank_cues():
    # 73 timing lines; the cues at 00:00:13.190 and 00:00:19.029 hold only spaces -> dropped.
    cues = read_subtitles(shared("video/manifesto.vtt"))
    assert len(cues) == 71
    assert (cues[0].start, cues[0].end) == pytest.approx((1.599, 3.909), abs=1e-9)
    assert cues[0].text == "this audiobook is in the public domain"  # <00:00:01.920><c>..</c> gone
    assert (cues[-1].start, cues[-1].end) == pytest.approx((84.880, 87.840), abs=1e-9)
    assert cues[-1].text == "french german italian flemish and danish\nlanguages"
    assert not any("<" in c.text or ">" in c.text for c in cues)
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))


@pytest.mark.shared
def test_manifesto_srt_and_vtt_agree_where_they_should():
    # The VTT is rolling YouTube-style captions: each SRT cue is a VTT cue of the same start
    # (the VTT adds 10 ms "hold" cues between them) whose last line is the SRT text. The ends
    # differ: mostly by the 10 ms hold, at pauses by up to ~0.5 s either way.
    srt = read_subtitles(shared("video/manifesto.srt"))
    vtt = read_subtitles(shared("video/manifesto.vtt"))
    longer = [c for c in vtt if c.end - c.start > 0.0105]
    assert len(longer) == len(srt) == 37
    for s, v in zip(srt, longer):
        assert v.start == pytest.approx(s.start, abs=1e-9)
        assert v.text.split("\n")[-1] == s.text
        assert s.end == pytest.approx(v.end, abs=0.5)
    assert sum(s.end == pytest.approx(v.end + 0.010, abs=1e-6) for s, v in zip(srt, longer)) == 34


@pytest.mark.shared
@pytest.mark.parametrize("lang, last_text", [
    ("en", "We're almost done. Shhh..."),
    ("de", "Wir sind fast fertig. Ruhig..."),
    ("es", "Ya casi terminamos. Shhh..."),
])
def test_sintel_vtt(lang, last_text):
    cues = read_subtitles(shared(f"subtitles/sintel-{lang}.vtt"))
    assert len(cues) == 14
    assert (cues[0].start, cues[0].end) == (0.0, 12.0)
    assert cues[0].text == "[Test]"  # <v Test> tag stripped, the NOTE block after it is not text
    assert (cues[1].start, cues[1].end) == pytest.approx((18.7, 21.5), abs=1e-9)
    assert (cues[-1].start, cues[-1].end) == pytest.approx((118.25, 119.5), abs=1e-9)
    assert cues[-1].text == last_text
    assert cues[3].text.count("\n") == 1  # a two-line cue keeps its line break


@pytest.mark.shared
def test_sintel_utf8_text():
    de = read_subtitles(shared("subtitles/sintel-de.vtt"))
    es = read_subtitles(shared("subtitles/sintel-es.vtt"))
    assert "töricht" in de[3].text
    assert "preparación" in es[3].text


# --- round trips -----------------------------------------------------------------------------

SRT = """1
00:00:01,000 --> 00:00:02,500
<i>Hello</i> there

2
00:00:03,000 --> 00:00:04,250
Two
lines

3
01:02:03,004 --> 01:02:05,000
{\\an8}Top & bottom
"""


def test_srt_round_trip(tmp_path):
    cues = read_subtitles(write(tmp_path / "a.srt", SRT))
    assert cues == [Cue(1.0, 2.5, "Hello there"), Cue(3.0, 4.25, "Two\nlines"),
                    Cue(3723.004, 3725.0, "Top & bottom")]
    write_subtitles(cues, tmp_path / "b.srt")
    text = (tmp_path / "b.srt").read_text(encoding="utf-8")
    assert "01:02:03,004 --> 01:02:05,000" in text
    assert read_subtitles(tmp_path / "b.srt") == cues


def test_vtt_round_trip_and_cross_format(tmp_path):
    cues = [Cue(0.0, 1.001, "a < b & c"), Cue(1.5, 2.0, "zwei\nZeilen ü"), Cue(61.25, 62.0, "end")]
    write_subtitles(cues, tmp_path / "x.vtt")
    text = (tmp_path / "x.vtt").read_text(encoding="utf-8")
    assert text.startswith("WEBVTT")
    assert "00:01:01.250 --> 00:01:02.000" in text
    assert "a &lt; b &amp; c" in text
    assert read_subtitles(tmp_path / "x.vtt") == cues
    write_subtitles(cues, tmp_path / "x.txt", format="srt")
    assert read_subtitles(tmp_path / "x.txt") == cues  # format detected from the content


def test_write_rejects_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="format"):
        write_subtitles([Cue(0, 1, "a")], tmp_path / "x.ass")


def test_bom_and_crlf(tmp_path):
    p = tmp_path / "bom.srt"
    p.write_bytes(b"\xef\xbb\xbf" + SRT.replace("\n", "\r\n").encode())
    assert [c.text for c in read_subtitles(p)] == ["Hello there", "Two\nlines", "Top & bottom"]


# --- errors ----------------------------------------------------------------------------------

def test_latin1_needs_encoding(tmp_path):
    p = tmp_path / "latin.srt"
    p.write_bytes("1\n00:00:01,000 --> 00:00:02,000\nCafé\n".encode("latin-1"))
    with pytest.raises(SubtitleError, match="not valid UTF-8") as err:
        read_subtitles(p)
    assert err.value.path == str(p)
    assert "0xe9" in err.value.reason and "encoding=" in err.value.reason
    assert read_subtitles(p, encoding="latin-1") == [Cue(1.0, 2.0, "Café")]


def test_binary_garbage(tmp_path):
    p = tmp_path / "garbage.srt"
    p.write_bytes(bytes(random.Random(0).randrange(256) for _ in range(4096)))
    with pytest.raises(SubtitleError) as err:
        read_subtitles(p)
    assert err.value.path == str(p)
    with pytest.raises(SubtitleError, match="binary"):
        read_subtitles(p, encoding="latin-1")


def test_text_without_cues(tmp_path):
    with pytest.raises(SubtitleError, match="no SRT cues found"):
        read_subtitles(write(tmp_path / "notes.srt", "just some words\nno timings\n"))
    assert read_subtitles(write(tmp_path / "empty.vtt", "WEBVTT\n\n")) == []


def test_empty_and_missing(tmp_path):
    (tmp_path / "zero.srt").touch()
    with pytest.raises(EmptyMedia):
        read_subtitles(tmp_path / "zero.srt")
    with pytest.raises(MediaNotFound):
        read_subtitles(tmp_path / "nope.srt")


def srt(*cues: tuple[str, str, str]) -> str:
    return "".join(f"{i}\n{a} --> {b}\n{t}\n\n" for i, (a, b, t) in enumerate(cues, 1))


UNSORTED = srt(("00:00:05,000", "00:00:06,000", "late"), ("00:00:01,000", "00:00:02,000", "early"))
OVERLAP = srt(("00:00:01,000", "00:00:03,000", "one"), ("00:00:02,000", "00:00:04,000", "two"))
NEGATIVE = srt(("-00:00:01,000", "00:00:01,000", "neg"), ("00:00:02,000", "00:00:03,000", "ok"))
ZERO = srt(("00:00:01,000", "00:00:01,000", "none"), ("00:00:02,000", "00:00:01,500", "back"),
           ("00:00:03,000", "00:00:04,000", "ok"))


@pytest.mark.parametrize("text, match", [
    (UNSORTED, r"cue 2 .*out of order"),
    (OVERLAP, r"cue 2 .*overlaps cue 1"),
    (NEGATIVE, r"cue 1 .*negative"),
    (ZERO, r"cue 1 .*ends at or before"),
])
def test_invalid_cues_raise(tmp_path, text, match):
    p = write(tmp_path / "bad.srt", text)
    with pytest.raises(SubtitleError, match=match) as err:
        read_subtitles(p)
    assert err.value.path == str(p)


def test_repair_unsorted(tmp_path):
    p = write(tmp_path / "bad.srt", UNSORTED)
    with pytest.warns(SubtitleRepairWarning, match=r"bad\.srt.*sorted 1"):
        cues = read_subtitles(p, repair=True)
    assert cues == [Cue(1.0, 2.0, "early"), Cue(5.0, 6.0, "late")]


def test_repair_overlap(tmp_path):
    p = write(tmp_path / "bad.srt", OVERLAP)
    with pytest.warns(SubtitleRepairWarning, match=r"bad\.srt.*trimmed .* 1 cue"):
        cues = read_subtitles(p, repair=True)
    assert cues == [Cue(1.0, 2.0, "one"), Cue(2.0, 4.0, "two")]


def test_repair_negative_and_zero(tmp_path):
    with pytest.warns(SubtitleRepairWarning, match=r"clamped 1"):
        assert read_subtitles(write(tmp_path / "n.srt", NEGATIVE), repair=True) == [
            Cue(0.0, 1.0, "neg"), Cue(2.0, 3.0, "ok")]
    with pytest.warns(SubtitleRepairWarning, match=r"dropped 2 cue\(s\) of zero"):
        assert read_subtitles(write(tmp_path / "z.srt", ZERO), repair=True) == [Cue(3.0, 4.0, "ok")]


def test_repair_warns_once_and_drops_swallowed(tmp_path):
    text = srt(("00:00:05,000", "00:00:09,000", "c"), ("00:00:01,000", "00:00:08,000", "a"),
               ("00:00:01,000", "00:00:02,000", "b"), ("-00:00:00,500", "00:00:00,500", "z"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cues = read_subtitles(write(tmp_path / "mess.srt", text), repair=True)
    repairs = [w for w in caught if issubclass(w.category, SubtitleRepairWarning)]
    assert len(repairs) == 1
    assert "mess.srt" in str(repairs[0].message)
    # "a" (1-8) is trimmed to nothing by "b" (1-2) and dropped; "b" then ends before "c" starts
    assert cues == [Cue(0.0, 0.5, "z"), Cue(1.0, 2.0, "b"), Cue(5.0, 9.0, "c")]
    assert all(x.end <= y.start for x, y in zip(cues, cues[1:]))


def test_clean_file_does_not_warn(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_subtitles(write(tmp_path / "ok.srt", SRT), repair=True)) == 3


# --- sidecars --------------------------------------------------------------------------------

def test_find_sidecars(tmp_path):
    video = tmp_path / "movie.mp4"
    video.touch()
    names = ["movie.vtt", "movie.srt", "movie.en.vtt", "movie.en.srt", "movie.de.srt",
             "movie.pt-BR.srt", "movie.en_US.vtt",
             # not sidecars of movie.mp4:
             "movie2.srt", "movie.extra.long.tag.srt", "movie.english.srt", "movie.txt",
             "movie.en.txt", "other.srt", "amovie.srt", "movie..srt", "movie.e.srt"]
    for n in names:
        (tmp_path / n).write_text("x")
    (tmp_path / "movie.fr.srt").mkdir()  # a directory is not a sidecar
    found = find_sidecars(video)
    assert [(s.path.name, s.format, s.language) for s in found] == [
        ("movie.srt", "srt", None), ("movie.vtt", "vtt", None),
        ("movie.de.srt", "srt", "de"), ("movie.en.srt", "srt", "en"),
        ("movie.en.vtt", "vtt", "en"), ("movie.en_US.vtt", "vtt", "en_US"),
        ("movie.pt-BR.srt", "srt", "pt-BR"),
    ]
    assert found[0] == Sidecar(tmp_path / "movie.srt", "srt", None)
    assert all(s.path.parent == tmp_path for s in found)


def test_find_sidecars_dotted_stem_and_missing_dir(tmp_path):
    (tmp_path / "my.clip.srt").write_text("x")
    (tmp_path / "my.clip.es.vtt").write_text("x")
    (tmp_path / "my.srt").write_text("x")
    found = find_sidecars(tmp_path / "my.clip.webm")
    assert [(s.path.name, s.language) for s in found] == [
        ("my.clip.srt", None), ("my.clip.es.vtt", "es")]
    assert find_sidecars(tmp_path / "nowhere" / "v.mp4") == []


# --- assignment ------------------------------------------------------------------------------

def test_assign_cues_boundaries():
    cues = [Cue(0.0, 2.0, "a"), Cue(2.0, 4.0, "b"), Cue(3.5, 6.0, "c"), Cue(9.0, 9.5, "d")]
    segs = [Segment(0.0, 2.0), Segment(2.0, 4.0), Segment(4.0, 8.0), Segment(8.0, 9.0)]
    got = assign_cues(list(reversed(cues)), segs)
    assert [[c.text for c in g] for g in got] == [["a"], ["b", "c"], ["c"], []]
    # "c" shares only 0.5 s with [2, 4): a larger min_overlap drops it there
    got = assign_cues(cues, segs, min_overlap=0.5)
    assert [[c.text for c in g] for g in got] == [["a"], ["b"], ["c"], []]
    assert assign_cues([], segs) == [[], [], [], []]
    assert assign_cues(cues, []) == []
    with pytest.raises(ValueError):
        assign_cues(cues, segs, min_overlap=-1)


def test_assign_cues_long_cue_spanning_many():
    cues = [Cue(0.0, 100.0, "long"), Cue(1.0, 2.0, "short"), Cue(50.0, 51.0, "mid")]
    got = assign_cues(cues, [Segment(10.0, 20.0), Segment(50.5, 60.0), Segment(100.0, 101.0)])
    assert [[c.text for c in g] for g in got] == [["long"], ["long", "mid"], []]


def test_assign_cues_matches_brute_force_and_is_fast():
    rng = random.Random(1)
    cues, t = [], 0.0
    for i in range(10_000):
        t += rng.uniform(0.0, 1.0)
        d = rng.uniform(0.1, 3.0)
        cues.append(Cue(t, t + d, str(i)))
        t += d
    starts = [rng.uniform(0, t) for _ in range(10_000)]
    segs = [Segment(s, s + rng.uniform(0.5, 20.0)) for s in starts]
    t0 = time.perf_counter()
    got = assign_cues(cues, segs, min_overlap=0.1)
    assert time.perf_counter() - t0 < 2.0
    for seg, g in list(zip(segs, got))[:300]:
        assert g == [c for c in cues if seg.overlap(c.start, c.end) > 0.1]


def test_segment_text_and_timestamp():
    assert segment_text([Cue(0, 1, "Hello"), Cue(1, 2, "two\nlines"), Cue(2, 3, "end.")]) == \
        "Hello two lines end."
    assert segment_text([]) == ""
    assert format_timestamp(3723.004) == "01:02:03.004"
    assert format_timestamp(0) == "00:00:00.000"
    assert format_timestamp(59.9996) == "00:01:00.000"
    assert format_timestamp(1.5, sep=",") == "00:00:01,500"
    assert format_timestamp(360000.0) == "100:00:00.000"
    with pytest.raises(ValueError):
        format_timestamp(-1)


# --- property --------------------------------------------------------------------------------

# Letters first, so no line is digits only (SRT readers take such a line for the next cue number),
# and no characters that SRT readers treat as markup ({...} override tags, <...> HTML tags, \N)
# or that could form a timing line (no ':' so no timestamps).
_line = st.from_regex(r"[A-Za-zÀ-ÿ][A-Za-z0-9À-ÿ ,.!?'&-]{0,30}", fullmatch=True).map(str.strip)
_text = st.lists(_line, min_size=1, max_size=3).map("\n".join)


@st.composite
def cue_lists(draw):
    n = draw(st.integers(0, 25))
    cues, t = [], draw(st.integers(0, 10_000))
    for _ in range(n):
        d = draw(st.integers(1, 20_000))
        cues.append(Cue(t / 1000, (t + d) / 1000, draw(_text)))
        t += d + draw(st.integers(0, 5_000))
    return cues


@settings(max_examples=150, deadline=None)
@given(cues=cue_lists(), fmt=st.sampled_from(["srt", "vtt"]))
def test_property_write_then_read(tmp_path_factory, cues, fmt):
    if not cues and fmt == "srt":
        return  # an SRT with no cues is an empty file, which reads as EmptyMedia
    p = tmp_path_factory.mktemp("prop") / f"x.{fmt}"
    write_subtitles(cues, p)
    back = read_subtitles(p)
    assert len(back) == len(cues)
    for a, b in zip(cues, back):
        assert b.start == pytest.approx(a.start, abs=0.001)
        assert b.end == pytest.approx(a.end, abs=0.001)
        assert b.text == a.text
