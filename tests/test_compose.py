"""Captions (grouping, SRT/VTT, wrapping) and the final composed MP4."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from novaavatar.domain import WordTiming
from novaavatar.errors import InputError
from novaavatar.media import FrameWriter, extract_frame, measure_loudness, probe, read_audio
from tasks.compose.captions import Caption, build_captions, to_srt, to_vtt
from tasks.compose.video import CaptionPainter, caption_font, compose_final, wrap_words

SR = 16000


def words_of(text: str, start: float = 0.0, step: float = 0.3) -> list[WordTiming]:
    out = []
    t = start
    for w in text.split():
        out.append(WordTiming(word=w, start=round(t, 3), end=round(t + step * 0.8, 3)))
        t += step
    return out


def test_captions_break_at_sentences_pauses_and_limits() -> None:
    words = words_of("Hello there. This is a rather long line of words that keeps going on")
    words.append(WordTiming(word="later", start=10.0, end=10.4))
    caps = build_captions(words, max_chars=32, max_words=6)
    texts = [c.text for c in caps]
    assert texts[0] == "Hello there."
    assert texts[-1] == "later"  # a long pause starts a new caption
    assert all(len(c.words) <= 6 and len(c.text) <= 32 for c in caps)
    assert [w.word for c in caps for w in c.words] == [w.word for w in words]
    for a, b in itertools.pairwise(caps):
        assert a.start < a.end <= b.start
    assert [c.index for c in caps] == list(range(1, len(caps) + 1))


def test_srt_format() -> None:
    caps = [
        Caption(1, 0.0, 1.5, tuple(words_of("Good evening"))),
        Caption(2, 3661.2345, 3662.0, (WordTiming(word="late", start=3661.3, end=3661.9),)),
    ]
    srt = to_srt(caps)
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,500\nGood evening\n\n2\n")
    assert "01:01:01,234 --> 01:01:02,000\nlate\n" in srt
    assert re.fullmatch(r"(\d+\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n.+\n\n?)+", srt)


def test_vtt_format() -> None:
    vtt = to_vtt(build_captions(words_of("One two three. Four five")))
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> ")
    cues = re.findall(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n(.+)", vtt)
    assert [c[2] for c in cues] == ["One two three.", "Four five"]
    assert "," not in "".join(c[0] + c[1] for c in cues)


def test_very_long_word_wraps_inside_the_width() -> None:
    font = caption_font(40)
    word = "Donaudampfschifffahrtsgesellschaftskapitänswitwe"
    lines = wrap_words(["The", word, "spoke"], font, 300)
    assert len(lines) > 2
    for line in lines:
        assert (
            sum(font.getlength(t) for _, t in line) + font.getlength(" ") * (len(line) - 1) <= 300
        )
    pieces = [t for line in lines for i, t in line if i == 1]
    assert "".join(p.rstrip("-") for p in pieces) == word


@pytest.mark.parametrize("size", [(360, 640), (640, 360), (400, 400)])
def test_caption_box_sits_in_the_lower_band_inside_the_frame(size: tuple[int, int]) -> None:
    w, h = size
    painter = CaptionPainter(w, h)
    cap = build_captions(words_of("Internationalisation supercalifragilisticexpialidocious news"))[
        0
    ]
    img, x, y = painter.render(cap, 0)
    assert x >= 0.05 * w and x + img.shape[1] <= 0.95 * w
    assert y >= 0.7 * h and y + img.shape[0] <= h
    other, _, _ = painter.render(cap, 1)
    assert not np.array_equal(img, other)  # the highlighted word changes colour
    assert painter.render(cap, 0)[0] is img  # cached


def test_compose_final_burns_captions_and_normalises_audio(tmp_path: Path) -> None:
    w, h = 360, 640
    t = np.arange(int(2.0 * SR)) / SR
    audio = tmp_path / "speech.wav"
    fade = np.clip(np.minimum(t, t[-1] - t) / 0.05, 0, 1)  # speech starts and ends softly
    sf.write(audio, (0.1 * fade * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR)
    avatar = tmp_path / "avatar.mp4"
    with FrameWriter(avatar, (w, h), 25, audio=audio, preset="ultrafast") as writer:
        for _ in range(50):
            writer.write(np.full((h, w, 3), 128, np.uint8))
    out = tmp_path / "final.mp4"
    info = compose_final(
        avatar,
        audio,
        words_of("Breaking news from the town hall", 0.1),
        out,
        title="Town hall votes",
        preset="ultrafast",
    )
    assert (info.width, info.height, info.fps) == (w, h, 25)
    assert info.duration_s == pytest.approx(2.0, abs=0.1)
    assert info.size_bytes == out.stat().st_size > 0
    probed = probe(out)
    assert probed.video_codec == "h264" and probed.audio_codec == "aac"
    frame = extract_frame(out, 0.5).astype(int)
    assert np.abs(frame[int(0.78 * h) :, :] - 128).max() > 100  # caption text burnt in
    assert np.abs(frame[: int(0.15 * h), :] - 128).max() > 100  # title bar
    assert np.abs(frame[int(0.3 * h) : int(0.6 * h)] - 128).max() < 12  # middle untouched
    loud = measure_loudness(read_audio(out, 48000), 48000)
    assert loud.integrated_lufs == pytest.approx(-16.0, abs=0.5)
    assert loud.true_peak_dbtp <= -1.0


def _speech(path: Path, seconds: float = 2.0, amplitude: float = 0.1) -> Path:
    t = np.arange(int(seconds * SR)) / SR
    syllables = np.clip(np.sin(2 * np.pi * 3 * t), 0, 1)  # speech-like bursts and gaps
    sf.write(path, (amplitude * syllables * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR)
    return path


def _grey_avatar(path: Path, audio: Path, size: tuple[int, int] = (160, 288)) -> Path:
    w, h = size
    with FrameWriter(path, size, 25, audio=audio, preset="ultrafast") as writer:
        for _ in range(50):
            writer.write(np.full((h, w, 3), 128, np.uint8))
    return path


@pytest.mark.parametrize("amplitude", [0.01, 0.9])
def test_loudness_is_normalised_from_quiet_or_loud_speech(tmp_path: Path, amplitude: float) -> None:
    audio = _speech(tmp_path / "speech.wav", amplitude=amplitude)
    out = tmp_path / "final.mp4"
    compose_final(
        _grey_avatar(tmp_path / "a.mp4", audio), audio, words_of("one two"), out, preset="ultrafast"
    )
    loud = measure_loudness(read_audio(out, 48000), 48000)
    assert loud.integrated_lufs == pytest.approx(-16.0, abs=0.5)
    assert loud.true_peak_dbtp <= -1.0
    # an independent meter agrees (pyloudnorm, BS.1770-4)
    pyln = pytest.importorskip("pyloudnorm")
    other = pyln.Meter(48000).integrated_loudness(read_audio(out, 48000).astype(np.float64))
    assert other == pytest.approx(loud.integrated_lufs, abs=0.2)


def test_caption_styles_and_copying_a_captioned_avatar(tmp_path: Path) -> None:
    audio = _speech(tmp_path / "speech.wav")
    avatar = _grey_avatar(tmp_path / "a.mp4", audio)
    words = words_of("Breaking news tonight", 0.1)
    lower = slice(int(0.75 * 288), None)
    frames = {}
    for style in ("highlight", "plain", "none"):
        out = tmp_path / f"{style}.mp4"
        compose_final(avatar, audio, words, out, preset="ultrafast", caption_style=style)
        frames[style] = extract_frame(out, 0.5)[lower].astype(int)
    assert np.abs(frames["none"] - 128).max() < 12
    assert np.abs(frames["plain"] - 128).max() > 100
    yellow = (frames["highlight"][..., 2] < 90) & (frames["highlight"][..., 0] > 200)
    assert (
        yellow.sum() > 10
        and not ((frames["plain"][..., 2] < 90) & (frames["plain"][..., 0] > 200)).any()
    )
    with pytest.raises(InputError, match="caption style 'fancy'"):
        compose_final(avatar, audio, words, tmp_path / "x.mp4", caption_style="fancy")
    # an avatar that already carries its captions: the picture is copied, the speech normalised
    copied = tmp_path / "copied.mp4"
    info = compose_final(avatar, audio, words, copied, burn_captions=False)
    assert info.duration_s == pytest.approx(2.0, abs=0.1)
    assert np.abs(extract_frame(copied, 0.5).astype(int) - 128).max() < 12
    assert measure_loudness(read_audio(copied, 48000), 48000).integrated_lufs == pytest.approx(
        -16, abs=0.5
    )


def test_silent_or_empty_speech_is_refused_and_nothing_written(tmp_path: Path) -> None:
    audio = _speech(tmp_path / "speech.wav")
    avatar = _grey_avatar(tmp_path / "a.mp4", audio)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SR, np.float32), SR)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    out_dir = tmp_path / "out"
    for bad, message in ((silent, r"silent\.wav.*is silent"), (empty, r"empty\.wav.*0 bytes")):
        with pytest.raises(InputError, match=message):
            compose_final(avatar, bad, words_of("hi"), out_dir / "final.mp4")
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


@pytest.mark.parametrize("aspect", ["9:16", "16:9", "1:1"])
@pytest.mark.parametrize("language", ["en", "de", "ar", "zh", "hi"])
def test_the_ai_label_sits_above_the_title_bar_and_the_logo(aspect: str, language: str) -> None:
    """Top right, in the strip above the title bar and a top logo (both 4.5 % down): it can
    cover neither, nor the captions, the lower third or a scene title further down."""
    from novaavatar.domain import ASPECT_SIZES
    from tasks.compose.label import render_ai_label
    from tasks.compose.video import render_title

    w, h = ASPECT_SIZES[aspect]
    img, x, y = render_ai_label(language, w, h)
    lh, lw = img.shape[:2]
    assert y >= 0 and y + lh <= round(0.045 * h) and x >= w // 2 and x + lw <= w
    assert lh >= 0.025 * min(w, h)  # big enough to read on a phone
    title = render_title("A headline long enough to take two whole lines " * 2, w, h)
    assert title is not None and title[2] >= y + lh


def test_every_frame_and_both_cards_carry_the_ai_label(tmp_path: Path) -> None:
    """The label is in the composed picture from the intro card's first frame to the outro's
    last, in the video's language."""
    from novaavatar.media import probe
    from novaavatar.templates import Brand, resolve
    from tasks.compose.label import render_ai_label

    audio = _speech(tmp_path / "speech.wav", seconds=2.0)
    avatar = _grey_avatar(tmp_path / "avatar.mp4", audio, size=(360, 640))
    out = tmp_path / "final.mp4"
    brand = Brand(template=resolve("news"), source="Wire", date="1 Dec", title="Title")
    info = compose_final(
        avatar, audio, words_of("hola a todos"), out, brand=brand, language="es", preset="ultrafast"
    )
    assert info.intro_s > 0 and info.outro_s > 0
    img, x, y = render_ai_label("es", 360, 640)
    text = (img[..., 3] > 250) & (img[..., :3].mean(axis=2) > 200)
    pill = (img[..., 3] > 120) & (img[..., 3] < 200)
    d = probe(out).duration_s
    for t in (0.0, info.intro_s / 2, info.intro_s + 1.0, d - info.outro_s / 2):
        corner = extract_frame(out, t)[y : y + img.shape[0], x : x + img.shape[1]].mean(axis=2)
        assert corner[text].mean() > corner[pill].mean() + 80, t
