"""The avatar stage with AVATAR_BACKEND=omniavatar: tiny published-layout weights, and the
lite fallback when the model fails."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from test_omniavatar import write_published_layout

from novaavatar.domain import GeneratedAudio, GeneratedImage, ProduceOptions, RenderConfig
from novaavatar.media import iter_frames, probe
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


# --- the reference frame: the presenter on the background, with a face the model can animate --

OUT = (144, 256)  # a 9:16 video
# skin colours: test_avatar_lite.synthetic_face's, the drawn host's and the drawn guest's
SKINS = {"photo": (205, 160, 130), "host": (233, 184, 150), "guest": (196, 142, 106)}
# every presenter source with the single format, and each other format with a photo and
# without one (all twelve pairs would take minutes of CI on two cores)
CASES = [
    (fmt, source)
    for fmt in ("single", "conversation", "explainer")
    for source in ("portrait", "PORTRAIT_PATH", "template", "none")
]


def _scene_inputs(store, tmp_path: Path, fmt: str) -> tuple[GeneratedImage, GeneratedAudio]:
    from novaavatar.domain import SpeechSegment

    bg = tmp_path / "bg.png"
    y, x = np.mgrid[0 : OUT[1], 0 : OUT[0]]
    Image.fromarray(np.stack([30 + x // 3, 50 + y // 6, 90 + 0 * x], -1).astype(np.uint8)).save(bg)
    t = np.arange(int(16000 * 0.32)) / 16000  # 8 frames: one chunk
    wav = tmp_path / "s.wav"
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000)
    key = store.put_file("videos/vid-omni02/bg.png", bg)
    image = GeneratedImage(key=key, width=OUT[0], height=OUT[1], seed=3)
    segments: tuple[SpeechSegment, ...] = ()
    if fmt == "conversation":
        segments = (
            SpeechSegment(start=0, end=0.16),
            SpeechSegment(start=0.16, end=0.32, speaker="guest"),
        )
    audio = GeneratedAudio(
        key=store.put_file("videos/vid-omni02/s.wav", wav), duration_s=0.32, segments=segments
    )
    return image, audio


def _presenter_options(source: str, fmt: str, store, tmp_path: Path, monkeypatch) -> ProduceOptions:  # type: ignore[no-untyped-def]
    from test_avatar_lite import synthetic_face

    from novaavatar import templates

    photo = tmp_path / "face.png"
    synthetic_face((640, 800), scale=0.4).save(photo)  # a head-and-shoulders photo
    explicit: dict = {"format": fmt, "aspect": "9:16", "template": "none"}
    if fmt == "explainer":
        explicit |= {"duration_s": 60, "layout": "pip"}  # the explainer template's window
    if source == "portrait":  # uploaded with the run
        explicit["portrait_key"] = store.put_file("uploads/face.png", photo)
    elif source == "PORTRAIT_PATH":  # every door's default presenter, with its consent
        monkeypatch.setenv("PORTRAIT_PATH", str(photo))
        monkeypatch.setenv("PORTRAIT_CONSENT_BY", "Test newsroom")
        get_settings.cache_clear()
    elif source == "template":  # a brand template whose presenter is the photo
        key = store.put_file("uploads/anchor.png", photo)
        toml = f'name = "anchor"\nversion = 1\nportrait_key = "{key}"\n'
        templates.save(store, toml.encode(), "anchor.toml", consent_by="Test newsroom")
        explicit["template"] = "anchor"
    options = templates.build_options(explicit, store, get_settings())
    if source == "template":
        assert options.portrait_key == key and options.template == "anchor@1"
    return options


@pytest.fixture
def handed_to_model(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """The reference frames the OmniAvatar pipeline is called with (the real call runs)."""
    from OmniAvatar.pipeline import OmniAvatarPipeline

    seen: list[np.ndarray] = []
    real = OmniAvatarPipeline.__call__

    def recording(self, image, *args, **kw):  # type: ignore[no-untyped-def]
        seen.append(np.asarray(image).copy())
        return real(self, image, *args, **kw)

    monkeypatch.setattr(OmniAvatarPipeline, "__call__", recording)
    return seen


@pytest.mark.parametrize(("fmt", "source"), CASES)
def test_reference_frame_holds_the_presenter_face(
    fmt: str,
    source: str,
    omni_env: Path,
    store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    handed_to_model: list[np.ndarray],
) -> None:
    from tasks.common import read_stage_records
    from tasks.render.landmarks import find_face as locate_face
    from tasks.stages import render_avatar

    options = _presenter_options(source, fmt, store, tmp_path, monkeypatch)
    image, audio = _scene_inputs(store, tmp_path, fmt)
    video = render_avatar.fn(image, audio, options, "vid-omni02", RenderConfig(store_uri=store.uri))
    assert video.provider == "omniavatar"
    assert (video.width, video.height) == OUT
    record = read_stage_records(store, "vid-omni02")["avatar"]
    assert record.provider == "omniavatar" and not record.warnings
    kept = [k for k in record.keys if "/reference" in k]
    assert len(handed_to_model) == len(kept) == (2 if fmt == "conversation" else 1)
    for speaker, ref, key in zip(("host", "guest"), handed_to_model, kept, strict=False):
        # the picture the model got is the one kept for review, at the published 480p size
        assert np.array_equal(ref, np.asarray(Image.open(store.materialize(key)).convert("RGB")))
        h, w = ref.shape[:2]
        assert max(h, w) == 720 and (w, h) in {(400, 720), (720, 720), (720, 400)}
        x, y, fw, fh = locate_face(ref, "reference").box
        assert 0.4 * w < x + fw / 2 < 0.6 * w, "the face is centred"
        assert 0.2 * h < y + fh / 2 < 0.65 * h, "the face is in the upper middle"
        assert 0.15 < fw / min(w, h) < 0.6, "the face is a head-and-shoulders size"
        # whose face: the photo's skin, or the drawn presenter's
        middle = ref[int(y + 0.3 * fh) : int(y + 0.7 * fh), int(x + 0.3 * fw) : int(x + 0.7 * fw)]
        skin = np.median(middle.reshape(-1, 3), axis=0)
        nearest = min(SKINS, key=lambda k: np.abs(skin - SKINS[k]).sum())
        assert nearest == ("photo" if source != "none" and speaker == "host" else speaker), skin
    if fmt == "explainer":  # pip: the model animated the window only; the rest is background
        frame = next(iter_frames(store.materialize(video.key)))
        corner = np.asarray(Image.open(tmp_path / "bg.png").convert("RGB"))[4:20, 4:20]
        assert np.abs(frame[4:20, 4:20].astype(int) - corner).mean() < 12


def test_no_face_in_the_reference_falls_back_to_lite_with_a_warning(
    omni_env: Path, store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks.avatar import reference
    from tasks.common import read_stage_records
    from tasks.stages import render_avatar

    monkeypatch.setattr(reference, "find_face", lambda image: None)  # a detector that sees none
    image, audio = _scene_inputs(store, tmp_path, "single")
    options = ProduceOptions(aspect="9:16")
    video = render_avatar.fn(image, audio, options, "vid-omni02", RenderConfig(store_uri=store.uri))
    assert video.provider == "lite"
    record = read_stage_records(store, "vid-omni02")["avatar"]
    assert record.provider == "lite"
    assert (
        len(record.warnings) == 1 and "no face found in the drawn presenter" in record.warnings[0]
    )
    assert record.warnings[0].startswith("omniavatar failed: ")
    assert record.warnings[0].endswith("; the lite renderer made the video instead")


def test_portrait_path_must_be_a_file(
    omni_env: Path, store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from novaavatar import templates
    from novaavatar.errors import InputError

    monkeypatch.setenv("PORTRAIT_PATH", str(tmp_path / "missing.jpg"))
    get_settings.cache_clear()
    with pytest.raises(InputError, match=r"PORTRAIT_PATH=.*missing\.jpg.* is not a file"):
        templates.build_options({}, store, get_settings())


def test_prompt_describes_a_person_speaking_in_the_scene() -> None:
    from tasks.avatar.reference import speaking_prompt

    prompt = speaking_prompt("A calm harbour at dawn, soft light; no people, no text.")
    assert prompt.startswith("A news presenter speaks to the camera")
    assert "harbour at dawn" in prompt and "people" not in prompt


@pytest.mark.usefixtures("prefect_harness")
def test_a_fallback_is_a_warning_in_the_run_logs_and_an_artifact(
    omni_env: Path, store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterKey,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    from tasks.avatar import reference
    from tasks.stages import render_avatar

    monkeypatch.setattr(reference, "find_face", lambda image: None)
    image, audio = _inputs(store, tmp_path)
    cfg = RenderConfig(store_uri=store.uri)

    @flow(persist_result=False)
    def avatar_only() -> str:
        from prefect.runtime import flow_run

        render_avatar.with_options(cache_policy=None, persist_result=False)(
            image, audio, ProduceOptions(aspect="1:1"), "vid-omni01", cfg
        )
        return str(flow_run.id)

    run_id = avatar_only()
    deadline = time.monotonic() + 20  # run logs reach the API in batches, a moment later
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["avatar-warnings"]))
        )
        while True:
            logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
            if any(log.level == 30 for log in logs) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert artifacts and "the lite renderer made the video instead" in str(artifacts[-1].data)
    warned = [log.message for log in logs if log.level == 30]
    assert any("no face found" in m and "lite renderer" in m for m in warned), warned
    # the lite renderer that took over is a task run of its own, tagged with its provider
    deadline = time.monotonic() + 30  # task run states reach the server as events, later
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
            )
            fallbacks = [r for r in runs if r.name == "avatar by lite (fallback)"]
            done = fallbacks and all(r.state is not None and r.state.is_final() for r in fallbacks)
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    (fallback,) = fallbacks
    assert set(fallback.tags) == {"provider:lite", "fallback"} and fallback.state.is_completed()


def test_the_stage_on_two_ranks_makes_the_single_process_video(
    omni_env: Path, store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OMNIAVATAR_GPUS=2 from the avatar stage: the worker starts torchrun (gloo on CPU, the
    same code as NCCL on GPUs), the DiT runs split by tokens and sharded, and the video it
    writes matches the one-process video of the same take frame for frame (within H.264
    rounding)."""
    from tasks.avatar import omniavatar
    from tasks.stages import render_avatar

    image, audio = _inputs(store, tmp_path)
    cfg = RenderConfig(store_uri=store.uri)
    monkeypatch.setenv("OMNIAVATAR_KEEP_LOADED", "false")
    get_settings.cache_clear()
    one = render_avatar.fn(image, audio, ProduceOptions(aspect="1:1"), "vid-omni01", cfg)
    single = np.stack([f.copy() for f in iter_frames(store.materialize(one.key))])

    monkeypatch.setenv("OMNIAVATAR_GPUS", "2")
    get_settings.cache_clear()
    omniavatar.release_pipeline()
    two = render_avatar.fn(image, audio, ProduceOptions(aspect="1:1"), "vid-omni01", cfg)
    assert two.provider == "omniavatar", two
    ranks = np.stack([f.copy() for f in iter_frames(store.materialize(two.key))])
    assert ranks.shape == single.shape
    assert np.abs(ranks.astype(np.int16) - single.astype(np.int16)).mean() < 1.0
