"""`probe(path) -> MediaInfo`: what a media file holds, read with PyAV (FFmpeg's demuxers).

Probing opens the container, reads stream headers and decodes the first video frame, so a file
whose video stream cannot be decoded fails here, early, with a clear reason rather than later
inside a batch job. The display rotation comes from that first frame's display matrix.

Decompression bombs: FFmpeg's decoders are told `max_pixels` (`MAX_PIXELS`, 8192 x 8192: 8K
video passes), so a 16000 x 16000 PNG is refused before a frame is allocated, and a stream whose
header declares more pixels than that is refused before anything is decoded (`MediaTooLarge`).
"""
from __future__ import annotations

import os

import av

from avu.media._errors import CorruptMedia, MediaTooLarge, check_readable
from avu.media._types import MediaInfo

MAX_PIXELS = 8192 * 8192  # per frame; DCI 8K (8192x4320) fits
_DECODER_LIMITS = {"max_pixels": str(MAX_PIXELS)}


def open_container(path: str | os.PathLike) -> av.container.InputContainer:
    """Open `path` with PyAV after checking it is a readable, non-empty file.

    Raises a `MediaError` subclass naming the file and the reason.
    """
    p = check_readable(path)
    try:
        c = av.open(str(p), mode="r", metadata_errors="ignore", options=_DECODER_LIMITS)
    except av.error.MemoryError:
        raise MediaTooLarge(p, "opening it needs more memory than the decode limit allows") from None
    except av.error.FFmpegError as e:
        raise CorruptMedia(p, f"not a readable media container ({_ffmpeg_reason(e)})") from None
    except (UnicodeDecodeError, ValueError, OSError) as e:
        raise CorruptMedia(p, f"cannot open: {e}") from None
    for s in c.streams.video:  # the decoders opened later get the same pixel limit
        if s.codec_context is not None:
            s.codec_context.options = {**s.codec_context.options, **_DECODER_LIMITS}
    return c


def first_stream(container, kind: str):
    """The first `kind` ("video" or "audio") stream FFmpeg has a decoder for, or None. A stream
    of a codec FFmpeg does not know has no codec context and is passed over, as if absent."""
    return next((s for s in getattr(container.streams, kind) if s.codec_context is not None), None)


def check_pixels(p, width: int | None, height: int | None) -> None:
    """Refuse a frame size over `MAX_PIXELS` (a decompression bomb), naming the size."""
    if width and height and width * height > MAX_PIXELS:
        raise MediaTooLarge(p, f"frame size {width}x{height} ({width * height / 1e6:.0f} Mpx) is over the "
                               f"pixel limit ({MAX_PIXELS / 1e6:.0f} Mpx): refused as a decompression bomb")


def _ffmpeg_reason(e: Exception) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return msg.split(": '")[0].strip() or type(e).__name__


def _stream_seconds(stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        start = stream.start_time or 0
        return float((stream.duration + min(start, 0)) * stream.time_base)
    return None


def probe(path: str | os.PathLike) -> MediaInfo:
    """Return the streams, duration, frame rate, size, codecs and rotation of a media file.

    Raises `MediaNotFound`, `UnreadableMedia`, `EmptyMedia` or `CorruptMedia` (all `MediaError`).
    A file with neither a video nor an audio stream is `CorruptMedia`.
    """
    p = check_readable(path)
    with open_container(p) as c:
        vs, aus = first_stream(c, "video"), first_stream(c, "audio")
        if vs is None and aus is None:
            unknown = " with a known codec" if (c.streams.video or c.streams.audio) else ""
            raise CorruptMedia(p, f"no video or audio stream{unknown}")
        durations = [d for d in (_stream_seconds(vs) if vs else None,
                                 _stream_seconds(aus) if aus else None) if d]
        duration = max(durations) if durations else (c.duration or 0) / av.time_base
        info = dict(path=str(path), container=c.format.name, duration=float(duration),
                    size_bytes=p.stat().st_size, has_video=False, has_audio=aus is not None)
        if vs is not None:
            check_pixels(p, vs.codec_context.width, vs.codec_context.height)
            rotation = _first_frame_rotation(p, c, vs)
            rate = vs.average_rate or vs.guessed_rate or vs.base_rate
            fps = float(rate) if rate else None
            n = vs.frames or (round(duration * fps) if fps else None)
            c0 = (c.start_time or 0) / av.time_base
            v0 = float(vs.start_time * vs.time_base) - c0 if vs.start_time is not None else 0.0
            info.update(has_video=True, video_codec=vs.codec_context.name, video_start=v0,
                        width=vs.codec_context.width, height=vs.codec_context.height,
                        fps=fps, num_frames=n, rotation=rotation)
        if aus is not None:
            cc = aus.codec_context
            info.update(audio_codec=cc.name, sample_rate=cc.sample_rate or None,
                        channels=cc.channels if hasattr(cc, "channels") else cc.layout.nb_channels)
    if info["duration"] <= 0:
        raise CorruptMedia(p, "zero duration")
    return MediaInfo(**info)


def _first_frame_rotation(p, container, stream) -> int:
    """Decode the first frame (proves the stream decodes) and return its display rotation."""
    try:
        for frame in container.decode(stream):
            if not frame.width or not frame.height:
                raise CorruptMedia(p, "video frames have no size")
            check_pixels(p, frame.width, frame.height)
            return int(round(getattr(frame, "rotation", 0) or 0)) % 360
    except av.error.MemoryError:
        raise MediaTooLarge(p, "decoding a frame needs more memory than the decode limit allows") from None
    except av.error.ArgumentError as e:
        if not (stream.codec_context.width and stream.codec_context.height):  # the decoder refused the size
            raise MediaTooLarge(p, f"the first frame is over the pixel limit ({MAX_PIXELS / 1e6:.0f} Mpx) or "
                                   f"has an invalid size ({_ffmpeg_reason(e)}): refused as a decompression bomb"
                                ) from None
        raise CorruptMedia(p, f"video stream does not decode ({_ffmpeg_reason(e)})") from None
    except av.error.FFmpegError as e:
        raise CorruptMedia(p, f"video stream does not decode ({_ffmpeg_reason(e)})") from None
    raise CorruptMedia(p, "video stream has no decodable frame")
