"""OpenAI text-to-speech through the official SDK (``tts-1``, ``tts-1-hd``, ``gpt-4o-mini-tts``).

Retries are ours, not the SDK's, so a call is bounded in time: a 429 waits what Retry-After
asks only when that fits the deadline, a 5xx or a timeout backs off briefly, and anything
else (bad key, bad request, undecodable audio) fails at once so the chain moves on.
"""

from __future__ import annotations

import io
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from novaavatar.errors import InputError, ProviderError
from novaavatar.providers import retry_after_s
from tasks.speech.align import align_output, alignment_voice
from tasks.speech.audio import (
    MAX_SPEED,
    MIN_SPEED,
    change_speed,
    join_segments,
    native_wav_path,
    normalize_loudness,
    split_sentences,
    trim_silence,
)
from tasks.speech.output import SpeechOutput, write_wav_16k

log = logging.getLogger("novaavatar.speech.openai")

MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
)
FORMATS = ("wav", "pcm", "mp3")
PCM_RATE = 24_000  # the API's raw pcm: 24 kHz, 16-bit little-endian, mono
MAX_INPUT_CHARS = 4096  # the API's limit per request
BASE_WPM = 165


@dataclass(frozen=True)
class OpenAITTSOptions:
    api_key: str
    model: str = "gpt-4o-mini-tts"
    voice: str = "alloy"
    response_format: str = "wav"
    base_url: str | None = None  # e.g. an Azure/OpenAI-compatible endpoint, or a test fake
    instructions: str = ""  # tone for gpt-4o-mini-tts ("calm news anchor"); others ignore it
    timeout_s: float = 60.0  # per request
    max_retries: int = 2
    deadline_s: float = 180.0  # for one whole speak(), retries and waits included
    max_chunk_chars: int = MAX_INPUT_CHARS - 96
    align_voice: str = "en-us"

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"OPENAI_TTS_MODEL={self.model!r}: choose one of {', '.join(MODELS)}")
        if self.voice not in VOICES:
            raise ValueError(f"OPENAI_TTS_VOICE={self.voice!r}: choose one of {', '.join(VOICES)}")
        if self.response_format not in FORMATS:
            raise ValueError(
                f"OPENAI_TTS_FORMAT={self.response_format!r}: choose one of {', '.join(FORMATS)}"
            )
        if self.timeout_s <= 0 or self.deadline_s <= 0 or self.max_retries < 0:
            raise ValueError("OpenAI TTS timeout, deadline and retries must be positive")

    def __repr__(self) -> str:  # never print the key
        return (
            f"OpenAITTSOptions(model={self.model!r}, voice={self.voice!r}, "
            f"base_url={self.base_url!r})"
        )


def openai_voice(voice: str, default: str) -> str:
    """An OpenAI voice for the pipeline's voice: itself if OpenAI has it; the configured one
    for a plain language ("en-us"); another voice, chosen by the variant, for a new take."""
    v = voice.lower()
    if v in VOICES:
        return v
    variant = v.partition("+")[2]
    if not variant:
        return default
    others = [x for x in VOICES if x != default]
    return others[sum(variant.encode()) % len(others)]


def decode_audio(data: bytes, response_format: str) -> tuple[np.ndarray, int]:
    """Bytes from the API → float32 mono and its rate; ProviderError when they are not audio."""
    if not data:
        raise ProviderError("OpenAI TTS returned an empty body instead of audio")
    if response_format == "pcm":
        if len(data) % 2:
            raise ProviderError(f"OpenAI TTS pcm has an odd length ({len(data)} bytes): not 16-bit")
        return np.frombuffer(data, "<i2").astype(np.float32) / 32768.0, PCM_RATE
    if response_format == "wav":
        try:
            samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
            return samples.mean(axis=1).astype(np.float32), int(rate)
        except (sf.LibsndfileError, RuntimeError, ValueError):
            pass  # a streamed wav header may lie about sizes: let ffmpeg try
    from novaavatar.media import read_audio

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"tts.{response_format}"
        path.write_bytes(data)
        try:
            samples = read_audio(path, PCM_RATE)
        except InputError as e:
            raise ProviderError(f"OpenAI TTS returned audio that cannot be decoded: {e}") from None
    if samples.size < PCM_RATE // 20 or not np.all(np.isfinite(samples)):
        raise ProviderError(
            f"OpenAI TTS returned {len(data)} bytes that decode to no usable audio "
            f"({samples.size / PCM_RATE * 1000:.0f} ms)"
        )
    return samples, PCM_RATE


class OpenAITTSProvider:
    """OpenAI TTS via the ``openai`` SDK; timings from aligning eSpeak's onto its audio."""

    name = "openai-tts"

    def __init__(self, options: OpenAITTSOptions | None) -> None:
        self.options = options

    def available(self) -> bool:
        return self.options is not None and bool(self.options.api_key)

    def _opts(self) -> OpenAITTSOptions:
        if self.options is None:
            raise ProviderError("OpenAI TTS is not configured: set OPENAI_API_KEY")
        return self.options

    def _client(self):  # type: ignore[no-untyped-def]
        import openai

        opts = self._opts()
        return openai.OpenAI(
            api_key=opts.api_key, base_url=opts.base_url, timeout=opts.timeout_s, max_retries=0
        )

    def _request(self, client, text: str, voice: str, speed: float, deadline: float) -> bytes:  # type: ignore[no-untyped-def]
        import openai

        opts = self._opts()
        kwargs: dict[str, object] = {
            "model": opts.model,
            "voice": voice,
            "input": text,
            "response_format": opts.response_format,
        }
        if opts.model == "gpt-4o-mini-tts":
            if opts.instructions:
                kwargs["instructions"] = opts.instructions
        elif abs(speed - 1.0) > 1e-3:
            kwargs["speed"] = speed  # tts-1 models change tempo server-side
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProviderError(f"OpenAI TTS gave no audio within {opts.deadline_s:g} s")
            try:
                resp = client.audio.speech.create(**kwargs, timeout=min(opts.timeout_s, remaining))
                return bytes(resp.content)
            except openai.RateLimitError as e:
                wait = retry_after_s(e.response.headers)
                wait = 0.5 * 2**attempt if wait is None else wait
                why = f"rate limited (429), asked to wait {wait:g} s"
            except openai.APITimeoutError:
                wait, why = 0.5 * 2**attempt, f"no answer within {opts.timeout_s:g} s"
            except openai.InternalServerError as e:
                wait, why = 0.5 * 2**attempt, f"server error {e.status_code}"
            except openai.APIConnectionError as e:
                wait, why = 0.5 * 2**attempt, f"cannot connect ({e})"
            except openai.APIStatusError as e:  # 400/401/403/404: retrying will not help
                raise ProviderError(
                    f"OpenAI TTS refused the request ({e.status_code}): {_message(e)}"
                ) from None
            attempt += 1
            if attempt > opts.max_retries:
                raise ProviderError(f"OpenAI TTS failed after {attempt} attempts: {why}")
            if time.monotonic() + wait >= deadline:
                raise ProviderError(
                    f"OpenAI TTS {why}; waiting would pass the {opts.deadline_s:g} s deadline"
                )
            log.info("OpenAI TTS %s; retry %d in %.1f s", why, attempt, wait)
            time.sleep(wait)

    def synthesize(
        self, text: str, *, voice: str = "", speed_factor: float = 1.0
    ) -> tuple[np.ndarray, int]:
        """Speak ``text`` (split at sentences past the API's limit); native-rate samples."""
        opts = self._opts()
        if not text.split():
            raise InputError("text to speak is empty: give at least one word")
        which = openai_voice(voice, opts.voice) if voice else opts.voice
        server_speed = 1.0
        if opts.model != "gpt-4o-mini-tts":
            server_speed = min(4.0, max(0.25, speed_factor))
        deadline = time.monotonic() + opts.deadline_s
        client = self._client()
        pieces: list[np.ndarray] = []
        rate = PCM_RATE
        try:
            for chunk in split_sentences(text, opts.max_chunk_chars):
                data = self._request(client, chunk, which, server_speed, deadline)
                samples, rate_i = decode_audio(data, opts.response_format)
                if pieces and rate_i != rate:
                    samples = soxr.resample(samples, rate_i, rate).astype(np.float32)
                rate = rate if pieces else rate_i
                trimmed = trim_silence(samples, rate).samples
                if trimmed.size == 0:
                    raise ProviderError(f"OpenAI TTS returned silence for {chunk[:60]!r}")
                pieces.append(trimmed)
        finally:
            client.close()
        joined, _ = join_segments(pieces, rate, pause_s=0.2)
        if opts.model == "gpt-4o-mini-tts" and abs(speed_factor - 1.0) > 0.02:
            factor = min(MAX_SPEED, max(MIN_SPEED, speed_factor))
            joined = change_speed(joined, rate, factor)  # this model has no speed setting
        return normalize_loudness(joined, rate), rate

    def speak(self, text: str, voice: str, speed: int, out_wav: Path) -> SpeechOutput:
        opts = self._opts()
        samples, rate = self.synthesize(text, voice=voice, speed_factor=speed / BASE_WPM)
        native = native_wav_path(out_wav)
        native.parent.mkdir(parents=True, exist_ok=True)
        sf.write(native, samples, rate, subtype="PCM_16")
        duration = write_wav_16k(samples, rate, out_wav)
        samples16, _ = sf.read(out_wav, dtype="float32")
        timed = align_output(
            "OpenAI TTS", text, samples16, alignment_voice(voice, opts.align_voice)
        )
        which = openai_voice(voice, opts.voice) if voice else opts.voice
        return SpeechOutput(
            duration_s=duration,
            words=timed.words,
            phonemes=timed.phonemes,
            voice=f"openai:{opts.model}:{which}",
        )


def _message(e: Exception) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
    return str(e)[:300]
