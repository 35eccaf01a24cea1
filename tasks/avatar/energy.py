"""Mouth timings for audio that comes without phoneme timings (uploads, other voices).

The speech envelope is cut into 40 ms frames; loud frames become open vowels, quieter
voiced frames half-open shapes, and silence closes the mouth. Good enough for lip motion
that follows the voice; aligned phonemes (speech issue) do better.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from novaavatar.domain import SPEECH_SAMPLE_RATE, PhonemeTiming
from novaavatar.errors import InputError

FRAME_S = 0.04


def phonemes_from_samples(samples: np.ndarray, sample_rate: int = SPEECH_SAMPLE_RATE) -> list[PhonemeTiming]:
    hop = max(int(sample_rate * FRAME_S), 1)
    n = len(samples) // hop
    if n == 0:
        raise InputError("audio is shorter than 40 ms: nothing to lip-sync")
    frames = samples[: n * hop].reshape(n, hop).astype(np.float64)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    ref = float(np.percentile(rms, 95)) or 1.0
    level = rms / ref
    labels = np.where(level > 0.55, "a", np.where(level > 0.25, "@", np.where(level > 0.08, "m", "_")))
    out: list[PhonemeTiming] = []
    start = 0
    for i in range(1, n + 1):
        if i == n or labels[i] != labels[start]:
            out.append(PhonemeTiming(phoneme=str(labels[start]), start=start * FRAME_S, end=i * FRAME_S))
            start = i
    return out


def phonemes_from_audio(path: Path) -> list[PhonemeTiming]:
    from novaavatar.media import read_audio

    return phonemes_from_samples(read_audio(path, SPEECH_SAMPLE_RATE))
