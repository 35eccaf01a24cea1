"""Manual creation: uploads are checked by content; portrait + audio or text → review queue."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from novaavatar import manifests
from novaavatar.domain import ProduceOptions, ReviewState
from novaavatar.errors import InputError
from novaavatar.uploads import store_audio, store_portrait


def _wav(seconds: float, amplitude: float = 0.3) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    # a vowel-like tone with a syllable rhythm
    sig = amplitude * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    buf = io.BytesIO()
    sf.write(buf, sig.astype(np.float32), 16000, format="WAV")
    return buf.getvalue()


def _png(size: tuple[int, int] = (256, 256)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 160, 140)).save(buf, format="PNG")
    return buf.getvalue()


def test_uploads_are_checked_by_content(store) -> None:
    key = store_portrait(store, _png(), "me.png")
    assert key.startswith("uploads/") and key.endswith(".png") and store.exists(key)
    assert store_portrait(store, _png(), "again.png") == key  # same content, same key
    with pytest.raises(InputError, match="'cv.pdf' is not a readable image"):
        store_portrait(store, b"%PDF-1.4 not a picture", "cv.pdf")
    with pytest.raises(InputError, match="'tiny.png' is 8x8"):
        store_portrait(store, _png((8, 8)), "tiny.png")
    with pytest.raises(InputError, match="'empty.jpg' is empty"):
        store_portrait(store, b"", "empty.jpg")
    assert store_audio(store, _wav(1.0), "voice.wav").startswith("uploads/")
    with pytest.raises(InputError, match="'voice.mp3' is not a readable audio file"):
        store_audio(store, b"ID3 but not really an mp3", "voice.mp3")


def test_too_long_audio_names_the_limit(store, tmp_path: Path) -> None:
    # 11 minutes of 8 kHz silence is small on disk but over the limit
    buf = io.BytesIO()
    sf.write(buf, np.zeros(8000 * 660, np.int16), 8000, format="WAV", subtype="PCM_16")
    with pytest.raises(InputError, match="lasts 11.0 min: the limit is 10 min"):
        store_audio(store, buf.getvalue(), "long.wav")


@pytest.mark.usefixtures("prefect_harness")
def test_manual_create_from_audio_and_from_text(store) -> None:
    from flows.manual import manual_create
    from novaavatar.media import probe

    audio_key = store_audio(store, _wav(3.0), "voice.wav")
    vid = manual_create(
        options=ProduceOptions(aspect="16:9"), title="Team update", audio_key=audio_key
    )
    m, _ = manifests.load(store, vid)
    assert m.state is ReviewState.PENDING and m.final is not None
    assert m.stages["speech"].provider == "upload" and m.stages["script"].provider == "manual"
    info = probe(store.materialize(m.final.key))
    assert abs(info.duration_s - 3.0) < 0.25 and info.has_audio

    vid2 = manual_create(
        options=ProduceOptions(aspect="16:9"),
        title="Typed",
        text="Hello from the newsroom. Here is a short typed message.",
    )
    m2, _ = manifests.load(store, vid2)
    assert m2.stages["speech"].provider == "espeak-ng" and m2.final is not None
    assert "-->" in store.get_bytes(m2.final.srt_key).decode()


@pytest.mark.usefixtures("prefect_harness")
def test_manual_create_refuses_silent_audio_and_missing_input(store) -> None:
    from flows.manual import manual_create

    silent = store_audio(store, _wav(2.0, amplitude=0.0), "silence.wav")
    state = manual_create(
        options=ProduceOptions(aspect="1:1"), title="Quiet", audio_key=silent, return_state=True
    )
    assert state.is_failed()
    assert "is silent" in str(state.result(raise_on_failure=False))
    with pytest.raises(InputError, match="give either an uploaded audio"):
        manual_create(title="Nothing")
