"""Speaker diarization: result types, clustering, voice activity, and diarization of real voices
(a conversation built from two shared readers; silent, non-speech and too-short audio), the
built evaluation conversations and their scoring, and subtitles labelled with speakers."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from avu.media import Audio, Cue, MediaError, read_audio
from avu.speakers import Diarization, Turn, diarize, diarize_audio, embed_voice, voice_of
from avu.speakers.cluster import cluster_windows
from avu.speech.vad import covered, speech_regions, total_speech

SR = 16000


def _clip(shared, rel: str, start: float, end: float) -> np.ndarray:
    return read_audio(shared / rel, sr=SR, start=start, end=end).waveform.numpy()


# -- result types ------------------------------------------------------------------------------
def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=256).astype(np.float32)
    return v / np.linalg.norm(v)


def test_turn_and_diarization_validate():
    with pytest.raises(ValueError, match="S1, S2"):
        Turn("A", 0.0, 1.0, 0.5)
    with pytest.raises(ValueError, match="start < end"):
        Turn("S1", 2.0, 1.0, 0.5)
    with pytest.raises(ValueError, match="confidence"):
        Turn("S1", 0.0, 1.0, 1.5)
    t1, t2 = Turn("S1", 0.0, 1.0, 0.9), Turn("S2", 1.0, 2.0, 0.8)
    with pytest.raises(ValueError, match="first appearance"):
        Diarization(turns=(t2, Turn("S1", 2.0, 3.0, 0.9)), centroids={"S1": _unit(0), "S2": _unit(1)})
    with pytest.raises(ValueError, match="one centroid per speaker"):
        Diarization(turns=(t1, t2), centroids={"S1": _unit(0)})
    with pytest.raises(ValueError, match="unit"):
        Diarization(turns=(t1,), centroids={"S1": np.ones(256, dtype=np.float32)})
    with pytest.raises(ValueError, match="must say why"):
        Diarization(turns=(), centroids={})
    d = Diarization(turns=(t1, t2, Turn("S1", 2.5, 4.0, 0.7)), centroids={"S1": _unit(0), "S2": _unit(1)},
                    duration=5.0, speech=3.5)
    assert d.speakers == ["S1", "S2"] and d.talk_time() == {"S1": 2.5, "S2": 1.0}
    assert d.speaker_between(0.7, 1.9) == "S2" and d.speaker_between(2.4, 2.45) == "S1"
    assert d.speaker_between(4.6, 4.8) is None
    back = Diarization.from_dict(json.loads(json.dumps(d.to_dict(centroids=True))))
    assert back.turns == d.turns and np.allclose(back.centroids["S2"], d.centroids["S2"], atol=1e-5)


def test_cluster_estimates_the_number_of_groups():
    rng = np.random.default_rng(0)
    centres = [_unit(i) for i in range(3)]
    emb = np.concatenate([c + 0.15 * rng.normal(size=(12, 256)) / 16 for c in centres])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    labels = cluster_windows(emb, threshold=0.5, min_windows=2)
    assert len(set(labels)) == 3
    assert all(len(set(labels[i * 12:(i + 1) * 12])) == 1 for i in range(3))
    odd = np.concatenate([emb, _unit(9)[None]])  # one stray window joins a real cluster
    assert len(set(cluster_windows(odd, threshold=0.5, min_windows=2))) == 3
    assert len(set(cluster_windows(odd, threshold=0.5, min_windows=1))) == 4
    assert list(cluster_windows(emb[:1], threshold=0.5)) == [0]
    near = centres[0] + 0.6 * centres[1]  # a centroid 0.86 cosine-similar to the first
    near /= np.linalg.norm(near)
    pair = np.concatenate([c + 0.02 * rng.normal(size=(8, 256)) / 16 for c in (centres[0], near)])
    pair /= np.linalg.norm(pair, axis=1, keepdims=True)
    assert len(set(cluster_windows(pair, threshold=0.1, merge_similarity=1.0))) == 2
    assert len(set(cluster_windows(pair, threshold=0.1, merge_similarity=0.8))) == 1


def test_cluster_size_is_measured_in_seconds_of_speech():
    from avu.speakers.cluster import covered_seconds

    assert list(covered_seconds([(0, 100), (25, 125), (300, 350)], np.array([0, 0, 1]), 2)) == [1.25, 0.5]
    rng = np.random.default_rng(1)
    big = _unit(0) + 0.15 * rng.normal(size=(20, 256)) / 16
    short = _unit(1) + 0.15 * rng.normal(size=(3, 256)) / 16  # a voice saying one 1.3 s sentence
    emb = np.concatenate([big, short])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    support = [(i * 25, i * 25 + 100) for i in range(20)] + [(800, 900), (815, 915), (830, 930)]
    kw = {"threshold": 0.5, "min_windows": 1, "support": support}
    assert len(set(cluster_windows(emb, min_seconds=1.0, **kw))) == 2  # 3 windows over 1.3 s: a voice
    assert len(set(cluster_windows(emb, min_seconds=1.5, **kw))) == 1  # too little speech: folded
    assert len(set(cluster_windows(emb, threshold=0.5, min_windows=4))) == 1  # counted in windows
    with pytest.raises(ValueError, match="window spans"):
        covered_seconds(support[:2], np.zeros(3, dtype=np.int64), 1)


def test_a_window_straddling_a_change_of_voice_founds_no_speaker():
    from avu.speakers.cluster import change_windows

    rng = np.random.default_rng(3)
    a, b = _unit(0), _unit(1)
    mixed = (a + b) / np.linalg.norm(a + b)  # a window half over each voice
    emb = np.stack([a] * 4 + [mixed] + [b] * 4) + 0.05 * rng.normal(size=(9, 256)) / 16
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    support = [(i * 50, i * 50 + 100) for i in range(9)]  # 1 s windows every 0.5 s
    assert list(change_windows(emb, support, 0.6)) == [4]  # its neighbours are different voices
    kw = {"threshold": 0.2, "min_windows": 1, "support": support, "merge_similarity": 0.9}
    assert len(set(cluster_windows(emb, change_similarity=0.0, **kw))) == 3  # kept: a third "voice"
    labels = cluster_windows(emb, change_similarity=0.6, **kw)  # set aside, then the nearest voice
    assert len(set(labels)) == 2 and len(set(labels[:4])) == 1 and len(set(labels[5:])) == 1
    assert labels[4] in (labels[0], labels[5])
    with pytest.raises(ValueError, match="window spans"):
        cluster_windows(emb, support=support[:3], threshold=0.2)


# -- voice activity ----------------------------------------------------------------------------
@pytest.mark.shared
def test_voice_activity_on_speech_and_on_a_squeaking_bunny(shared_data):
    regions = speech_regions(_clip(shared_data, "video/manifesto.mp4", 0.0, 12.0))
    assert 7.0 < total_speech(regions) < 11.0
    assert covered(regions, 5.0, 6.0) > 0.9 and covered(regions, 0.0, 1.0) < 0.2
    bunny = read_audio(shared_data / "video" / "big_buck_bunny_240p_5s.mp4", sr=SR).waveform.numpy()
    assert speech_regions(bunny) == []  # squeaks reach Silero 0.6-0.9 but not confidently


# -- diarization of real voices ----------------------------------------------------------------
MANIFESTO, SONNET = "video/manifesto.mp4", "speech/sonnet/sonnet001.mp3"
# (source, start, end) turns: the manifesto reader and the sonnet reader take turns
_PLAN = [(MANIFESTO, 12.9, 17.1), (SONNET, 2.6, 8.8), (MANIFESTO, 24.7, 29.6), (SONNET, 9.1, 11.5),
         (MANIFESTO, 36.2, 40.6)]


@pytest.fixture(scope="module")
def two_voices(shared_data):
    pieces, ref, t = [], [], 0.3
    gap = np.zeros(int(0.6 * SR), dtype=np.float32)
    for src, a, b in _PLAN:
        w = _clip(shared_data, src, a, b)
        w = w * (0.05 / np.sqrt(np.mean(w ** 2)))  # the same loudness for both voices
        pieces += [gap, w]
        t += 0.6
        ref.append((src, t, t + len(w) / SR))
        t += len(w) / SR
    wave = np.concatenate([np.zeros(int(0.3 * SR), dtype=np.float32), *pieces, gap])
    return torch.from_numpy(wave.astype(np.float32)), ref


@pytest.mark.shared
def test_two_readers_give_two_speakers_with_their_turns(two_voices):
    wave, ref = two_voices
    d = diarize_audio(Audio(waveform=wave, sr=SR, start=10.0))  # times follow audio.start
    assert d.speakers == ["S1", "S2"] and d.reason is None
    who = {}
    for src, a, b in ref:
        inside = [t for t in d.turns if t.start < b + 10.0 and t.end > a + 10.0]
        talk = {}
        for t in inside:
            talk[t.speaker] = talk.get(t.speaker, 0.0) + min(t.end, b + 10.0) - max(t.start, a + 10.0)
        best = max(talk, key=talk.get)
        assert talk[best] >= 0.6 * (b - a)  # the turn is found (its pauses are not speech)...
        assert talk[best] >= 0.9 * sum(talk.values())  # ...and given to one speaker
        who.setdefault(src, set()).add(best)
    assert who[MANIFESTO] == {"S1"} and who[SONNET] == {"S2"}
    first_sonnet = min(t.start for t in d.turns if t.speaker == "S2")
    assert abs(first_sonnet - (ref[1][1] + 10.0)) < 0.5  # the change of speaker within 0.5 s
    assert all(0.5 <= t.confidence <= 1.0 for t in d.turns)
    c = d.centroids
    assert float(c["S1"] @ c["S2"]) < 0.8


@pytest.mark.shared
def test_voice_embedding_tells_readers_apart(shared_data):
    a = embed_voice(_clip(shared_data, MANIFESTO, 12.9, 22.0))
    b = embed_voice(_clip(shared_data, MANIFESTO, 41.0, 50.0))
    c = embed_voice(_clip(shared_data, SONNET, 2.6, 11.5))
    assert a.shape == (256,) and abs(float(np.linalg.norm(a)) - 1) < 1e-5
    assert float(a @ b) > float(a @ c) + 0.1
    q = voice_of(shared_data / MANIFESTO, start=41.0, end=50.0)  # a query file: its speech only
    assert float(q @ a) > float(q @ c) + 0.1
    with pytest.raises(MediaError, match="too little speech"):
        voice_of(shared_data / MANIFESTO, start=5.0, end=5.5)


def test_silent_audio_has_no_speakers_and_says_why(tiny_av):
    silent = diarize_audio(Audio(waveform=torch.zeros(3 * SR), sr=SR))
    assert silent.turns == () and silent.centroids == {} and silent.reason == "the audio is silent"
    tone = diarize(tiny_av)  # 2 s of a 440 Hz tone: sound, but no speech
    assert tone.turns == () and "no speech" in tone.reason


@pytest.mark.shared
def test_no_speech_and_too_little_speech(shared_data):
    bunny = diarize(shared_data / "video" / "big_buck_bunny_240p_5s.mp4")
    assert bunny.speakers == [] and "no speech" in bunny.reason
    short = _clip(shared_data, MANIFESTO, 5.0, 5.5)  # half a second of speech
    d = diarize_audio(Audio(waveform=torch.from_numpy(short), sr=SR))
    assert d.speakers == [] and "too little speech" in d.reason and d.speech > 0


# -- the evaluation's conversations ------------------------------------------------------------
@pytest.mark.shared
def test_built_conversations_are_deterministic_and_split(shared_data):
    from avu.eval.diarization import build_conversation, score, voice_pool

    dev, test = voice_pool(shared_data, "dev"), voice_pool(shared_data, "test")
    assert "common_voice" in test and "common_voice" not in dev  # a voice dev never hears
    a, b = build_conversation(test, 3, "x"), build_conversation(test, 3, "x")
    assert np.array_equal(a.wave, b.wave) and a.turns == b.turns
    assert 2 <= len(a.voices) <= 4
    perfect = [Turn(f"S{a.voices.index(v) + 1}", s, e, 1.0) for v, s, e in a.turns]
    s = score(a, perfect)
    assert s["missed"] + s["false_alarm"] + s["confusion"] < 1e-6 and s["total"] > 0
    s = score(a, [])
    assert s["missed"] > 0.5 * s["total"]  # nothing found: the reference speech is missed


# -- transcripts with speakers -----------------------------------------------------------------
def test_subtitles_and_json_carry_speakers(tmp_path):
    from avu.media import read_subtitles
    from avu.speakers.transcript import write_srt_with_speakers
    from avu.speech.asr import Transcript, Word

    cues = [Cue(0.2, 1.8, "Hello there."), Cue(2.1, 3.9, "Hi, how are you?"), Cue(8.0, 9.0, "Anyone?")]
    words = [Word(0.2, 0.8, "Hello", 0.9), Word(2.1, 2.5, "Hi,", 0.9)]
    t = Transcript(cues, words, "whisper", "test", "en", 10.0)
    d = Diarization(turns=(Turn("S1", 0.1, 2.0, 0.9), Turn("S2", 2.0, 4.0, 0.8)),
                    centroids={"S1": _unit(0), "S2": _unit(1)}, duration=10.0, speech=3.9)
    srt = read_subtitles(write_srt_with_speakers(t, d, tmp_path / "a.srt"))
    assert [c.text for c in srt] == ["[S1] Hello there.", "[S2] Hi, how are you?", "Anyone?"]
    j = json.loads(write_srt_with_speakers(t, d, tmp_path / "a.json").read_text())
    assert [c["speaker"] for c in j["cues"]] == ["S1", "S2", None]
    assert j["diarization"]["talk_time_s"] == {"S1": 1.9, "S2": 2.0} and len(j["diarization"]["centroids"]["S2"]) == 256
    with pytest.raises(ValueError, match="srt, .vtt or .json"):
        write_srt_with_speakers(t, d, tmp_path / "a.txt")


def test_ambiguous_speaker_change_is_marked_as_overlap():
    from avu.speakers.diarizer import _overlaps

    scores = np.zeros((200, 2))
    scores[:100, 0], scores[100:, 1] = 0.9, 0.9
    scores[90:110] = 0.6  # around the change both voices fit equally
    turns = [[0, 0, 100], [1, 100, 200]]
    _overlaps(turns, scores, margin=0.05, reach=50)
    assert turns == [[0, 0, 110], [1, 90, 200]]
    apart = [[0, 0, 100], [1, 120, 200]]  # a pause between them: nothing to mark
    _overlaps(apart, scores, margin=0.05, reach=50)
    assert apart == [[0, 0, 100], [1, 120, 200]]
