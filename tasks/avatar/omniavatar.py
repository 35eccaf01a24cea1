"""OmniAvatar as an avatar provider: the model package driven by the avatar settings.

Used by the avatar stage when ``AVATAR_BACKEND=omniavatar`` and the published weights are
under ``OMNIAVATAR_MODEL_PATH``; any failure falls back to the lite renderer.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
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


@lru_cache(maxsize=1)
def _pipeline(root: str, use_14b: bool, offload: bool) -> Any:
    """One loaded pipeline per worker process (loading is the slow part)."""
    from OmniAvatar.pipeline import OmniAvatarPipeline

    return OmniAvatarPipeline.from_pretrained(root, use_14b=use_14b, offload=offload)


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
    assert settings.omniavatar_model_path is not None, "check omniavatar_available() first"
    pipe = _pipeline(
        str(settings.omniavatar_model_path),
        settings.use_14b_model,
        settings.enable_vram_management,
    )
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
        seed=seed,
        fps=settings.avatar_fps,
        size=gen_size,
        callback=progress,
    )
    frames = result.frames
    with FrameWriter(out, size, result.fps, audio=speech, crf=crf, preset=preset) as writer:
        for frame in frames:
            writer.write(_cover(frame, size))
    return AvatarInfo(
        width=size[0],
        height=size[1],
        fps=int(result.fps),
        duration_s=len(frames) / result.fps,
        frames=len(frames),
    )
