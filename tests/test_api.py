"""The query API and `avu search` on an index of the shared clips."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

import avu
from avu.events.perceived import AUDIOSET_THRESHOLD
from avu.index import Hit
from avu.store import IndexStore, InvalidIndex
from pipelines.ingest import IngestOptions, run_ingest
from tests import factory
from tests._perceived_index import perceived_index


@pytest.fixture(scope="module")
def idx(shared_data, tmp_path_factory):
    return avu.open_index(perceived_index(shared_data, tmp_path_factory))


def manifesto_id(idx) -> str:
    return next(v["video_id"] for v in idx.videos() if v["path"].endswith("manifesto.mp4"))


@pytest.mark.shared
def test_spoken_phrase_finds_the_moment(idx):
    hits = idx.search("you can find the text version of this", k=3)
    top = hits[0]
    assert isinstance(top, Hit) and top.path.endswith("manifesto.mp4")
    assert top.start == pytest.approx(3.919, abs=0.01)  # the cue's own time in manifesto.srt
    assert top.subtitle == "you can find the text version of this"
    assert top.scores_by_modality["phrase"] > 0 and top.scores_by_modality["speech"] > 0.9 and top.score <= 1.0
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert idx.search("you can find the text version of this", k=3) == hits  # stable


@pytest.mark.shared
def test_paraphrase_and_filters(idx):
    said = idx.search("where can I read this book online", k=5, modalities=["speech"])
    assert said and "text version" in " ".join(h.subtitle or "" for h in said[:2])  # the paraphrase, in speech
    # Fused, the lines said while the title card ("Audible Socialism, Manifesto of the Communist Party,
    # by Karl Marx, Friedrich Engels") is on screen gain its `read` evidence: measured 0.859 (public
    # domain), 0.857 (a line shown with the card), 0.853 (text version).
    hits = idx.search("where can I read this book online", k=5)
    assert hits and "text version" in " ".join(h.subtitle or "" for h in hits[:3])
    assert any(h.matched.get("read") for h in hits[:3])  # ... and the reason is given
    long = {v["path"].rsplit("/", 1)[1] for v in idx.videos("duration > 60")}
    assert long == {"manifesto.mp4", "tears_of_steel_battle.webm"}
    assert idx.search("public domain", where="duration > 60")[0].path.endswith("manifesto.mp4")
    with pytest.raises(ValueError, match="speech: no video holds speech"):  # the short clips say nothing
        idx.search("public domain", where="duration < 10", modalities=["speech"], k=3)
    short = idx.search("public domain", where="duration < 10", k=3)  # by default: what else they hold
    assert "speech" in short.unavailable and "speech" not in short.searched
    assert idx.search("public domain", where=[manifesto_id(idx)])[0].path.endswith("manifesto.mp4")


@pytest.mark.shared
def test_clip_query_and_clear_errors(idx, shared_data):
    vid = manifesto_id(idx)
    hits = idx.search((vid, 2.0, 4.0), k=3)
    assert hits and all(not (h.video_id == vid and h.start < 4.0 and h.end > 2.0) for h in hits)
    with pytest.raises(ValueError, match="visual"):
        idx.search("a dog", modalities=["visual"])
    with pytest.raises(ValueError, match="no trained visual encoder"):
        idx.search(str(shared_data / "coco" / "images" / "000000000139.jpg"))
    flower = next(v["video_id"] for v in idx.videos() if "flower" in v["path"])
    with pytest.raises(ValueError, match="nothing to compare"):
        idx.search((flower, 0.0, 2.0), modalities=["speech"])
    assert idx.search((flower, 0.0, 2.0), k=2)  # no speech, but what is seen and heard there
    assert len(idx.subtitles(vid)) == 37 and idx.segments(vid)[0]["seg"] == 0


@pytest.mark.shared
def test_cli_search_json(idx):
    r = subprocess.run([sys.executable, "-m", "avu", "search", idx.uri, "public domain", "--k", "2", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    hits = out["hits"] if isinstance(out, dict) else out
    assert len(hits) == 2 and {"video_id", "path", "start", "end", "score", "scores_by_modality"} <= set(hits[0])
    assert hits[0]["path"].endswith("manifesto.mp4")


def test_missing_and_foreign_index(tmp_path):
    with pytest.raises(InvalidIndex, match="no avu index"):
        avu.open_index(tmp_path / "nothing")
    r = subprocess.run([sys.executable, "-m", "avu", "search", str(tmp_path), "x"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1 and "no avu index" in r.stderr and "Traceback" not in r.stderr


def test_reader_during_ingest_sees_whole_videos_only(tmp_path):
    corpus = factory.make_corpus(tmp_path / "c", 6, seconds=10)
    for p in corpus:  # a subtitle line in each, so search has something to find
        p.with_suffix(".srt").write_text(f"1\n00:00:01,000 --> 00:00:03,000\nclip number {p.stem[-2:]}\n")
    index = tmp_path / "idx"
    t = threading.Thread(target=run_ingest, args=([str(tmp_path / "c")], str(index),
                                                  IngestOptions(config=factory.LEAN, decoders=1)))
    t.start()
    seen = set()
    while t.is_alive():
        try:
            store = IndexStore(index)
        except InvalidIndex:
            time.sleep(0.05)
            continue
        for vid in store.done():  # a done video always has all of its segments and cues
            assert len(store.segment_rows(vid, ["seg"])) == 5 and len(store.cue_rows(vid, ["idx"])) == 1
            seen.add(vid)
        time.sleep(0.05)
    t.join()
    idx = avu.open_index(index)
    assert len(idx.videos()) == 6
    assert idx.search("clip number 03", k=1)[0].path.endswith("clip_03.mp4")


@pytest.mark.shared
def test_event_timeline(idx):
    vid = manifesto_id(idx)
    every = idx.events(vid, threshold=0.0, min_duration=0.0, sounds="esc10")  # every class is "on" somewhere
    assert {e.label for e in every} <= {"dog", "rooster", "rain", "sea_waves", "crackling_fire", "crying_baby",
                                        "sneezing", "clock_tick", "helicopter", "chainsaw"}
    assert all(0 <= e.start < e.end <= 88.08 + 1e-6 and 0 <= e.confidence <= 1 for e in every)
    assert (every.sounds, every.threshold) == ("esc10", 0.0)
    strict = idx.events(vid, threshold=0.8, min_duration=2.0)  # AudioSet tags (the video was perceived)
    assert (strict.sounds, strict.threshold) == ("audioset", 0.8)
    assert idx.events(vid, prompts=["a man speaking"]).threshold == AUDIOSET_THRESHOLD  # the default
    assert strict and "Speech" in {e.label for e in strict}  # an audiobook: speech throughout
    assert all(e.confidence >= 0.8 and e.kind == "sound" for e in strict)
    r = subprocess.run([sys.executable, "-m", "avu", "events", idx.uri, vid, "--json"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and json.loads(r.stdout) == [e._asdict() for e in idx.events(vid)]  # the same defaults


@pytest.mark.shared
def test_summary_through_the_api(idx):
    vid = manifesto_id(idx)
    s = idx.summary(vid, budget=0.15)
    assert 0 < s.selected_seconds <= 0.15 * s.duration + 1e-6 and s.lines
    q = idx.summary(vid, query="a spectre is haunting europe")
    assert any("spectre is haunting europe" in c.text for c in q.lines)
