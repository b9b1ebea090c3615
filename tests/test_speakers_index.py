"""Speakers in the index: a two-voice conversation built from two shared readers is planned
(diarized), stored and read back: two speakers on the videos row, every cue labelled, turns from
`Index.speakers`, a voice query from another recording of one reader ranks that reader's turns
first, and the `speaker = 'S2'` filter. Plan + store directly (no Ray): the Ray ingest writes the
same rows through `pipelines/`."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from avu.index import open_index
from avu.index.voice import split_speaker_filter
from avu.ingest.config import IngestConfig, PerceptionConfig
from avu.ingest.features import Featurizer
from avu.ingest.plan import SpokenCue, plan_video
from avu.media import Cue, read_audio, write_subtitles
from avu.store.tables import IndexStore

SR = 16000
MANIFESTO, SONNET = "video/manifesto.mp4", "speech/sonnet/sonnet001.mp3"
_PLAN = [(MANIFESTO, 12.9, 17.1), (SONNET, 2.6, 8.8), (MANIFESTO, 24.7, 29.6), (SONNET, 9.1, 11.5),
         (MANIFESTO, 36.2, 40.6)]  # the conversation of tests/test_speakers.py
CFG = IngestConfig(asr="off", encoders={"text": None, "visual": None, "audio": None, "fused": None, "events": None},
                   perception=PerceptionConfig(enable=()))


def test_speaker_filter_syntax():
    assert split_speaker_filter(None) == (None, None)
    assert split_speaker_filter("speaker = 'S2'") == ({"S2"}, None)
    assert split_speaker_filter("duration > 60 AND speaker IN ('S1', 'S3')") == ({"S1", "S3"}, "duration > 60")
    assert split_speaker_filter("speaker = 'S2' AND duration > 60") == ({"S2"}, "duration > 60")
    assert split_speaker_filter("duration > 60") == (None, "duration > 60")
    with pytest.raises(ValueError, match="unsupported speaker filter"):
        split_speaker_filter("speaker LIKE 'S%'")


@pytest.fixture(scope="module")
def conversation_index(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("speakers")
    pieces, cues, t = [np.zeros(int(0.3 * SR), dtype=np.float32)], [], 0.3
    gap = np.zeros(int(0.6 * SR), dtype=np.float32)
    for i, (src, a, b) in enumerate(_PLAN):
        w = read_audio(shared_data / src, sr=SR, start=a, end=b).waveform.numpy()
        w = w * (0.05 / np.sqrt(np.mean(w ** 2)))
        pieces += [gap, w]
        t += 0.6
        cues.append(Cue(round(t + 0.2, 2), round(t + len(w) / SR - 0.2, 2), f"line {i} of {src.split('/')[-1]}"))
        t += len(w) / SR
    wav = root / "talk.wav"
    sf.write(wav, np.concatenate([*pieces, gap]), SR)
    write_subtitles(cues, root / "talk.srt")  # a sidecar: the cues ingest labels
    plan = plan_video(wav, CFG)
    store = IndexStore(root / "idx", create=True)
    feat = Featurizer(CFG)
    rows = [{"video_id": plan.video_id, "seg": i, "start": a, "end": b, "text": txt, "config_hash": CFG.hash}
            for i, ((a, b), txt) in enumerate(zip(plan.spans, plan.texts))]
    store.write_video({"video_id": plan.video_id, "path": str(wav), "duration": plan.info.duration,
                       "has_audio": True, "text_source": plan.text_source, "config_hash": CFG.hash,
                       "speakers_json": plan.speakers_json},
                      rows, feat.cue_rows(plan.video_id, plan.cues, text_source=plan.text_source, language=None))
    return plan, open_index(root / "idx"), shared_data


@pytest.mark.shared
def test_conversation_gets_two_speakers_labelled_cues_and_turns(conversation_index):
    plan, idx, _ = conversation_index
    assert plan.speakers.speakers == ["S1", "S2"]
    turns = idx.speakers(plan.video_id)
    assert {t.speaker for t in turns} == {"S1", "S2"}
    assert all(t.end > t.start and 0 <= t.confidence <= 1 for t in turns)
    assert [t.start for t in turns] == sorted(t.start for t in turns)
    subs = idx.subtitles(plan.video_id)
    assert len(subs) == 5 and all(isinstance(c, SpokenCue) for c in subs)
    by_source = {c.text.split(" of ")[1]: set() for c in subs}
    for c in subs:
        by_source[c.text.split(" of ")[1]].add(c.speaker)
    assert by_source == {"manifesto.mp4": {"S1"}, "sonnet001.mp3": {"S2"}}
    assert {t.speaker for t in idx.speakers(plan.video_id, where="speaker = 'S2'")} == {"S2"}
    assert idx.video(plan.video_id)["speakers"]["speakers"] == ["S1", "S2"]


@pytest.mark.shared
def test_voice_query_from_another_recording_ranks_that_reader_first(conversation_index, tmp_path):
    plan, idx, shared = conversation_index
    for src, a, b, who in ((SONNET, 20.0, 30.0, "S2"), (MANIFESTO, 50.0, 60.0, "S1")):  # unheard parts
        q = tmp_path / f"{who}.wav"
        sf.write(q, read_audio(shared / src, sr=SR, start=a, end=b).waveform.numpy(), SR)
        res = idx.search(str(q), k=20, modalities=["voice"])
        n = sum(t.speaker == who for t in idx.speakers(plan.video_id))
        assert [h.speaker for h in res[:n]] == [who] * n  # that reader's turns first
        assert len(res) > n and res[n - 1].score > res[n].score  # the other voice scores lower
        assert res.searched == ("voice",) and res[0].matched["voice"][0] == who
        only = idx.search(str(q), k=20, modalities=["voice"], where="speaker = 'S1'")
        assert {h.speaker for h in only} == {"S1"}


@pytest.mark.shared
def test_speakers_command_prints_turns_and_talk_time(conversation_index):
    import json

    from typer.testing import CliRunner

    from avu.cli.speakers import app

    plan, idx, _ = conversation_index
    res = CliRunner().invoke(app, [idx.uri, plan.video_id, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert set(out["talk_time_s"]) == {"S1", "S2"} and len(out["turns"]) == len(idx.speakers(plan.video_id))
    res = CliRunner().invoke(app, [idx.uri, plan.video_id, "--where", "speaker = 'S1'"])
    assert res.exit_code == 0 and "S1" in res.output and "S2" not in res.output


@pytest.mark.shared
def test_search_command_by_voice(conversation_index, tmp_path):
    import json

    from typer.testing import CliRunner

    from avu.cli.search import app

    plan, idx, shared = conversation_index
    q = tmp_path / "sonnet.wav"
    sf.write(q, read_audio(shared / SONNET, sr=SR, start=20.0, end=30.0).waveform.numpy(), SR)
    res = CliRunner().invoke(app, [idx.uri, str(q), "--voice", "--k", "1", "--json"])
    assert res.exit_code == 0, res.output
    hits = json.loads(res.stdout)
    assert len(hits) == 1 and hits[0]["speaker"] == "S2" and hits[0]["matched"]["voice"][0] == "S2"


@pytest.mark.shared
def test_demo_report_shows_speakers_and_says_why_perception_queries_cannot_run(conversation_index):
    from io import StringIO

    from rich.console import Console

    from avu.cli.demo import _markdown, _perception_query, _print, _video_report

    plan, idx, _ = conversation_index
    v = idx.video(plan.video_id)
    r = _video_report(idx, v)
    assert set(r["speakers"]["talk_time_s"]) == {"S1", "S2"} and r["speakers"]["reason"] is None
    assert r["perceived"] == {"seen": [], "objects": [], "heard": [], "read": []}  # perception was off
    q = _perception_query(idx, "a rabbit in a meadow", "seen")
    assert q["hits"] == [] and "seen" in q["reason"]
    report = {"index": idx.uri, "videos": [r], "failed": [], "queries": [q], "sounds": []}
    buf = StringIO()
    _print(report, Console(file=buf, width=100))
    assert "speakers: S1" in buf.getvalue() and "no hits: cannot search seen" in buf.getvalue()
    assert "speakers: S1" in _markdown(report)
