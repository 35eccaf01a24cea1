"""The overlapped frame writer: frames reach ffmpeg in order, errors reach the caller."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from novaavatar.media import FrameWriter, iter_frames
from tasks.render.pipe import OverlappedWriter


def test_frames_arrive_in_order_and_buffers_are_reused(tmp_path: Path) -> None:
    out = tmp_path / "v.mp4"
    frame = np.full((96, 64), 128, np.uint8)  # grey: neutral chroma
    with FrameWriter(out, (64, 64), 25) as writer, OverlappedWriter(writer, depth=2) as feed:
        for i in range(10):
            frame[:64] = 30 + 15 * i  # changed at once after put: the copy must already be taken
            feed.put(frame)
    assert writer.frames == 10
    shades = [float(f.mean()) for f in iter_frames(out)]
    assert len(shades) == 10
    assert np.all(np.diff(shades) > 5)  # each frame as it was put, in order


def test_an_encoder_error_reaches_the_caller_and_nothing_is_left(tmp_path: Path) -> None:
    out = tmp_path / "v.mp4"
    with (
        pytest.raises(RuntimeError, match="ffmpeg stopped"),
        FrameWriter(out, (64, 64), 25) as writer,
        OverlappedWriter(writer) as feed,
    ):
        assert writer._proc is not None
        writer._proc.kill()  # the encoder dies mid-video
        writer._proc.wait()
        for _ in range(50):
            feed.put(np.zeros((96, 64), np.uint8))
    assert not out.exists()
