from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from novaavatar.errors import InputError
from tasks.speech import EspeakProvider, espeak

TEXT = "Good evening. Scientists announced new results from the ocean survey today."


def test_espeak_writes_16k_mono_with_timings(tmp_path: Path) -> None:
    out = EspeakProvider().speak(TEXT, "en-us", 165, tmp_path / "s.wav")
    info = sf.info(tmp_path / "s.wav")
    assert (info.samplerate, info.channels) == (16000, 1)
    assert abs(info.duration - out.duration_s) < 0.01
    assert [w.word for w in out.words] == TEXT.split()
    starts = [w.start for w in out.words]
    assert starts == sorted(starts)
    assert all(w.end > w.start for w in out.words)
    assert out.words[-1].end <= out.duration_s + 1e-6
    assert len(out.phonemes) > len(out.words)
    assert any(p.phoneme.startswith("_") for p in out.phonemes)  # the sentence pause


def test_speed_changes_duration_and_rate_is_measured() -> None:
    slow = espeak.synthesize(TEXT, rate_wpm=120).duration_s
    fast = espeak.synthesize(TEXT, rate_wpm=240).duration_s
    assert fast < slow * 0.7
    wps = espeak.words_per_second("en-us", 165)
    assert 2.0 < wps < 3.5


def test_other_language_voice() -> None:
    speech = espeak.synthesize("Guten Abend, hier sind die Nachrichten.", voice="de")
    assert speech.duration_s > 1 and len(speech.words) == 6


@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_text_is_refused(text: str) -> None:
    with pytest.raises(InputError, match="empty"):
        espeak.synthesize(text)


def test_unknown_voice_names_it() -> None:
    with pytest.raises(InputError, match="unknown eSpeak voice 'xx-klingon'"):
        espeak.synthesize("hello", voice="xx-klingon")


def test_speed_out_of_range() -> None:
    with pytest.raises(InputError, match="80–450"):
        espeak.synthesize("hello", rate_wpm=20)
