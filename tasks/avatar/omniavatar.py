"""OmniAvatar as an avatar provider: the model package driven by the avatar settings.

Used by the avatar stage when ``AVATAR_BACKEND=omniavatar`` and the published weights are
under ``OMNIAVATAR_MODEL_PATH``; any failure falls back to the lite renderer. The loaded
pipeline stays in the worker between videos unless ``OMNIAVATAR_KEEP_LOADED=false``; every
job ends by dropping its tensors and returning cached GPU memory.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from novaavatar.media import FrameWriter, read_audio
from novaavatar.settings import Settings
from tasks.avatar.lite import AvatarInfo


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


def _cover(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale and centre-crop a frame to exactly ``size`` (width, height)."""
    w, h = size
    fh, fw = frame.shape[:2]
    scale = max(w / fw, h / fh)
    resized = cv2.resize(
        frame, (round(fw * scale), round(fh * scale)), interpolation=cv2.INTER_AREA
    )
    y0 = (resized.shape[0] - h) // 2
    x0 = (resized.shape[1] - w) // 2
    return np.ascontiguousarray(resized[y0 : y0 + h, x0 : x0 + w])


def generation_size(size: tuple[int, int], max_hw: int) -> tuple[int, int]:
    """The published 480p bucket (height, width) closest to the output's aspect, scaled so
    its longest side is ``max_hw`` (multiples of 16, as the VAE and patches need)."""
    from OmniAvatar.pipeline import SIZE_BUCKETS

    aspect = size[0] / size[1]
    h, w = min(SIZE_BUCKETS, key=lambda b: abs(b[1] / b[0] - aspect))
    scale = max_hw / max(h, w)
    return (max(16, round(h * scale / 16) * 16), max(16, round(w * scale / 16) * 16))


def render_omniavatar(
    portrait: Path,
    speech: Path,
    out: Path,
    settings: Settings,
    *,
    size: tuple[int, int],
    seed: int,
    prompt: str,
    crf: int = 23,
    preset: str = "veryfast",
    progress: Callable[[int, int], None] | None = None,
) -> AvatarInfo:
    """Generate the presenter video with OmniAvatar, scaled to ``size``, with the speech."""
    try:
        pipe = load_pipeline(settings)
        image = np.asarray(Image.open(portrait).convert("RGB"))
        gen_size = generation_size(size, settings.omniavatar_max_hw)
        audio = read_audio(speech, 16_000, max_seconds=600)
        result = pipe(
            image,
            audio,
            prompt,
            num_steps=settings.num_steps,
            guidance_scale=settings.guidance_scale,
            audio_scale=settings.audio_scale,
            tea_cache_thresh=settings.tea_cache_thresh,
            tea_cache_coefficients=settings.omniavatar_tea_cache_coefficients or None,
            seed=seed,
            fps=settings.avatar_fps,
            size=gen_size,
            callback=progress,
        )
        del pipe, image, audio  # per-job inputs; the frames are all that is kept
        frames, fps = result.frames, int(result.fps)
        del result
        with FrameWriter(out, size, fps, audio=speech, crf=crf, preset=preset) as writer:
            for frame in frames:
                writer.write(_cover(frame, size))
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
