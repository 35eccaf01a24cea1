"""Speech stage: text → 16 kHz mono wav with word and phoneme timings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile as sf
import soxr

from novaavatar.domain import SPEECH_SAMPLE_RATE, PhonemeTiming, WordTiming
from tasks.speech import espeak


@dataclass(frozen=True)
class SpeechOutput:
    duration_s: float
    words: tuple[WordTiming, ...]
    phonemes: tuple[PhonemeTiming, ...]
    voice: str


class SpeechProvider(Protocol):
    name: str

    def available(self) -> bool: ...

    def speak(self, text: str, voice: str, speed: int, out_wav: Path) -> SpeechOutput: ...


def write_wav_16k(samples: np.ndarray, sample_rate: int, out_wav: Path) -> float:
    """Resample mono float samples to 16 kHz and write a PCM-16 wav; return its duration."""
    if sample_rate != SPEECH_SAMPLE_RATE:
        samples = soxr.resample(samples, sample_rate, SPEECH_SAMPLE_RATE, quality="HQ")
    samples = np.clip(samples, -1.0, 1.0).astype(np.float32)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    sf.write(out_wav, samples, SPEECH_SAMPLE_RATE, subtype="PCM_16")
    return len(samples) / SPEECH_SAMPLE_RATE


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


def default_providers() -> list[SpeechProvider]:
    return [EspeakProvider()]
