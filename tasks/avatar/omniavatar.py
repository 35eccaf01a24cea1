"""OmniAvatar as an avatar provider: the model package driven by the avatar settings.

Used by the avatar stage when ``AVATAR_BACKEND=omniavatar`` and the published weights are
under ``OMNIAVATAR_MODEL_PATH``; any failure falls back to the lite renderer. The model
animates a reference frame with the presenter in it (:mod:`tasks.avatar.reference`). The loaded
pipeline stays in the worker between videos unless ``OMNIAVATAR_KEEP_LOADED=false``; every
job ends by dropping its tensors and returning cached GPU memory.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from novaavatar.domain import SpeechSegment
from novaavatar.media import FrameWriter, read_audio
from novaavatar.settings import Settings
from tasks.avatar.lite import AvatarInfo
from tasks.render.images import cover_array


def omniavatar_available(settings: Settings) -> bool:
    """AVATAR_BACKEND=omniavatar and every published file is under OMNIAVATAR_MODEL_PATH."""
    if settings.avatar_backend != "omniavatar" or settings.omniavatar_model_path is None:
        return False
    from OmniAvatar.loading import CheckpointPaths

    try:
        CheckpointPaths.locate(Path(settings.omniavatar_model_path), settings.use_14b_model)
    except FileNotFoundError:
        return False
    return True


# the worker's loaded pipeline (at most one), by the settings it was loaded with
_loaded: dict[tuple[Any, ...], Any] = {}


def load_pipeline(settings: Settings) -> Any:
    """The worker's pipeline for these settings; loading is the slow part, so it is kept.
    Other settings (model size, dtype, offload, budget, compile) replace it."""
    from OmniAvatar.pipeline import OmniAvatarPipeline

    assert settings.omniavatar_model_path is not None, "check omniavatar_available() first"
    key = (
        str(settings.omniavatar_model_path),
        settings.use_14b_model,
        settings.enable_vram_management,
        settings.omniavatar_dtype,
        settings.omniavatar_resident_params,
        settings.omniavatar_compile,
    )
    if key not in _loaded:
        release_pipeline()  # the old model's memory goes before the new one loads
        _loaded[key] = OmniAvatarPipeline.from_pretrained(
            key[0],
            use_14b=settings.use_14b_model,
            offload=settings.enable_vram_management,
            dtype=settings.omniavatar_dtype,
            resident_params=settings.omniavatar_resident_params,
            compile=settings.omniavatar_compile,
        )
    return _loaded[key]


def loaded_pipeline() -> Any | None:
    """The pipeline this worker holds, if any."""
    return next(iter(_loaded.values()), None)


def release_pipeline() -> None:
    """Drop the worker's pipeline: its device memory back, its host memory to the collector."""
    for pipe in _loaded.values():
        pipe.release()
    _loaded.clear()
    free_memory()


def free_memory() -> None:
    """Collect dropped tensors and return PyTorch's cached CUDA memory to the driver."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def generation_size(size: tuple[int, int], max_hw: int) -> tuple[int, int]:
    """The published 480p bucket (height, width) closest to the output's aspect, scaled so
    its longest side is ``max_hw`` (multiples of 16, as the VAE and patches need)."""
    from OmniAvatar.pipeline import SIZE_BUCKETS

    aspect = size[0] / size[1]
    h, w = min(SIZE_BUCKETS, key=lambda b: abs(b[1] / b[0] - aspect))
    scale = max_hw / max(h, w)
    return (max(16, round(h * scale / 16) * 16), max(16, round(w * scale / 16) * 16))


def render_omniavatar(
    reference: Path | np.ndarray,
    speech: Path,
    out: Path,
    settings: Settings,
    *,
    size: tuple[int, int],
    seed: int,
    prompt: str,
    window: tuple[int, int, int, int] | None = None,
    base: np.ndarray | None = None,
    crf: int = 23,
    preset: str = "veryfast",
    progress: Callable[[int, int], None] | None = None,
) -> AvatarInfo:
    """Animate ``reference`` (a picture file or RGB array) with OmniAvatar to ``speech`` and
    write the video at ``size`` with the speech. With ``window`` (x, y, w, h) the generated
    video fills only that rounded window over ``base`` (the output frame behind it)."""
    target = (window[2], window[3]) if window is not None else size
    if isinstance(reference, Path):
        image = np.asarray(Image.open(reference).convert("RGB"))
    else:
        image = reference
    gen_size = generation_size(target, settings.omniavatar_max_hw)
    audio = read_audio(speech, 16_000, max_seconds=600)
    options: dict[str, Any] = dict(
        num_steps=settings.num_steps,
        guidance_scale=settings.guidance_scale,
        audio_scale=settings.audio_scale,
        tea_cache_thresh=settings.tea_cache_thresh,
        tea_cache_coefficients=list(settings.omniavatar_tea_cache_coefficients) or None,
        seed=seed,
        fps=settings.avatar_fps,
        size=gen_size,
    )
    try:
        if settings.omniavatar_gpus > 1:  # torchrun: one rank per GPU
            frames = generate_on_ranks(settings, image, audio, prompt, options)
            fps = settings.avatar_fps
        else:
            pipe = load_pipeline(settings)
            result = pipe(image, audio, prompt, callback=progress, **options)
            del pipe  # the frames are all that is kept of the job
            frames, fps = result.frames, int(result.fps)
            del result
        del image, audio
        paste = _window_paste(base, window) if window is not None else None
        with FrameWriter(out, size, fps, audio=speech, crf=crf, preset=preset) as writer:
            for frame in frames:
                fitted = cover_array(frame, target)
                writer.write(fitted if paste is None else paste(fitted))
        count = len(frames)
        del frames
    finally:
        if not settings.omniavatar_keep_loaded:
            release_pipeline()
        else:
            free_memory()
    return AvatarInfo(
        width=size[0],
        height=size[1],
        fps=fps,
        duration_s=count / fps,
        frames=count,
    )


def generate_on_ranks(
    settings: Settings, image: np.ndarray, audio: np.ndarray, prompt: str, options: dict[str, Any]
) -> np.ndarray:
    """One video on OMNIAVATAR_GPUS processes started with torchrun (OmniAvatar/distributed.py):
    the DiT's tokens split across the GPUs and its weights sharded; rank 0's frames."""
    import tempfile

    from OmniAvatar.distributed import launch

    assert settings.omniavatar_model_path is not None, "check omniavatar_available() first"
    with tempfile.TemporaryDirectory(prefix="omni-ranks-") as tmp:
        Image.fromarray(image).save(Path(tmp) / "reference.png")
        np.save(Path(tmp) / "speech.npy", audio)
        job = dict(
            root=str(settings.omniavatar_model_path),
            use_14b=settings.use_14b_model,
            dtype=settings.omniavatar_dtype,
            image=str(Path(tmp) / "reference.png"),
            audio=str(Path(tmp) / "speech.npy"),
            prompt=prompt,
            out=str(Path(tmp) / "frames.npy"),
            options={**options, "size": list(options["size"])},
        )
        return launch(job, settings.omniavatar_gpus, Path(tmp), timeout=settings.job_timeout)


def _window_paste(
    base: np.ndarray | None, window: tuple[int, int, int, int]
) -> Callable[[np.ndarray], np.ndarray]:
    """A function putting a window-sized frame into ``base`` behind rounded corners."""
    from PIL import ImageDraw

    assert base is not None, "a windowed render needs the frame behind the window"
    x, y, w, h = window
    shape = Image.new("L", (w, h), 0)
    ImageDraw.Draw(shape).rounded_rectangle(
        (0, 0, w - 1, h - 1), radius=max(4, int(0.04 * w)), fill=255
    )
    alpha = np.asarray(shape, dtype=np.float32)[..., None] / 255
    under = base[y : y + h, x : x + w].astype(np.float32) * (1 - alpha)

    def paste(frame: np.ndarray) -> np.ndarray:
        out = base.copy()
        out[y : y + h, x : x + w] = (frame.astype(np.float32) * alpha + under + 0.5).astype(
            np.uint8
        )
        return out

    return paste


def _portrait_array(path: Path | None) -> np.ndarray | None:
    from tasks.render.photo import load_portrait

    return None if path is None else np.asarray(load_portrait(path), dtype=np.uint8)


def _background_array(path: Path) -> np.ndarray:
    from tasks.render.images import load_image as _load_image

    return np.asarray(
        _load_image(path, "background image", "use a PNG or JPEG image").convert("RGB")
    )


def render_presenter(
    settings: Settings,
    background: Path,
    speech: Path,
    out: Path,
    *,
    size: tuple[int, int],
    layout: str,
    portrait: Path | None,
    seed: int,
    scene: str,
    crf: int = 23,
    preset: str = "veryfast",
    progress: Callable[[int, int], None] | None = None,
    on_reference: Callable[[str, np.ndarray], None] | None = None,
) -> AvatarInfo:
    """One presenter (the portrait, else the drawn one) placed by ``layout`` and animated by
    OmniAvatar. :class:`NoFaceInReference` before the model loads when the reference frame
    shows no face; ``on_reference(name, image)`` sees the picture the model animates."""
    from tasks.avatar.reference import presenter_reference, speaking_prompt
    from tasks.render.images import cover as cover_image
    from tasks.render.photo import framed_base as _framed_base

    bg = _background_array(background)
    ref = presenter_reference(bg, size, layout, _portrait_array(portrait))
    if on_reference is not None:
        on_reference("reference", ref.image)
    base = None
    if ref.window is not None:
        base = _framed_base(cover_image(Image.fromarray(bg), size), ref.window)
    return render_omniavatar(
        ref.image,
        speech,
        out,
        settings,
        size=size,
        seed=seed,
        prompt=speaking_prompt(scene),
        window=ref.window,
        base=base,
        crf=crf,
        preset=preset,
        progress=progress,
    )


def render_conversation(
    settings: Settings,
    background: Path,
    speech: Path,
    segments: Sequence[SpeechSegment],
    out: Path,
    *,
    size: tuple[int, int],
    portraits: Sequence[Path | None],
    seed: int,
    scene: str,
    on_reference: Callable[[str, np.ndarray], None] | None = None,
    **kw: Any,
) -> AvatarInfo:
    """Host and guest each animated by OmniAvatar in their panel (``kw``: duo.render_pair's).
    Both reference frames are built and checked before the model runs."""
    import tempfile

    from tasks.avatar.duo import SPEAKERS, panel_rects, render_pair
    from tasks.avatar.reference import panel_reference, speaking_prompt

    bg = _background_array(background)
    refs = [
        panel_reference(bg, rect, size, _portrait_array(p), guest=speaker == "guest")
        for speaker, rect, p in zip(SPEAKERS, panel_rects(size), portraits, strict=True)
    ]
    prompts: dict[str, str] = {
        speaker: speaking_prompt(scene, f"the {speaker} of a two-person news conversation")
        for speaker in SPEAKERS
    }

    def one(picture: Path, part: Path, dest: Path, panel: tuple[int, int]) -> AvatarInfo:
        speaker = picture.stem
        return render_omniavatar(
            picture,
            part,
            dest,
            settings,
            size=panel,
            seed=seed,
            prompt=prompts[speaker],
            crf=kw.get("crf", 23),
            preset=kw.get("preset", "veryfast"),
        )

    with tempfile.TemporaryDirectory(prefix="omni-refs-") as tmp:
        pictures: list[Path | None] = []
        for speaker, ref in zip(SPEAKERS, refs, strict=True):
            if on_reference is not None:
                on_reference(f"reference-{speaker}", ref.image)
            picture = Path(tmp) / f"{speaker}.png"
            Image.fromarray(ref.image).save(picture)
            pictures.append(picture)
        return render_pair(
            one, background, speech, segments, out, size=size, portraits=pictures, **kw
        )
