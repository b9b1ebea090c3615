"""avu.media on tiny generated media (exact frames, timestamps, samples) and on the real clips."""
from __future__ import annotations

import shutil
import subprocess
import sys

import av
import librosa
import numpy as np
import pytest
import torch

from avu.media import (
    Audio,
    AudioFile,
    ClipReader,
    Frames,
    NoAudioStream,
    NoVideoStream,
    Segment,
    VideoFile,
    iter_clips,
    log_mel,
    probe,
    read_audio,
    read_clip,
    read_frames,
    sample_times,
    segments,
)
from tests import factory
from tests.conftest import SHARED_CLIPS

BACKENDS = ["decord", "pyav"]


def indices(fr: Frames) -> list[int]:
    return [factory.frame_index(f) for f in fr.data.numpy()]


# --- probe -------------------------------------------------------------------------------------

def test_probe_tiny(tiny_av):
    info = probe(tiny_av)
    assert (info.width, info.height, info.fps, info.num_frames) == (64, 48, 10.0, 20)
    assert info.duration == pytest.approx(2.0, abs=1e-3)
    assert info.has_video and info.has_audio and info.sample_rate == 16000 and info.channels == 1
    assert info.video_codec == "ffv1" and info.audio_codec == "flac" and info.rotation == 0


def test_probe_audio_only(tiny_audio_only):
    info = probe(tiny_audio_only)
    assert not info.has_video and info.has_audio and info.duration == pytest.approx(1.5, abs=1e-3)


# --- frames: exact content and timestamps ------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_all_frames_exact(tiny_av, backend):
    fr = read_frames(tiny_av, backend=backend)
    assert fr.data.shape == (20, 48, 64, 3) and fr.data.dtype == torch.uint8
    assert np.array_equal(fr.data[7].numpy(), factory.frame_image(7))  # lossless: bit-exact
    assert indices(fr) == list(range(20))
    assert fr.pts.numpy() == pytest.approx(np.arange(20) / 10, abs=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_at_times_keep_caller_order(tiny_av, backend):
    fr = read_frames(tiny_av, times=[0.05, 0.1, 0.149, 1.95, 0.0, 5.0 / 10], backend=backend)
    assert indices(fr) == [0, 1, 1, 19, 0, 5]
    assert fr.pts.numpy() == pytest.approx([0.0, 0.1, 0.1, 1.9, 0.0, 0.5], abs=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_at_fps_and_range(tiny_av, backend):
    fr = read_frames(tiny_av, fps=4, backend=backend)  # 0, .25, .5, ... 1.75
    assert indices(fr) == [0, 2, 5, 7, 10, 12, 15, 17]
    rng = read_frames(tiny_av, start=0.5, end=1.0, backend=backend)  # every frame in [0.5, 1.0)
    assert indices(rng) == [5, 6, 7, 8, 9]


@pytest.mark.parametrize("backend", BACKENDS)
def test_approximate_seek_returns_keyframes(gop_video, backend):
    fr = read_frames(gop_video, times=[0.5, 1.55, 2.95, 0.2], seek="approximate", backend=backend)
    assert fr.pts.tolist() == pytest.approx([0.0, 1.0, 2.0, 0.0], abs=1e-6)
    exact = read_frames(gop_video, times=[0.5, 1.55, 2.95], backend=backend)
    assert exact.pts.tolist() == pytest.approx([0.5, 1.5, 2.9], abs=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("size,shape", [(32, (32, 32)), ((24, 32), (24, 32)), ((32, 24), (32, 24))])
def test_resize(tiny_av, backend, size, shape):
    fr = read_frames(tiny_av, fps=2, size=size, backend=backend)
    assert tuple(fr.data.shape) == (4, *shape, 3)
    # a solid-colour frame stays that colour after scaling (right half: blue 0)
    assert abs(int(fr.data[3, 0, -1, 0]) - 150) <= 2


def test_pyav_decodes_with_slice_threads_only(gop_video):
    """Frame threading hung the suite in `avcodec_free_context` (avu/media/_pyav.py docstring)."""
    from avu.media._pyav import PyAVVideo

    v = PyAVVideo(str(gop_video), size=None, threads=2)
    try:
        assert v._s.thread_type.name == "SLICE" and v._s.codec_context.thread_count == 2
        arrays, pts = v.read(np.array([0.0, 1.0]), "exact", 0.0, 0.0)  # stops early: the case that hung
        assert list(pts) == [0.0, 1.0]
    finally:
        v.close()


def test_pyav_reads_windows_in_order_in_one_pass(long_gop_video, monkeypatch):
    """Windows read in time order (a clip stream) go on decoding where the last one stopped: no seek,
    and the same frames as a fresh reader per window (which seeks to each one's keyframe)."""
    from avu.media._pyav import PyAVVideo

    seeks = []
    real = PyAVVideo._seek
    monkeypatch.setattr(PyAVVideo, "_seek", lambda self, t: (seeks.append(t), real(self, t)))
    starts = [0.0, 1.0, 2.5, 4.0, 6.0, 8.0]
    with VideoFile(long_gop_video, backend="pyav") as v:
        streamed = [v.arrays(fps=2, start=s, end=s + 1.0) for s in starts]
    assert seeks == []  # 10 s, a keyframe every 5 s: the old reader sought at every window past 2 s
    for s, (arrays, pts) in zip(starts, streamed):
        with VideoFile(long_gop_video, backend="pyav") as fresh:
            want_arrays, want_pts = fresh.arrays(fps=2, start=s, end=s + 1.0)
        assert pts.tolist() == pytest.approx([s, s + 0.5], abs=1e-6) and np.array_equal(pts, want_pts)
        assert np.array_equal(arrays, want_arrays)
    with VideoFile(long_gop_video, backend="pyav") as v:  # going back, or far ahead, seeks
        v.arrays(fps=2, start=6.0, end=7.0)
        seeks.clear()
        assert v.arrays(fps=2, start=1.0, end=2.0)[1].tolist() == pytest.approx([1.0, 1.5], abs=1e-6)
        assert seeks == [1.0]
        assert v.arrays(fps=2, start=9.0, end=10.0)[1].tolist() == pytest.approx([9.0, 9.5], abs=1e-6)
        assert seeks == [1.0, 9.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_rotated_video_comes_out_upright(media_dir, backend):
    path = factory.make_video(media_dir / "rot90.mp4", codec="libx264", pix_fmt="yuv420p", rotation=90)
    info = probe(path)
    assert info.rotation == 90
    fr = read_frames(path, times=[0.0], backend=backend)
    assert tuple(fr.data.shape) == (1, 64, 48, 3)  # width and height swap on display
    expected = np.rot90(factory.frame_image(0), k=1)  # display matrix +90: counter-clockwise
    assert np.abs(fr.data[0].numpy().astype(int) - expected).mean() < 3
    if shutil.which("ffmpeg"):  # FFmpeg's own autorotation is the reference
        raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
                              "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
        ref = np.frombuffer(raw, np.uint8).reshape(64, 48, 3)
        assert np.abs(fr.data[0].numpy().astype(int) - ref).mean() < 1.0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", BACKENDS)
def test_windows_on_long_gops(long_gop_video, backend):
    with VideoFile(long_gop_video, backend=backend) as v:  # windows after a keyframe 5 s back
        got = [v.frames(fps=2, start=s, end=s + 1.0).pts.tolist() for s in (0.0, 9.0, 3.0, 7.0, 8.0, 2.5)]
    assert got == [pytest.approx(x, abs=1e-6) for x in ([0, 0.5], [9, 9.5], [3, 3.5], [7, 7.5], [8, 8.5],
                                                         [2.5, 3.0])]


@pytest.mark.parametrize("backend", BACKENDS)
def test_video_file_reads_windows_in_any_order(tiny_av, backend):
    with VideoFile(tiny_av, backend=backend) as v:
        late = v.frames(start=1.5, end=1.7)
        early = v.frames(times=[0.3])
    assert indices(late) == [15, 16] and indices(early) == [3]


def test_frames_validate():
    with pytest.raises(ValueError):
        Frames(data=torch.zeros(2, 4, 4, 3, dtype=torch.uint8), pts=torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError):
        Frames(data=torch.zeros(2, 4, 4, 3), pts=torch.zeros(2, dtype=torch.float64))
    assert "uint8[2, 4, 4, 3]" in repr(Frames(data=torch.zeros(2, 4, 4, 3, dtype=torch.uint8),
                                              pts=torch.tensor([0.0, 0.5], dtype=torch.float64)))


def test_read_frames_argument_errors(tiny_av):
    with pytest.raises(ValueError):
        read_frames(tiny_av, times=[0.1], fps=2)
    with pytest.raises(ValueError):
        read_frames(tiny_av, seek="nearest")
    with pytest.raises(ValueError):
        read_frames(tiny_av, backend="opencv")


def test_sample_times():
    assert sample_times(0, 1.0, 4).tolist() == [0, 0.25, 0.5, 0.75]
    assert sample_times(2.0, 3.01, 1).tolist() == [2.0, 3.0]
    assert len(sample_times(0, 3600, 30)) == 108000  # no floating drift at an hour


# --- audio -------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_audio_tone(tiny_av, backend):
    a = read_audio(tiny_av, backend=backend)
    assert isinstance(a, Audio) and a.sr == 16000 and a.waveform.ndim == 1
    assert a.num_samples == pytest.approx(32000, abs=16)
    spec = np.abs(np.fft.rfft(a.waveform.numpy()))
    assert np.argmax(spec) * a.sr / a.num_samples == pytest.approx(factory.TONE_HZ, abs=2)
    assert float(a.waveform.abs().max()) == pytest.approx(0.5, abs=0.02)


def test_audio_resample_window_and_channels(tiny_audio_only, media_dir):
    a = read_audio(tiny_audio_only, sr=8000, start=0.5, end=1.0)
    assert a.num_samples == 4000 and a.start == pytest.approx(0.5)
    whole = read_audio(tiny_audio_only, sr=8000)
    assert torch.allclose(a.waveform, whole.waveform[4000:8000], atol=1e-6)
    stereo = read_audio(factory.make_audio(media_dir / "stereo.wav", channels=2), mono=False)
    assert stereo.waveform.shape == (2, 24000)
    assert float(stereo.waveform[1].abs().max()) == 0.0 and float(stereo.waveform[0].abs().max()) > 0.4


def test_audio_file_windows_concatenate_to_whole(tiny_av):
    whole = read_audio(tiny_av).waveform
    with AudioFile(tiny_av) as f:
        parts = [f.read(s, s + 0.25).waveform for s in np.arange(0, 2.0, 0.25)]
        again = f.read(0.5, 0.75).waveform  # going back re-seeks
    assert all(len(p) == 4000 for p in parts)
    assert torch.equal(torch.cat(parts), whole[:32000])
    assert torch.allclose(again, whole[8000:12000], atol=1e-6)


def test_audio_file_equals_one_frame_at_a_time(media_dir):
    """The grouped resampling (frames joined in FFmpeg's FIFO) gives exactly the samples of a
    resampler fed one decoded frame at a time: 5.1 AAC at 48 kHz, several groups long."""
    src = media_dir / "six_channels.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi",
                    "-i", "sine=frequency=440:duration=3:sample_rate=48000",
                    "-af", "pan=5.1|FL=c0|FR=0.5*c0|FC=0.3*c0|LFE=0.1*c0|BL=0.2*c0|BR=0.7*c0",
                    "-c:a", "aac", str(src)], check=True)
    want, resampler = [], av.AudioResampler(format="fltp", layout="mono", rate=16000)
    with av.open(str(src)) as c:
        for frame in c.decode(audio=0):
            frame.pts = None
            want += [out.to_ndarray() for out in resampler.resample(frame)]
    want += [out.to_ndarray() for out in resampler.resample(None)]
    want = np.concatenate(want, axis=1)[0]
    with AudioFile(src) as f:
        got = np.concatenate([f.samples(s, s + 0.5)[0] for s in np.arange(0, 3.0, 0.5)])
    assert got.shape == want[:len(got)].shape and np.array_equal(got, want[:len(got)])
    assert np.array_equal(read_audio(src).waveform.numpy(), want[:read_audio(src).num_samples])


def test_no_audio_stream(tiny_video_only):
    with pytest.raises(NoAudioStream, match="tiny_video_only.mkv: no audio stream"):
        read_audio(tiny_video_only)


def test_no_video_stream(tiny_audio_only):
    with pytest.raises(NoVideoStream, match="tiny_audio_only.wav: no video stream"):
        read_frames(tiny_audio_only)


def test_log_mel_matches_librosa():
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(16000) + factory.tone(16000)).astype(np.float32)
    ours = log_mel(torch.from_numpy(x), sr=16000, n_mels=64).numpy()
    ref = librosa.feature.melspectrogram(y=x, sr=16000, n_fft=400, hop_length=160, n_mels=64, power=2.0,
                                         center=True, pad_mode="constant", htk=False, norm="slaney")
    assert ours.shape == ref.shape == (64, 101)
    assert np.abs(ours - np.log(ref + 1e-6)).max() < 1e-3
    batch = log_mel(torch.from_numpy(np.stack([x, x])), sr=16000)
    assert batch.shape == (2, 64, 101)
    assert log_mel(Audio(torch.from_numpy(x), 16000)).shape == (64, 101)


# --- segments and clips ------------------------------------------------------------------------

def test_segments_arithmetic():
    assert [(s.start, s.end) for s in segments(5.0, window=2.0)] == [(0, 2), (2, 4), (4, 5)]
    assert [(s.start, s.end) for s in segments(4.1, window=2.0)] == [(0, 2), (2, 4)]  # 0.1 s tail dropped
    assert [(s.start, s.end) for s in segments(5.0, window=2.0, hop=1.0)] == [(0, 2), (1, 3), (2, 4), (3, 5)]
    assert [(s.start, s.end) for s in segments(0.3, window=2.0)] == [(0, 0.3)]  # only one: kept
    assert segments(0.0, window=2.0) == []
    assert [s.start for s in segments(0.9, window=0.3)] == [0.0, 0.3, 0.6]  # no float drift
    with pytest.raises(ValueError):
        segments(10, window=0)
    with pytest.raises(ValueError):
        Segment(2.0, 1.0)


def test_iter_clips_stream_exact(tiny_av):
    segs = segments(2.0, window=0.5)
    clips = list(iter_clips(tiny_av, segs, fps=4, size=None))
    assert [(c["start"], c["end"]) for c in clips] == [(0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0)]
    assert [factory.frame_index(f) for f in clips[1]["video"].numpy()] == [5, 7]
    assert clips[1]["video_pts"].tolist() == pytest.approx([0.5, 0.7], abs=1e-6)
    assert all(c["audio"].shape == (8000,) and c["sample_rate"] == 16000 for c in clips)
    assert torch.equal(torch.cat([c["audio"] for c in clips]), read_audio(tiny_av).waveform[:32000])


def test_numpy_clips_equal_torch_clips_and_never_load_torch(media_dir, tiny_av):
    rotated = factory.make_video(media_dir / "rot90_np.mp4", codec="libx264", pix_fmt="yuv420p", rotation=90)
    for path in (tiny_av, rotated):
        segs = segments(2.0, window=0.5)
        as_torch = list(iter_clips(path, segs, fps=4, size=None))
        as_numpy = list(iter_clips(path, segs, fps=4, size=None, arrays="numpy"))
        for t, n in zip(as_torch, as_numpy, strict=True):
            for k in ("video", "video_pts", "audio"):
                assert (t[k] is None) == (n[k] is None)
                if n[k] is not None:
                    assert isinstance(n[k], np.ndarray) and n[k].flags.c_contiguous
                    np.testing.assert_array_equal(n[k], t[k].numpy())
    with pytest.raises(ValueError, match="arrays must be"):
        ClipReader(tiny_av, arrays="jax")
    code = ("import sys; from avu.media import iter_clips, segments; "
            f"c = list(iter_clips({str(tiny_av)!r}, segments(2.0, window=1.0), arrays='numpy')); "
            "print(c[0]['video'].shape, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["(2,", "224,", "224,", "3)", "False"]


def test_clip_dict_has_none_for_missing_stream(tiny_video_only, tiny_audio_only):
    c = read_clip(tiny_video_only, Segment(0.5, 1.0), fps=2, size=32)
    assert c["audio"] is None and c["video"].shape == (1, 32, 32, 3)
    c = read_clip(tiny_audio_only, Segment(0.5, 1.0))
    assert c["video"] is None and c["audio"].shape == (8000,)


# --- the real clips ----------------------------------------------------------------------------

@pytest.mark.shared
@pytest.mark.parametrize("name", SHARED_CLIPS)
def test_real_clip_backends_agree(shared_data, name):
    path = shared_data / "video" / name
    info = probe(path)
    assert info.has_video and info.has_audio and info.duration > 4
    d = read_frames(path, fps=2, size=224, backend="decord")
    p = read_frames(path, fps=2, size=224, backend="pyav")
    assert len(d) == len(p) == int(np.ceil(info.duration * 2 - 1e-9))
    period = 1.0 / info.fps
    assert (d.pts - p.pts).abs().max().item() <= period  # same moments within one frame period
    wanted = np.maximum(np.arange(len(d)) / 2, d.pts[0].item())  # before the first frame: the first
    assert (d.pts.numpy() <= wanted + 1e-3).all()  # the frame shown at each time, never a later one
    assert (d.data.float() - p.data.float()).abs().mean().item() < 4.0  # same pictures
    last = read_frames(path, backend="decord", start=info.duration - 1.0).pts[-1].item()
    assert info.duration - 2 * period - 0.05 <= last < info.duration  # frames run to the duration


@pytest.mark.shared
@pytest.mark.parametrize("name", SHARED_CLIPS)
def test_real_clip_audio_length(shared_data, name):
    path = shared_data / "video" / name
    info = probe(path)
    a = read_audio(path)
    assert abs(a.end - info.duration) < 0.1
    assert a.start < 0.05
    if info.channels == 6:  # 5.1 downmixed to mono, and all six channels available
        assert read_audio(path, mono=False, end=1.0).waveform.shape[0] == 6
