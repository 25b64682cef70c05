"""Small audio helpers: recognise upload containers by their first bytes, build and repair WAV files.

Browsers record with MediaRecorder into WebM or Ogg (Opus); some send MP4/AAC or WAV. We trust the bytes,
not only the declared type, so a mislabelled upload is refused before it reaches the decoder.
"""

from __future__ import annotations

import io
import struct
import wave

# Declared MIME types we accept for uploads (parameters such as ";codecs=opus" are ignored).
ACCEPTED_AUDIO_TYPES: dict[str, str] = {
    "audio/webm": "webm",
    "video/webm": "webm",  # some browsers label audio-only WebM recordings this way
    "audio/ogg": "ogg",
    "application/ogg": "ogg",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/mp4": "mp4",
    "audio/x-m4a": "mp4",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
}


def base_mime(content_type: str | None) -> str:
    """`audio/webm;codecs=opus` -> `audio/webm`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def sniff_container(data: bytes) -> str | None:
    """The container the bytes really are (webm, ogg, wav, mp4, mp3), or None if not recognised."""
    head = data[:16]
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"  # EBML header: WebM / Matroska
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0):
        return "mp3"
    return None


def wav_from_pcm16(pcm: bytes, sample_rate: int, channels: int = 1) -> bytes:
    """Wrap raw little-endian 16-bit PCM in a WAV header."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def repair_streamed_wav(data: bytes) -> bytes:
    """Rewrite a WAV whose header sizes are placeholders (espeak-ng --stdout) with the true sizes.

    Streaming writers cannot know the length up front and write 0x7FFFFFFF-ish sizes; browsers and
    `wave` then misreport the duration. We keep the fmt chunk and re-measure the data chunk.
    """
    if not (data.startswith(b"RIFF") and data[8:12] == b"WAVE"):
        raise ValueError("not a WAV file")
    pos = 12
    fmt: bytes | None = None
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body_start = pos + 8
        if chunk_id == b"fmt ":
            fmt = data[body_start : body_start + size]
        elif chunk_id == b"data":
            if fmt is None:
                raise ValueError("WAV data chunk before fmt chunk")
            pcm = data[body_start : min(len(data), body_start + size)]
            channels, rate = struct.unpack("<HI", fmt[2:8])
            bits = struct.unpack("<H", fmt[14:16])[0]
            if bits != 16:
                raise ValueError(f"expected 16-bit PCM, got {bits}-bit")
            pcm = pcm[: len(pcm) - len(pcm) % (2 * channels)]
            return wav_from_pcm16(pcm, rate, channels)
        pos = body_start + size + (size & 1)
    raise ValueError("WAV file has no data chunk")


def wav_duration(data: bytes) -> float:
    """Seconds of audio in a well-formed WAV."""
    with wave.open(io.BytesIO(data), "rb") as handle:
        return handle.getnframes() / float(handle.getframerate() or 1)
