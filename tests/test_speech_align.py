"""Alignment (eSpeak timings warped onto other audio by DTW) and the speech signal helpers.

Where the truth is known — eSpeak speech at another rate, in another voice, time-stretched or
padded with silence — the mean absolute word-boundary error must stay small.
"""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from novaavatar.errors import InputError
from tasks.speech import audio, espeak
from tasks.speech.align import align, boundary_errors, dtw_path, features

SR = 16000
TEXT = "City leaders met on Tuesday to discuss plans for cleaner public transport."


def _speech(text: str = TEXT, **kw: object) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    s = espeak.synthesize(text, **kw)  # type: ignore[arg-type]
    return soxr.resample(s.samples, s.sample_rate, SR).astype(np.float32), s.words


@pytest.fixture(scope="module")
def base() -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    return _speech()


def _mean_error_ms(samples: np.ndarray, truth: list[tuple[str, float, float]]) -> float:
    result = align(TEXT, samples, SR)
    assert [w.word for w in result.words] == TEXT.split()
    starts = [w.start for w in result.words]
    assert starts == sorted(starts)
    assert all(w.end <= samples.size / SR + 1e-6 for w in result.words)
    return float(boundary_errors(truth, result.words).mean() * 1000)


def test_other_rate_and_other_voice() -> None:
    assert _mean_error_ms(*_speech(rate_wpm=210)) < 40
    assert _mean_error_ms(*_speech(voice="en-us+f3", rate_wpm=140)) < 40


@pytest.mark.parametrize("factor", [0.8, 1.25])
def test_time_stretched(base, factor: float) -> None:  # type: ignore[no-untyped-def]
    samples, words = base
    stretched = audio.change_speed(samples, SR, factor)
    truth = [(w, a / factor, b / factor) for w, a, b in words]
    assert _mean_error_ms(stretched, truth) < 40


def test_padded_with_silence_and_at_another_rate(base) -> None:  # type: ignore[no-untyped-def]
    samples, words = base
    padded = np.concatenate([np.zeros(int(0.8 * SR)), samples, np.zeros(int(0.6 * SR))])
    truth = [(w, a + 0.8, b + 0.8) for w, a, b in words]
    assert _mean_error_ms(padded.astype(np.float32), truth) < 40
    # uploaded audio at 44.1 kHz: the aligner resamples
    hi = soxr.resample(padded, SR, 44100).astype(np.float32)
    result = align(TEXT, hi, 44100)
    assert boundary_errors(truth, result.words).mean() < 0.04


def test_phonemes_follow_the_words(base) -> None:  # type: ignore[no-untyped-def]
    result = align(TEXT, base[0], SR)
    assert len(result.phonemes) > len(result.words)
    starts = [p.start for p in result.phonemes]
    assert starts == sorted(starts)


def test_speaker_tags_are_not_words(base) -> None:  # type: ignore[no-untyped-def]
    result = align("[S1] " + TEXT, base[0], SR)
    assert [w.word for w in result.words] == TEXT.split()


@pytest.mark.parametrize(
    ("samples", "match"),
    [(np.zeros(SR, np.float32), "silent"), (np.zeros(100, np.float32), "too short")],
)
def test_silence_or_nothing_is_refused(samples: np.ndarray, match: str) -> None:
    with pytest.raises(InputError, match=match):
        align(TEXT, samples, SR)


def test_dtw_recovers_a_known_warp() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 4))
    idx = np.repeat(np.arange(50), 2)  # b is a, each frame held twice
    b = a[idx]
    cost = np.linalg.norm(a[:, None] - b[None], axis=2)
    path = dtw_path(cost)
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (49, 99)
    assert np.all(np.diff(path, axis=0) >= 0)
    assert cost[path[:, 0], path[:, 1]].sum() < 1e-9


def test_features_are_normalised(base) -> None:  # type: ignore[no-untyped-def]
    f = features(base[0])
    assert f.shape[1] == 24 and abs(f.shape[0] - base[0].size / SR / 0.01) < 3
    assert np.allclose(f.mean(0), 0, atol=1e-6)


# --- signal helpers ---------------------------------------------------------------------------


def _sine(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(x: np.ndarray) -> float:
    return float(np.fft.rfftfreq(x.size, 1 / SR)[np.argmax(np.abs(np.fft.rfft(x)))])


@pytest.mark.parametrize("factor", [0.7, 1.5])
def test_speed_changes_length_not_pitch(factor: float) -> None:
    x = _sine(220.0, 2.0)
    y = audio.change_speed(x, SR, factor)
    assert abs(y.size - x.size / factor) <= 1
    assert abs(_peak_hz(y) - 220.0) < 3.0
    # no clicks: no step larger than the sine's own steepest one (plus a little)
    assert np.abs(np.diff(y[400:-400])).max() < np.abs(np.diff(x)).max() * 1.2
    with pytest.raises(InputError, match="0.5–2.0"):
        audio.change_speed(x, SR, 3.0)


def test_trim_silence_reports_the_offset() -> None:
    x = np.concatenate([np.zeros(SR), _sine(300, 1.0), np.zeros(SR // 2)])
    t = audio.trim_silence(x, SR, keep_s=0.1)
    assert abs(t.offset_s - 0.9) < 0.011 and abs(t.samples.size / SR - 1.2) < 0.03
    assert audio.trim_silence(np.zeros(SR), SR).samples.size == 0


def test_loudness_matches_bs1770_and_normalises() -> None:
    # BS.1770: a full-scale 997 Hz sine reads -3.01 LUFS; at -18 dBFS peak, -21.01
    t = np.arange(48000 * 3) / 48000
    sine = (10 ** (-18 / 20) * np.sin(2 * np.pi * 997 * t)).astype(np.float32)
    assert abs(audio.loudness_lufs(sine, 48000) - (-21.01)) < 0.05
    quiet, _ = _speech()
    quiet = quiet * 0.05
    louder = audio.normalize_loudness(quiet, SR, -20.0)
    assert abs(audio.loudness_lufs(louder, SR) + 20.0) < 0.1 or np.abs(louder).max() > 0.88
    assert np.abs(louder).max() <= audio.PEAK_CEILING + 1e-6


def test_split_at_sentences_then_clauses() -> None:
    text = "First one here. Second one! A third, which is long, goes on and on. Fourth?"
    chunks = audio.split_sentences(text, 40)
    assert all(len(c) <= 40 for c in chunks)
    assert " ".join(chunks) == text
    assert chunks[0] == "First one here. Second one!"
    assert audio.split_sentences("x" * 100, 40) == ["x" * 40, "x" * 40, "x" * 20]
    with pytest.raises(InputError, match="at least 20"):
        audio.split_sentences(text, 5)


def test_join_is_click_free_and_reports_starts() -> None:
    a = _sine(200, 0.5)[:-13]  # ends mid-swing
    b = 0.5 * np.cos(2 * np.pi * 310 * np.arange(SR // 2) / SR).astype(np.float32)  # starts at 0.5
    butted = np.concatenate([a, b])
    assert np.abs(np.diff(butted)).max() > 0.3  # what a join without fades would do
    joined, starts = audio.join_segments([a, b], SR, pause_s=0.0, fade_s=0.01)
    assert starts[0] == 0.0 and abs(starts[1] - (a.size - 160) / SR) < 1e-9
    assert np.abs(np.diff(joined)).max() < np.abs(np.diff(b)).max() * 1.2
    paused, starts = audio.join_segments([a, b], SR, pause_s=0.2)
    assert paused.size == a.size + b.size + int(0.2 * SR)
    assert abs(starts[1] - (a.size / SR + 0.2)) < 1e-9


def test_no_word_ends_after_the_audio_even_when_rounded(base) -> None:  # type: ignore[no-untyped-def]
    """Timings are whole milliseconds; audio that stops mid-word 0.625 ms past one must not
    get a last word ending after it (rounding to the nearest millisecond did)."""
    samples, _ = base
    loud = int(np.flatnonzero(np.abs(samples) > 0.01)[-1])
    cut = samples[: (loud // 16) * 16 + 10]  # 16 samples a millisecond at 16 kHz
    result = align(TEXT, cut, SR)
    assert result.words[-1].end <= cut.size / SR
    assert all(p.end <= cut.size / SR for p in result.phonemes)
