"""Fused search on an index of the shared clips and a generated title card (every perception model
on): what is seen, heard and read is found by text, each hit says why, the result says what was
searched, and names of videos work as the README writes them."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import avu
from avu.index import fusion
from avu.store import UnknownVideo
from tests._perceived_index import perceived_index

pytestmark = [pytest.mark.slow, pytest.mark.shared, pytest.mark.timeout(2400)]  # ingest with every model: minutes


@pytest.fixture(scope="module")
def idx(shared_data, tmp_path_factory):
    return avu.open_index(perceived_index(shared_data, tmp_path_factory))


def _name(hit) -> str:
    return Path(hit.path).name


def test_the_index_holds_every_modality(idx):
    r = idx.search("anything at all", k=1)
    assert set(r.held) >= {"speech", "seen", "heard", "read"} and set(r.searched) == {"speech", "seen", "heard", "read"}
    assert r.unavailable == {}
    rows = {Path(v["path"]).name: v for v in idx.videos()}
    assert rows["manifesto.mp4"]["models"]["perceived"] == ["heard", "seen", "objects", "read"]
    assert isinstance(rows["manifesto.mp4"]["info"], dict)  # JSON columns come decoded


def test_a_rabbit_in_a_meadow_finds_big_buck_bunny(idx):
    hits = idx.search("a rabbit in a meadow", k=3)
    assert hits and _name(hits[0]).startswith("big_buck_bunny"), [(_name(h), h.score) for h in hits]
    top = hits[0]
    assert set(top.scores_by_modality) >= {"speech", "seen", "heard", "read"}
    assert top.matched.get("seen"), top.matched  # the labels that answered
    assert all(0.0 <= h.score <= 1.0 for h in hits)


def test_gunfire_and_explosions_find_the_battle(idx):
    hits = idx.search("gunfire and explosions", k=3)
    assert hits and _name(hits[0]) == "tears_of_steel_battle.webm", [(_name(h), h.score) for h in hits]
    assert hits[0].matched.get("heard"), hits[0].matched


def test_text_on_screen_is_found_by_what_it_says(idx):
    hits = idx.search("harbour festival", k=3)
    assert hits and _name(hits[0]) == "title_card.mp4", [(_name(h), h.score) for h in hits]
    assert hits[0].scores_by_modality["speech"] is None  # the clip says nothing
    assert any("HARBOUR FESTIVAL" in line for line in hits[0].matched.get("read", []))
    assert hits[0].scores_by_modality.get("phrase") == fusion.PHRASE_P and hits[0].score <= 1.0
    assert not hits.weak


def test_speech_is_in_the_same_fusion(idx):
    hits = idx.search("you can find the text version of this", k=3)
    top = hits[0]
    assert _name(top) == "manifesto.mp4" and top.subtitle == "you can find the text version of this"
    assert top.start == pytest.approx(3.919, abs=0.01)  # the cue's own time in manifesto.srt
    assert top.scores_by_modality["speech"] > 0.9 and top.score <= 1.0
    assert top.matched["speech"] == ["you can find the text version of this"]
    only_seen = idx.search("you can find the text version of this", k=3, weights={"speech": 0.0, "read": 0.0})
    assert only_seen.searched == ("seen", "heard")  # weight 0: not searched
    assert not only_seen or only_seen[0].score < top.score
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert idx.search("you can find the text version of this", k=3) == hits  # stable


def test_the_result_says_what_it_searched(idx):
    r = idx.search("a rabbit", k=2, modalities=["seen", "visual"])
    assert r.searched == ("seen",) and "visual" in r.unavailable and "trained" in r.unavailable["visual"]
    with pytest.raises(ValueError, match="visual"):
        idx.search("a dog", modalities=["visual"])
    assert idx.search("public domain", where="duration < 0").reason.startswith("no done video")
    with pytest.raises(ValueError, match="k must be"):
        idx.search("x", k=0)
    d = r.to_dict()
    assert json.loads(json.dumps(d))["searched"] == ["seen"] and d["weak_below"] == fusion.WEAK_BELOW


def test_unrelated_queries_are_weak(idx):
    weak = [idx.search(q, k=1).weak for q in ("quarterly tax return spreadsheet", "a violin concerto in a church")]
    assert any(weak), "an unrelated query should be labelled weak"


def test_one_way_to_name_a_video(idx, shared_data, monkeypatch):
    vid = next(v["video_id"] for v in idx.videos() if v["path"].endswith("manifesto.mp4"))
    hits = idx.search(("manifesto.mp4", 2.0, 4.0), k=3)  # a bare file name, as the README writes it
    assert hits and all(not (h.video_id == vid and h.start < 4.0 and h.end > 2.0) for h in hits)
    assert idx.events("tears_of_steel_battle.webm") == idx.events(str(shared_data / "video" /
                                                                       "tears_of_steel_battle.webm"))
    monkeypatch.chdir(shared_data / "video")
    assert idx.summary("./manifesto.mp4").video_id == vid
    with pytest.raises(UnknownVideo, match="no done video 'nope.mp4'"):
        idx.events("nope.mp4")
    home = Path(os.path.expanduser("~"))
    try:
        rel = "~/" + str(Path(idx.uri).relative_to(home))
    except ValueError:
        monkeypatch.setenv("HOME", str(Path(idx.uri).parent))
        rel = "~/" + Path(idx.uri).name
    assert avu.open_index(rel).uri == idx.uri


def test_events_hear_and_see(idx):
    battle = idx.events("tears_of_steel_battle.webm", visual=True)
    kinds = {e.kind for e in battle}
    assert "sound" in kinds and "object" in kinds, kinds
    sounds = {e.label for e in battle if e.kind == "sound"}
    assert sounds and all(isinstance(s, str) for s in sounds)
    people = [e for e in battle if e.kind == "object" and e.label == "person"]
    assert people and all(e.count and e.count >= 1 for e in people)
    gun = idx.events("tears_of_steel_battle.webm", prompts=["gunshots"], threshold=0.1, min_duration=0.0)
    assert gun and all(e.kind == "prompt" and e.label == "gunshots" for e in gun)
    esc = idx.events("tears_of_steel_battle.webm", sounds="esc10", threshold=0.0, min_duration=0.0)
    assert esc and {e.label for e in esc} <= {"dog", "rooster", "rain", "sea_waves", "crackling_fire", "crying_baby",
                                              "sneezing", "clock_tick", "helicopter", "chainsaw"}


def test_summaries_use_what_is_seen_heard_and_read(idx):
    s = idx.summary("title_card.mp4", query="harbour festival", budget=0.3)  # no speech: what is read answers
    assert 0 < s.selected_seconds <= 0.3 * s.duration + 1e-6


def test_cli_narrows_the_modalities_and_weighs_them(idx):
    from typer.testing import CliRunner

    from avu.cli import app

    run = CliRunner().invoke
    r = run(app, ["search", idx.uri, "gunfire and explosions", "-k", "2", "-m", "heard", "--json"])
    assert r.exit_code == 0, r.output
    hits = json.loads(r.stdout)
    assert len(hits) == 2 and all(set(h["scores_by_modality"]) == {"heard"} for h in hits)
    assert Path(hits[0]["path"]).name == "tears_of_steel_battle.webm" and hits[0]["matched"]["heard"]
    r = run(app, ["search", idx.uri, "gunfire and explosions", "-m", "seen,heard", "-w", "heard=0"])
    assert r.exit_code == 0 and "searched seen (" in r.stdout, r.output  # weight 0 leaves heard out
    weighed = idx.search("gunfire and explosions", k=1, weights={"heard": 3})
    r = run(app, ["search", idx.uri, "gunfire and explosions", "-k", "1", "-w", "heard=3", "--json"])
    assert json.loads(r.stdout)[0]["score"] == pytest.approx(weighed[0].score)
    for args, says in ((["-w", "heard"], "--weight wants MODALITY=NUMBER"), (["-m", "smell"], "unknown modalities"),
                       (["-w", "heard=-1"], "a finite number >= 0"), (["--voice", "-m", "seen"], "--voice")):
        r = run(app, ["search", idx.uri, "x", *args])
        assert r.exit_code == 1 and r.stderr.startswith("error:") and says in r.stderr, (args, r.output)
