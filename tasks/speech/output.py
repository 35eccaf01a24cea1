"""What every speech provider returns and how it writes its track: a 16 kHz mono wav with
word and phoneme timings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile as sf
import soxr

from novaavatar.domain import SPEECH_SAMPLE_RATE, PhonemeTiming, WordTiming


@dataclass(frozen=True)
class SpeechOutput:
    duration_s: float
    words: tuple[WordTiming, ...]
    phonemes: tuple[PhonemeTiming, ...]
    voice: str


class SpeechProvider(Protocol):
    """Speaks ``text`` into ``out_wav`` (16 kHz mono) with word and phoneme timings; a provider
    whose native rate differs also writes ``<stem>-native.wav`` beside it."""

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
