"""The avatar stage with AVATAR_BACKEND=omniavatar: tiny published-layout weights, and the
lite fallback when the model fails."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from test_omniavatar import write_published_layout

from novaavatar.domain import GeneratedAudio, GeneratedImage, ProduceOptions, RenderConfig
from novaavatar.media import probe
from novaavatar.settings import get_settings
from tasks.avatar.omniavatar import generation_size, loaded_pipeline, omniavatar_available


def test_generation_size_follows_the_output_aspect() -> None:
    assert generation_size((720, 1280), 720) == (720, 400)  # (height, width) for 9:16
    assert generation_size((1280, 720), 720) == (400, 720)
    assert generation_size((1080, 1080), 64) == (64, 64)


def _inputs(store, tmp_path: Path) -> tuple[GeneratedImage, GeneratedAudio]:
    bg = tmp_path / "bg.png"
    Image.new("RGB", (128, 128), (40, 60, 90)).save(bg)
    t = np.arange(int(16000 * 0.6)) / 16000
    wav = tmp_path / "s.wav"
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000)
    image = GeneratedImage(
        key=store.put_file("videos/vid-omni01/bg.png", bg), width=128, height=128
    )
    audio = GeneratedAudio(key=store.put_file("videos/vid-omni01/s.wav", wav), duration_s=0.6)
    return image, audio


@pytest.fixture
def omni_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, storage: Path) -> Path:
    root = write_published_layout(tmp_path / "pretrained_models")
    for k, v in {
        "AVATAR_BACKEND": "omniavatar",
        "OMNIAVATAR_MODEL_PATH": str(root),
        "OMNIAVATAR_MAX_HW": "64",
        "NUM_STEPS": "10",
    }.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    return root


def test_avatar_stage_renders_with_omniavatar(
    omni_env: Path, store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks.stages import render_avatar

    assert omniavatar_available(get_settings())
    image, audio = _inputs(store, tmp_path)
    cfg = RenderConfig(store_uri=store.uri)
    video = render_avatar.fn(image, audio, ProduceOptions(aspect="1:1"), "vid-omni01", cfg)
    assert video.provider == "omniavatar"
    info = probe(store.materialize(video.key))
    assert (info.width, info.height) == (128, 128) and info.has_audio
    assert abs(info.duration_s - 0.6) < 0.15
    # the worker keeps the model, with every component in host memory between jobs (offload)
    pipe = loaded_pipeline()
    assert pipe is not None and set(pipe.residency.values()) == {"host"}

    # OMNIAVATAR_KEEP_LOADED=false frees it after the video; TeaCache settings reach the model
    monkeypatch.setenv("OMNIAVATAR_KEEP_LOADED", "false")
    monkeypatch.setenv("OMNIAVATAR_TEA_CACHE_COEFFICIENTS", "2.0,0.0")
    monkeypatch.setenv("TEA_CACHE_THRESH", "0.1")
    get_settings.cache_clear()
    again = render_avatar.fn(image, audio, ProduceOptions(aspect="1:1"), "vid-omni01", cfg, 1)
    assert again.provider == "omniavatar" and loaded_pipeline() is None
    assert set(pipe.residency.values()) == {"host"}


def test_a_failing_model_falls_back_to_lite(omni_env: Path, store, tmp_path: Path) -> None:
    from tasks.common import read_stage_records
    from tasks.stages import render_avatar

    (omni_env / "OmniAvatar-1.3B" / "pytorch_model.pt").write_bytes(b"corrupt")
    from tasks.avatar import omniavatar

    omniavatar.release_pipeline()
    image, audio = _inputs(store, tmp_path)
    cfg = RenderConfig(store_uri=store.uri)
    video = render_avatar.fn(image, audio, ProduceOptions(aspect="1:1"), "vid-omni01", cfg)
    assert video.provider == "lite"
    record = read_stage_records(store, "vid-omni01")["avatar"]
    assert record.provider == "lite" and "omniavatar failed" in record.detail
