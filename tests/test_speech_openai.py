"""OpenAI TTS through the real ``openai`` SDK against a loopback fake server, failures included."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fakes_tts import KEY, fake_openai_tts, speech_bytes

from novaavatar.errors import ProviderError
from novaavatar.providers import run_chain
from tasks.speech import EspeakProvider
from tasks.speech.audio import native_wav_path
from tasks.speech.openai_tts import (
    OpenAITTSOptions,
    OpenAITTSProvider,
    decode_audio,
    openai_voice,
)

TEXT = "Good evening. Scientists announced new results from the ocean survey today."


def _provider(url: str, **kw: object) -> OpenAITTSProvider:
    opts: dict[str, object] = dict(api_key=KEY, base_url=url, timeout_s=2.0, max_retries=2)
    opts.update(kw)
    return OpenAITTSProvider(OpenAITTSOptions(**opts))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "fmt"), [("gpt-4o-mini-tts", "wav"), ("tts-1", "pcm"), ("tts-1-hd", "mp3")]
)
def test_each_model_and_format_gives_16k_with_timings(model: str, fmt: str, tmp_path: Path) -> None:
    with fake_openai_tts() as fake:
        out = _provider(fake.url, model=model, response_format=fmt, voice="nova").speak(
            TEXT, "en-us", 165, tmp_path / "speech.wav"
        )
    info = sf.info(tmp_path / "speech.wav")
    assert (info.samplerate, info.channels) == (16000, 1)
    assert sf.info(native_wav_path(tmp_path / "speech.wav")).samplerate == 24000
    assert out.voice == f"openai:{model}:nova" and 2.0 < out.duration_s < 8.0
    assert [w.word for w in out.words] == TEXT.split()
    assert all(0 <= w.start <= w.end <= out.duration_s + 1e-6 for w in out.words)
    (request,) = fake.requests
    assert (request["model"], request["voice"], request["response_format"]) == (model, "nova", fmt)
    assert request["input"] == TEXT


def test_speed_is_sent_to_tts1_and_applied_locally_for_gpt4o(tmp_path: Path) -> None:
    with fake_openai_tts() as fake:
        fast_server = _provider(fake.url, model="tts-1").synthesize(TEXT, speed_factor=1.5)
        assert fake.requests[-1]["speed"] == 1.5
        normal, rate = _provider(fake.url).synthesize(TEXT)
        fast_local, _ = _provider(fake.url).synthesize(TEXT, speed_factor=1.5)
        assert "speed" not in fake.requests[-1]
        fastest, _ = _provider(fake.url).synthesize(TEXT, speed_factor=450 / 165)  # clamped to 2x
    assert abs(fastest.size / normal.size - 0.5) < 0.05
    assert fast_server[0].size < normal.size * 0.8
    assert abs(fast_local.size / normal.size - 1 / 1.5) < 0.05
    assert rate == 24000


def test_new_take_picks_another_voice() -> None:
    assert openai_voice("en-us", "alloy") == "alloy"
    assert openai_voice("shimmer", "alloy") == "shimmer"
    assert openai_voice("en-us+m3", "alloy") != "alloy"


def test_429_honours_retry_after_then_succeeds() -> None:
    with fake_openai_tts() as fake:
        fake.script = ["429"]
        fake.retry_after = "1"
        samples, _ = _provider(fake.url).synthesize(TEXT)
        assert len(fake.requests) == 2 and fake.times[1] - fake.times[0] >= 0.95
    assert samples.size > 0


def test_500_is_retried() -> None:
    with fake_openai_tts() as fake:
        fake.script = ["500"]
        samples, _ = _provider(fake.url).synthesize(TEXT)
        assert len(fake.requests) == 2 and samples.size > 0


@pytest.mark.parametrize(
    ("script", "match", "kw"),
    [
        (["429"] * 5, "rate limited", {"max_retries": 1}),
        (["500"] * 5, "server error 500", {"max_retries": 1}),
        (["hang"] * 5, "no answer within 0.5 s", {"max_retries": 1, "timeout_s": 0.5}),
        (["garbage"], "cannot be decoded", {}),
        (["401"], "refused the request \\(401\\)", {}),
    ],
)
def test_failures_end_in_a_clear_error_within_bounds(
    script: list[str], match: str, kw: dict[str, object]
) -> None:
    with fake_openai_tts() as fake:
        fake.script = list(script)
        fake.hang_s = 2.0
        t0 = time.monotonic()
        with pytest.raises(ProviderError, match=match) as err:
            _provider(fake.url, **kw).synthesize(TEXT)
        assert time.monotonic() - t0 < 6.0
    assert KEY not in str(err.value)


def test_retry_after_beyond_the_deadline_fails_at_once() -> None:
    with fake_openai_tts() as fake:
        fake.script = ["429"]
        fake.retry_after = "120"
        t0 = time.monotonic()
        with pytest.raises(ProviderError, match="deadline"):
            _provider(fake.url, deadline_s=10.0).synthesize(TEXT)
        assert time.monotonic() - t0 < 3.0 and len(fake.requests) == 1


def test_chain_falls_through_in_order(tmp_path: Path) -> None:
    """Dia (no model) is skipped, OpenAI fails with garbage audio, eSpeak speaks."""
    from tasks.speech.dia import DiaOptions, DiaProvider

    dia = DiaProvider(DiaOptions(model_path=tmp_path / "no-model"))
    with fake_openai_tts() as fake:
        fake.script = ["garbage"]
        openai_p = _provider(fake.url)
        out, used = run_chain(
            "speech",
            [dia, openai_p, EspeakProvider()],
            lambda p: p.speak(TEXT, "en-us", 165, tmp_path / "s.wav"),
        )
        assert used.name == "espeak-ng" and len(fake.requests) == 1
        # a healthy server: OpenAI is used, eSpeak never runs
        out, used = run_chain(
            "speech",
            [dia, openai_p, EspeakProvider()],
            lambda p: p.speak(TEXT, "en-us", 165, tmp_path / "s.wav"),
        )
        assert used.name == "openai-tts" and out.voice.startswith("openai:")
    assert not OpenAITTSProvider(None).available()


def test_decode_rejects_non_audio() -> None:
    with pytest.raises(ProviderError, match="empty body"):
        decode_audio(b"", "wav")
    with pytest.raises(ProviderError, match="odd length"):
        decode_audio(b"\x00\x01\x02", "pcm")
    samples, rate = decode_audio(speech_bytes("hello", "wav"), "wav")
    assert rate == 24000 and np.abs(samples).max() > 0.01


def test_options_validate_and_hide_the_key() -> None:
    with pytest.raises(ValueError, match="OPENAI_TTS_MODEL='tts-2'"):
        OpenAITTSOptions(api_key=KEY, model="tts-2")
    with pytest.raises(ValueError, match="OPENAI_TTS_VOICE"):
        OpenAITTSOptions(api_key=KEY, voice="darth")
    assert KEY not in repr(OpenAITTSOptions(api_key=KEY))


def test_default_chain_follows_settings(tmp_path: Path) -> None:
    from novaavatar.errors import SettingsError
    from novaavatar.settings import load_settings
    from tasks.speech import default_providers

    plain = load_settings(dia_model_path=None, openai_api_key=None, tts_backend="auto")
    chain = default_providers(plain)
    assert [p.name for p in chain] == ["dia", "openai-tts", "espeak-ng"]
    assert [p.available() for p in chain] == [False, False, True]
    assert [p.name for p in default_providers(load_settings(tts_backend="espeak"))] == ["espeak-ng"]
    with pytest.raises(SettingsError, match="DIA_MODEL_PATH"):
        default_providers(load_settings(tts_backend="dia", dia_model_path=None))
    with fake_openai_tts() as fake:
        s = load_settings(
            dia_model_path=None,
            openai_api_key=KEY,
            openai_base_url=fake.url,
            openai_tts_format="pcm",
            openai_tts_voice="onyx",
        )
        out, used = run_chain(
            "speech",
            default_providers(s),
            lambda p: p.speak(TEXT, "en-us", 165, tmp_path / "s.wav"),
        )
        assert used.name == "openai-tts" and out.voice == "openai:gpt-4o-mini-tts:onyx"
        assert fake.requests[0]["response_format"] == "pcm"
    assert KEY not in repr(default_providers(s)[1].options)
