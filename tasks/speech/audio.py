"""Speech signal helpers shared by every voice: tempo, silence, loudness, long-text chunks.

All functions take and return float32 mono numpy arrays; none changes the sample rate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from novaavatar.errors import InputError

MIN_SPEED = 0.5
MAX_SPEED = 2.0
PRE_NORM_LUFS = -20.0  # compose sets the final loudness; this only evens out voices
PEAK_CEILING = 10 ** (-1.0 / 20)  # -1 dBFS


def _signal() -> ModuleType:
    """scipy.signal, imported on first use: it costs a second at import, and every flow-run
    process imports this module whether or not it speaks."""
    from scipy import signal

    return signal


def _mono(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise InputError(f"expected mono samples (1-D array), got shape {x.shape}")
    return x


def native_wav_path(out_wav: Path) -> Path:
    """Where a provider keeps its native-rate audio beside the 16 kHz wav: ``speech-native.wav``."""
    return out_wav.with_name(f"{out_wav.stem}-native{out_wav.suffix or '.wav'}")


# --- tempo -----------------------------------------------------------------------------------


def change_speed(samples: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (2.0 halves the length) without changing the pitch.

    WSOLA: overlapping Hann frames are read at ``factor`` × the output hop, each shifted
    within ±10 ms to the position that best continues the previous frame's waveform, so
    periods line up and no phasiness or clicks appear.
    """
    x = _mono(samples)
    if not MIN_SPEED <= factor <= MAX_SPEED:
        raise InputError(
            f"speed factor {factor:g} is out of range: allowed {MIN_SPEED}–{MAX_SPEED}"
        )
    if abs(factor - 1.0) < 1e-3 or x.size == 0:
        return x.copy()
    win = 2 * int(0.015 * sample_rate)  # 30 ms frames
    hop_out = win // 2
    tol = int(0.010 * sample_rate)
    window = np.hanning(win).astype(np.float32)
    n_out = math.ceil(x.size / factor)
    n_frames = n_out // hop_out + 1
    padded = np.concatenate(
        [np.zeros(tol, np.float32), x, np.zeros(win + tol + hop_out, np.float32)]
    )
    out = np.zeros(n_frames * hop_out + win, np.float32)
    norm = np.zeros_like(out)
    prev = -1  # start of the previous frame in ``padded`` coordinates
    for k in range(n_frames):
        ideal = round(k * hop_out * factor) + tol
        if ideal + tol + win > padded.size:
            break
        if prev < 0:
            pos = ideal
        else:
            # the natural continuation of the previous frame, one output hop later
            template = padded[prev + hop_out : prev + hop_out + win]
            region = padded[ideal - tol : ideal + tol + win]
            corr = _signal().correlate(region, template, mode="valid", method="fft")
            pos = ideal - tol + int(np.argmax(corr))
        out[k * hop_out : k * hop_out + win] += padded[pos : pos + win] * window
        norm[k * hop_out : k * hop_out + win] += window
        prev = pos
    norm[norm < 1e-3] = 1.0
    return (out / norm)[:n_out].astype(np.float32)


# --- silence ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trimmed:
    samples: np.ndarray
    offset_s: float  # seconds cut from the start: subtract from timings of the untrimmed audio


def trim_silence(
    samples: np.ndarray, sample_rate: int, *, threshold_db: float = -40.0, keep_s: float = 0.1
) -> Trimmed:
    """Cut leading and trailing silence (quieter than ``threshold_db`` below the loudest 10 ms),
    keeping ``keep_s`` of it at each end so the speech does not start abruptly."""
    x = _mono(samples)
    frame = max(1, int(0.010 * sample_rate))
    n = x.size // frame
    if n == 0:
        return Trimmed(x.copy(), 0.0)
    rms = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > threshold_db)
    if rms.max() < 1e-5 or loud.size == 0:
        return Trimmed(x[:0].copy(), 0.0)
    keep = int(keep_s * sample_rate)
    start = max(0, loud[0] * frame - keep)
    end = min(x.size, (loud[-1] + 1) * frame + keep)
    return Trimmed(x[start:end].copy(), start / sample_rate)


# --- loudness (ITU-R BS.1770 integrated loudness) ---------------------------------------------


def _k_weighting(fs: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """BS.1770's K-weighting (a high shelf, then a high-pass) designed for rate ``fs``."""
    # pre-filter: +4 dB shelf above ~1.7 kHz (the head's acoustic effect)
    k = math.tan(math.pi * 1681.974450955533 / fs)
    q = 0.7071752369554196
    vh = 10 ** (3.999843853973347 / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = np.array([vh + vb * k / q + k * k, 2 * (k * k - vh), vh - vb * k / q + k * k]) / a0
    shelf_a = np.array([a0, 2 * (k * k - 1), 1 - k / q + k * k]) / a0
    # RLB high-pass at ~38 Hz
    k = math.tan(math.pi * 38.13547087602444 / fs)
    q = 0.5003270373238773
    a0 = 1 + k / q + k * k
    hp_b = np.array([1.0, -2.0, 1.0])
    hp_a = np.array([a0, 2 * (k * k - 1), 1 - k / q + k * k]) / a0
    return [(shelf_b, shelf_a), (hp_b, hp_a)]


def loudness_lufs(samples: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS (K-weighted, 400 ms blocks, absolute and relative gates)."""
    x = _mono(samples).astype(np.float64)
    for b, a in _k_weighting(sample_rate):
        x = _signal().lfilter(b, a, x)
    block, step = int(0.4 * sample_rate), int(0.1 * sample_rate)
    if x.size < block:
        x = np.pad(x, (0, block - x.size))
    starts = np.arange(0, x.size - block + 1, step)
    csum = np.concatenate([[0.0], np.cumsum(x**2)])
    power = (csum[starts + block] - csum[starts]) / block
    lk = -0.691 + 10 * np.log10(power + 1e-20)
    gated = power[lk > -70.0]
    if gated.size == 0:
        return -math.inf
    rel = -0.691 + 10 * math.log10(gated.mean()) - 10.0
    gated = power[(lk > -70.0) & (lk > rel)]
    return float(-0.691 + 10 * math.log10(gated.mean()))


def normalize_loudness(
    samples: np.ndarray, sample_rate: int, target_lufs: float = PRE_NORM_LUFS
) -> np.ndarray:
    """Scale to ``target_lufs`` integrated loudness, never past a -1 dBFS sample peak."""
    x = _mono(samples)
    current = loudness_lufs(x, sample_rate)
    if not math.isfinite(current):
        return x.copy()
    gain = 10 ** ((target_lufs - current) / 20)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak * gain > PEAK_CEILING:
        gain = PEAK_CEILING / peak
    return (x * gain).astype(np.float32)


# --- long texts ------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+")
_CLAUSE_END = re.compile(r"(?<=[,;:—])\s+")


def split_sentences(text: str, max_chars: int) -> list[str]:
    """Split ``text`` into chunks of at most ``max_chars``, breaking at sentence ends first,
    then at clause ends, then between words; sentences are packed greedily into chunks."""
    if max_chars < 20:
        raise InputError(f"max_chars={max_chars} is too small to split speech: use at least 20")
    text = " ".join(text.split())
    if not text:
        return []
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        pieces.extend(_split_long(sentence.strip(), max_chars))
    chunks: list[str] = []
    for piece in (p for p in pieces if p):
        if chunks and len(chunks[-1]) + 1 + len(piece) <= max_chars:
            chunks[-1] = f"{chunks[-1]} {piece}"
        else:
            chunks.append(piece)
    return chunks


def _split_long(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    out: list[str] = []
    for clause in _CLAUSE_END.split(sentence):
        if len(clause) <= max_chars:
            out.append(clause)
            continue
        line = ""
        for word in clause.split(" "):
            while len(word) > max_chars:  # a "word" longer than a chunk: cut it
                if line:
                    out.append(line)
                    line = ""
                out.append(word[:max_chars])
                word = word[max_chars:]
            if line and len(line) + 1 + len(word) > max_chars:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        if line:
            out.append(line)
    return out


def join_segments(
    segments: list[np.ndarray], sample_rate: int, *, pause_s: float = 0.15, fade_s: float = 0.01
) -> tuple[np.ndarray, list[float]]:
    """Join speech segments with ``pause_s`` of silence; returns the audio and each segment's
    start time. Every edge gets a raised-cosine fade of ``fade_s``; with no pause, segments
    cross-fade over that length instead, so no join produces a click."""
    if not segments:
        return np.zeros(0, np.float32), []
    fade = max(1, int(fade_s * sample_rate))
    pause = np.zeros(int(pause_s * sample_rate), np.float32)
    out = np.zeros(0, np.float32)
    starts: list[float] = []
    for i, seg in enumerate(segments):
        s = _mono(seg).copy()
        n = min(fade, s.size // 2)
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0, math.pi, n))).astype(np.float32)
        if n and i > 0:
            s[:n] *= ramp
        if n and i < len(segments) - 1:
            s[-n:] *= ramp[::-1]
        if i == 0:
            starts.append(0.0)
            out = s
            continue
        if pause.size:
            out = np.concatenate([out, pause])
            starts.append(out.size / sample_rate)
            out = np.concatenate([out, s])
        else:  # overlap-add the faded edges
            k = min(n, out.size)
            starts.append((out.size - k) / sample_rate)
            head = out[: out.size - k]
            mixed = out[out.size - k :] + s[:k]
            out = np.concatenate([head, mixed, s[k:]])
    return out.astype(np.float32), starts
