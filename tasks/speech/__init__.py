"""Speech stage: text → 16 kHz mono wav with word and phoneme timings.

The chain is Dia (a local model) → OpenAI TTS (a key) → eSpeak NG (always); ``TTS_BACKEND``
forces one. eSpeak reports its own timings; the others get theirs from ``tasks.speech.align``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import tasks.speech.espeak as espeak
from novaavatar.domain import PhonemeTiming, WordTiming
from novaavatar.errors import SettingsError
from tasks.speech.output import SpeechOutput, SpeechProvider, write_wav_16k

__all__ = ["SpeechOutput", "SpeechProvider", "write_wav_16k"]

if TYPE_CHECKING:
    from novaavatar.settings import Settings


class EspeakProvider:
    """eSpeak NG from the espeakng-loader wheel: offline, any CPU, native timings."""

    name = "espeak-ng"

    def available(self) -> bool:
        return True

    def speak(self, text: str, voice: str, speed: int, out_wav: Path) -> SpeechOutput:
        raw = espeak.synthesize(text, voice=voice, rate_wpm=speed)
        duration = write_wav_16k(raw.samples, raw.sample_rate, out_wav)
        words = tuple(WordTiming(word=w, start=a, end=min(b, duration)) for w, a, b in raw.words)
        phonemes = tuple(
            PhonemeTiming(phoneme=p, start=a, end=min(b, duration)) for p, a, b in raw.phonemes
        )
        return SpeechOutput(duration_s=duration, words=words, phonemes=phonemes, voice=voice)


# Providers that speak English only (Dia's checkpoints are English); others take any text.
ENGLISH_ONLY = ("dia",)


def for_language(
    providers: list[SpeechProvider], language: str
) -> tuple[list[SpeechProvider], list[str]]:
    """The providers that can speak ``language``, and a note for each one left out."""
    if language == "en":
        return providers, []
    kept = [p for p in providers if p.name not in ENGLISH_ONLY]
    notes = [
        f"{p.name} skipped: it speaks English only, not {language}"
        for p in providers
        if p.name in ENGLISH_ONLY and p.available()
    ]
    return kept, notes


def speech_notes(provider: str, language: str, text: str) -> list[str]:
    """What the listener should know about how ``provider`` spoke ``text``."""
    if provider == EspeakProvider.name and language == "ja":
        kanji = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
        if kanji:
            return [
                f"eSpeak NG reads Japanese kana only: {kanji} kanji are not pronounced "
                "correctly; set OPENAI_API_KEY (OpenAI TTS) for Japanese with kanji"
            ]
    return []


def with_voice(
    providers: list[SpeechProvider],
    openai_voice: str | None = None,
    clip: Path | None = None,
    clip_text: str = "",
) -> list[SpeechProvider]:
    """The chain speaking a presenter's own voice: OpenAI TTS with ``openai_voice``, Dia
    cloning ``clip`` (its audio prompt, with the words it says). eSpeak keeps the run's voice."""
    from dataclasses import replace

    from tasks.speech.dia import DiaProvider
    from tasks.speech.openai_tts import OpenAITTSProvider

    out: list[SpeechProvider] = []
    for p in providers:
        if isinstance(p, OpenAITTSProvider) and openai_voice and p.options is not None:
            p = OpenAITTSProvider(replace(p.options, voice=openai_voice))
        elif isinstance(p, DiaProvider) and clip is not None and p.options is not None:
            p = DiaProvider(replace(p.options, reference_audio=clip, reference_text=clip_text))
        out.append(p)
    return out


def default_providers(settings: Settings | None = None) -> list[SpeechProvider]:
    """Dia when DIA_MODEL_PATH is set, then OpenAI TTS when OPENAI_API_KEY is set, then eSpeak
    NG; ``TTS_BACKEND`` keeps only the one it names. Nothing heavy is imported here."""
    from novaavatar.settings import get_settings
    from tasks.speech.dia import DiaOptions, DiaProvider
    from tasks.speech.openai_tts import OpenAITTSOptions, OpenAITTSProvider

    s = settings or get_settings()
    backend = s.tts_backend
    align_voice = s.tts_voice.partition("+")[0]
    chain: list[SpeechProvider] = []
    if backend in ("auto", "dia"):
        if s.dia_model_path is None and backend == "dia":
            raise SettingsError(
                "TTS_BACKEND=dia needs DIA_MODEL_PATH: a local Dia checkpoint folder"
            )
        dia = None
        if s.dia_model_path is not None:
            dia = DiaOptions(
                model_path=s.dia_model_path,
                codec_path=s.dia_codec_path,
                device=s.dia_device,
                dtype=s.dia_dtype,
                seed=s.dia_seed,
                guidance_scale=s.dia_guidance_scale,
                temperature=s.dia_temperature,
                top_p=s.dia_top_p,
                top_k=s.dia_top_k,
                max_new_tokens=s.dia_max_new_tokens,
                reference_audio=s.dia_reference_audio,
                reference_text=s.dia_reference_text,
                align_voice=align_voice,
            )
        chain.append(DiaProvider(dia))
    if backend in ("auto", "openai"):
        key = s.openai_api_key.get_secret_value() if s.openai_api_key else ""
        if not key and backend == "openai":
            raise SettingsError("TTS_BACKEND=openai needs OPENAI_API_KEY")
        openai_opts = None
        if key:
            openai_opts = OpenAITTSOptions(
                api_key=key,
                model=s.openai_tts_model,
                voice=s.openai_tts_voice,
                response_format=s.openai_tts_format,
                base_url=s.openai_base_url,
                instructions=s.openai_tts_instructions,
                timeout_s=s.openai_tts_timeout,
                max_retries=s.openai_tts_max_retries,
                align_voice=align_voice,
            )
        chain.append(OpenAITTSProvider(openai_opts))
    if backend in ("auto", "espeak"):
        chain.append(EspeakProvider())
    return chain
