"""Word and phoneme timings for speech that came without them (Dia, OpenAI, uploaded audio).

eSpeak NG speaks the same text with known word and phoneme timings; both recordings become
MFCC frames (log-mel + DCT, normalised per recording so two voices compare), dynamic time
warping finds the cheapest monotonic frame-to-frame path, and that path carries eSpeak's
boundaries onto the target audio. No model is downloaded; error is measured by
``bench/bench_speech.py`` and ``tests/test_speech_align.py``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import soxr
from scipy.fft import dct

import tasks.speech.espeak as espeak
from novaavatar.domain import SPEECH_SAMPLE_RATE, PhonemeTiming, WordTiming
from novaavatar.errors import InputError, ProviderError
from novaavatar.languages import units
from tasks.speech.audio import trim_silence

HOP_S = 0.010  # one feature frame per 10 ms: the resolution of every aligned boundary
_N_FFT = 512
_N_MELS = 40
_N_MFCC = 13
_SPEAKER_TAG = re.compile(r"\[S\d\]\s*")
_SPEECH_WPM = 165  # eSpeak's default rate; the reference is re-spoken near the target's pace


@dataclass(frozen=True)
class Alignment:
    words: tuple[WordTiming, ...]
    phonemes: tuple[PhonemeTiming, ...]
    reference_wpm: int  # eSpeak rate the reference was spoken at
    cost: float  # mean per-step DTW cost: higher means the voices matched less well


@lru_cache(maxsize=4)
def _mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    lo, hi = hz_to_mel(60.0), hz_to_mel(min(7600.0, sample_rate / 2))
    hz = 700.0 * (10 ** (np.linspace(lo, hi, n_mels + 2) / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    fb = np.zeros((n_mels, bins.size))
    for m in range(n_mels):
        left, centre, right = hz[m], hz[m + 1], hz[m + 2]
        rise = (bins - left) / (centre - left)
        fall = (right - bins) / (right - centre)
        fb[m] = np.maximum(0.0, np.minimum(rise, fall))
    return fb


def features(samples: np.ndarray, sample_rate: int = SPEECH_SAMPLE_RATE) -> np.ndarray:
    """MFCC 1–12 plus deltas per 10 ms frame, mean/variance normalised: shape (frames, 24)."""
    x = np.asarray(samples, dtype=np.float64)
    if sample_rate != SPEECH_SAMPLE_RATE:
        x = soxr.resample(x, sample_rate, SPEECH_SAMPLE_RATE)
    hop = int(HOP_S * SPEECH_SAMPLE_RATE)
    x = np.concatenate([[x[0] if x.size else 0.0], x[1:] - 0.97 * x[:-1]])  # pre-emphasis
    x = np.pad(x, (_N_FFT // 2, _N_FFT // 2 + hop))
    n = max(1, (x.size - _N_FFT) // hop + 1)
    idx = np.arange(_N_FFT)[None, :] + hop * np.arange(n)[:, None]
    frames = x[idx] * np.hanning(_N_FFT)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    mel = power @ _mel_filterbank(SPEECH_SAMPLE_RATE, _N_FFT, _N_MELS).T
    logmel = np.log(mel + 1e-8 * max(float(mel.max()), 1e-10))
    mfcc = dct(logmel, type=2, axis=1, norm="ortho")[:, 1:_N_MFCC]
    delta = np.gradient(mfcc, axis=0) if n > 1 else np.zeros_like(mfcc)
    feats = np.hstack([mfcc, delta])
    return (feats - feats.mean(axis=0)) / (feats.std(axis=0) + 1e-6)


def dtw_path(cost: np.ndarray) -> np.ndarray:
    """Cheapest monotonic path through ``cost`` (n × m) from (0, 0) to (n-1, m-1); (k, 2) ints.

    Each row of the accumulated cost is one vectorised step: the left-neighbour recurrence
    D[j] = min(A[j], D[j-1] + c[j]) is a running minimum over cumulative sums.
    """
    n, m = cost.shape
    acc = np.empty((n, m))
    move = np.empty((n, m), dtype=np.int8)  # 0 diagonal, 1 from above, 2 from the left
    c0 = np.cumsum(cost[0])
    acc[0] = c0
    move[0] = 2
    for i in range(1, n):
        prev = acc[i - 1]
        diag = np.concatenate([[np.inf], prev[:-1]])
        best_vert = np.minimum(diag, prev)
        a = cost[i] + best_vert
        csum = np.cumsum(cost[i])
        run = np.minimum.accumulate(a - csum) + csum
        acc[i] = run
        move[i] = np.where(run < a - 1e-12, 2, np.where(diag <= prev, 0, 1))
    path = [(n - 1, m - 1)]
    i, j = n - 1, m - 1
    while i > 0 or j > 0:
        step = move[i, j] if i > 0 else 2
        if step == 0:
            i, j = i - 1, j - 1
        elif step == 1:
            i -= 1
        else:
            j -= 1
        path.append((i, j))
    return np.array(path[::-1])


def _time_map(path: np.ndarray, n_ref: int) -> np.ndarray:
    """For each reference frame, the (mean) target frame the path pairs it with."""
    sums = np.bincount(path[:, 0], weights=path[:, 1], minlength=n_ref)
    counts = np.bincount(path[:, 0], minlength=n_ref)
    mapped = sums / np.maximum(counts, 1)
    return np.maximum.accumulate(mapped)


def speech_wpm(text: str, seconds: float) -> int:
    """The eSpeak rate that would say ``text`` in about ``seconds`` (clamped to 80–450)."""
    words = max(1, units(text))  # Chinese/Japanese: characters, as eSpeak paces them
    # eSpeak's real pace is ~0.85 of its nominal rate once pauses are counted
    return int(min(450, max(80, round(words / max(seconds, 0.1) * 60 / 0.85))))


def align(
    text: str,
    samples: np.ndarray,
    sample_rate: int = SPEECH_SAMPLE_RATE,
    *,
    voice: str = "en-us",
) -> Alignment:
    """Word and phoneme timings of ``text`` as spoken in ``samples`` (seconds from its start)."""
    text = _SPEAKER_TAG.sub("", text).strip()
    if not text:
        raise InputError("text to align is empty: give the words the audio says")
    x = np.asarray(samples, dtype=np.float32)
    if sample_rate != SPEECH_SAMPLE_RATE:
        x = soxr.resample(x, sample_rate, SPEECH_SAMPLE_RATE).astype(np.float32)
    duration = x.size / SPEECH_SAMPLE_RATE
    if duration < 0.05:
        raise InputError(
            f"audio to align is {duration * 1000:.0f} ms long: too short to hold speech"
        )
    target = trim_silence(x, SPEECH_SAMPLE_RATE, keep_s=0.05)
    if target.samples.size < int(0.05 * SPEECH_SAMPLE_RATE):
        raise InputError("audio to align is silent: no speech to place the words on")
    spoken_s = target.samples.size / SPEECH_SAMPLE_RATE

    wpm = speech_wpm(text, spoken_s)
    ref = espeak.synthesize(text, voice=voice, rate_wpm=wpm)
    ref16 = soxr.resample(ref.samples, ref.sample_rate, SPEECH_SAMPLE_RATE).astype(np.float32)
    ref_trim = trim_silence(ref16, SPEECH_SAMPLE_RATE, keep_s=0.05)

    f_ref = features(ref_trim.samples)
    f_tgt = features(target.samples)
    cost = _pairwise_cost(f_ref, f_tgt)
    path = dtw_path(cost)
    mapped = _time_map(path, f_ref.shape[0])

    ref_frames = np.arange(f_ref.shape[0]) * HOP_S
    tgt_times = mapped * HOP_S

    # timings are rounded to milliseconds: capped at the last whole millisecond, no rounding
    # puts a word's end after the audio's
    end_ms = math.floor(duration * 1000) / 1000

    def warp(t: float) -> float:
        local = t - ref_trim.offset_s
        if local <= 0:
            return min(end_ms, target.offset_s)
        if local >= ref_frames[-1]:
            return min(end_ms, target.offset_s + spoken_s)
        return min(end_ms, target.offset_s + float(np.interp(local, ref_frames, tgt_times)))

    words = []
    for w, a, b in ref.words:
        start = warp(a)
        words.append(WordTiming(word=w, start=round(start, 3), end=round(max(warp(b), start), 3)))
    phonemes = []
    for p, a, b in ref.phonemes:
        start = warp(a)
        phonemes.append(
            PhonemeTiming(phoneme=p, start=round(start, 3), end=round(max(warp(b), start), 3))
        )
    step_cost = float(cost[path[:, 0], path[:, 1]].mean())
    return Alignment(tuple(words), tuple(phonemes), wpm, step_cost)


def align_output(provider: str, text: str, samples: np.ndarray, voice: str) -> Alignment:
    """:func:`align` for a provider's own output: a failure there is the provider's, so it is a
    ProviderError (the chain moves on) rather than the user's InputError."""
    try:
        return align(text, samples, SPEECH_SAMPLE_RATE, voice=voice)
    except InputError as e:
        raise ProviderError(f"{provider} audio cannot be aligned to its text: {e}") from None


def alignment_voice(voice: str, default: str = "en-us") -> str:
    """The eSpeak voice to align with: the pipeline's voice minus its variant, if eSpeak has it."""
    base = voice.partition("+")[0]
    return base if base and base in espeak.list_voices() else default


def _pairwise_cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance between every pair of frames, scaled per dimension."""
    sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0)) / math.sqrt(a.shape[1])


def boundary_errors(
    truth: list[tuple[str, float, float]] | tuple[WordTiming, ...],
    estimate: tuple[WordTiming, ...],
) -> np.ndarray:
    """Absolute start and end errors (seconds) of every word, for measuring an alignment."""
    ref = [(w.start, w.end) if isinstance(w, WordTiming) else (w[1], w[2]) for w in truth]
    if len(ref) != len(estimate):
        raise ValueError(f"{len(ref)} true words but {len(estimate)} aligned ones")
    errs = [abs(a - w.start) for (a, _), w in zip(ref, estimate, strict=True)]
    errs += [abs(b - w.end) for (_, b), w in zip(ref, estimate, strict=True)]
    return np.array(errs)
