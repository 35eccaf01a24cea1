"""ffmpeg helpers against real files: probe, frames, audio, and the MP4 writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from novaavatar.errors import InputError
from novaavatar.media import (
    MAX_AUDIO_S,
    FrameWriter,
    extract_frame,
    ffmpeg_exe,
    ffmpeg_into,
    iter_frames,
    measure_loudness,
    normalise_loudness,
    probe,
    read_audio,
    rgb_to_i420,
)

SR = 16000


@pytest.fixture
def tone(tmp_path: Path) -> Path:
    t = np.arange(int(2.0 * SR)) / SR
    path = tmp_path / "tone.wav"
    sf.write(path, (0.25 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), SR)
    return path


def _solid_video(path: Path, audio: Path | None, size: tuple[int, int] = (160, 96)) -> Path:
    w, h = size
    with FrameWriter(path, size, 25, audio=audio, preset="ultrafast") as writer:
        for i in range(50):
            colour = (220, 30, 30) if i < 25 else (30, 30, 220)
            writer.write(np.full((h, w, 3), colour, dtype=np.uint8))
    return path


def test_ffmpeg_exe_is_an_executable() -> None:
    assert Path(ffmpeg_exe()).is_file()


def test_frame_writer_makes_h264_aac_mp4(tmp_path: Path, tone: Path) -> None:
    out = _solid_video(tmp_path / "out" / "v.mp4", tone)
    info = probe(out)
    assert (info.width, info.height) == (160, 96)
    assert info.has_video and info.has_audio
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.pix_fmt == "yuv420p"
    assert info.fps == pytest.approx(25)
    assert info.duration_s == pytest.approx(2.0, abs=0.1)
    assert [p.name for p in out.parent.iterdir()] == ["v.mp4"]  # no temp file left behind


def test_extract_frame_returns_rgb_at_time(tmp_path: Path) -> None:
    out = _solid_video(tmp_path / "v.mp4", None)
    first, last = extract_frame(out, 0.2), extract_frame(out, 1.6)
    assert first.shape == (96, 160, 3) and first.dtype == np.uint8
    assert first[..., 0].mean() > 180 and first[..., 2].mean() < 70
    assert last[..., 2].mean() > 180 and last[..., 0].mean() < 70
    with pytest.raises(InputError, match="no frame"):
        extract_frame(out, 30.0)


def test_read_audio_decodes_mono_float(tone: Path, tmp_path: Path) -> None:
    samples = read_audio(tone)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert samples.size == pytest.approx(2 * SR, abs=50)
    assert np.abs(samples).max() == pytest.approx(0.25, abs=0.02)
    # the same audio from inside an MP4, resampled
    mp4 = _solid_video(tmp_path / "v.mp4", tone)
    assert read_audio(mp4, 8000).size == pytest.approx(2 * 8000, abs=1200)


def test_probe_audio_only(tone: Path) -> None:
    info = probe(tone)
    assert info.has_audio and not info.has_video
    assert info.duration_s == pytest.approx(2.0, abs=0.02)


def test_probe_rejects_unreadable_files(tmp_path: Path) -> None:
    junk = tmp_path / "notes.mp4"
    junk.write_text("this is not a video")
    with pytest.raises(InputError, match=r"notes\.mp4"):
        probe(junk)
    with pytest.raises(InputError, match=r"missing\.wav"):
        probe(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.wav.*0 bytes"):
        read_audio(empty)


def test_frame_writer_leaves_nothing_when_interrupted(tmp_path: Path) -> None:
    out = tmp_path / "v.mp4"
    with pytest.raises(KeyboardInterrupt), FrameWriter(out, (64, 64), 25) as writer:
        writer.write(np.zeros((64, 64, 3), np.uint8))
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_ffmpeg_into_replaces_whole_or_keeps_the_old_file(tmp_path: Path, tone: Path) -> None:
    src = _solid_video(tmp_path / "src.mp4", tone)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"the old file")

    def failed(code: int, err: str) -> Exception:
        return InputError(f"exit {code}: {err}")

    with pytest.raises(InputError, match=r"exit [1-9].*no-such-codec"):
        ffmpeg_into(out, ["-i", str(src), "-c:v", "no-such-codec", "-f", "mp4"], failed)
    assert out.read_bytes() == b"the old file"  # untouched by the failed run
    ffmpeg_into(out, ["-i", str(src), "-c", "copy", "-f", "mp4"], failed)
    assert probe(out).has_video and probe(out).duration_s == pytest.approx(2.0, abs=0.1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "src.mp4", "tone.wav"]


def test_frame_writer_checks_frames_and_size(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        FrameWriter(tmp_path / "v.mp4", (63, 64), 25)
    with (
        pytest.raises(ValueError, match="expected"),
        FrameWriter(tmp_path / "v.mp4", (64, 64), 25) as w,
    ):
        w.write(np.zeros((32, 64, 3), np.uint8))
    assert not (tmp_path / "v.mp4").exists()


def test_frames_travel_as_i420_with_true_colours(tmp_path: Path) -> None:
    colours = [
        (220, 30, 30),
        (30, 200, 60),
        (20, 40, 230),
        (250, 250, 250),
        (5, 5, 5),
        (128, 90, 60),
    ]
    out = tmp_path / "c.mp4"
    with FrameWriter(out, (64, 64), 25, preset="ultrafast", crf=10) as writer:
        for c in colours:
            writer.write(np.full((64, 64, 3), c, np.uint8))
    decoded = list(iter_frames(out))
    assert len(decoded) == len(colours)
    for frame, c in zip(decoded, colours, strict=True):
        assert np.abs(frame[32, 32].astype(int) - c).max() <= 4
    gray = next(iter(iter_frames(out, width=32, gray=True)))
    assert gray.shape == (32, 32)
    assert rgb_to_i420(np.zeros((4, 6, 3), np.uint8)).shape == (6, 6)
    with FrameWriter(tmp_path / "d.mp4", (64, 64), 25) as writer:
        with pytest.raises(ValueError, match="I420"):
            writer.write_i420(np.zeros((64, 64), np.uint8))
        writer.write_i420(rgb_to_i420(np.zeros((64, 64, 3), np.uint8)))


def test_loudness_of_a_reference_sine() -> None:
    # BS.1770: a 997 Hz sine of peak -20 dBFS has mean square -23.01 dB; K-weighting adds
    # +0.69 dB there, cancelling the -0.691 offset: -23.0 LUFS; its true peak is -20 dBTP
    rate = 48000
    t = np.arange(10 * rate) / rate
    loud = measure_loudness(0.1 * np.sin(2 * np.pi * 997 * t), rate)
    assert loud.integrated_lufs == pytest.approx(-23.0, abs=0.05)
    assert loud.true_peak_dbtp == pytest.approx(-20.0, abs=0.1)
    assert measure_loudness(np.zeros(rate), rate).integrated_lufs == -np.inf
    # the normaliser hits -16 LUFS and holds true peaks under its ceiling, even for spiky input
    spiky = 0.05 * np.sin(2 * np.pi * 220 * t)
    spiky[::4800] = 0.9
    level = normalise_loudness(spiky.astype(np.float32), rate, -16.0, -1.5)
    after = measure_loudness(level, rate)
    assert after.integrated_lufs == pytest.approx(-16.0, abs=0.2)
    assert after.true_peak_dbtp <= -1.45


def test_read_audio_refuses_audio_over_the_limit(tone: Path) -> None:
    with pytest.raises(InputError, match=r"tone\.wav.*lasts 2 s; the limit is 1 s"):
        read_audio(tone, max_seconds=1.0)
    assert read_audio(tone, max_seconds=MAX_AUDIO_S).size == pytest.approx(2 * SR, abs=50)
