"""Reading an image a user gave (a background, a portrait) and fitting it to a frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from novaavatar.errors import InputError


def load_image(path: Path, what: str, hint: str) -> Image.Image:
    """An image file upright (EXIF) as RGB; InputError naming ``what`` and ``hint`` if unusable."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} {str(p)!r} does not exist; {hint}")
    try:
        with Image.open(p) as im:
            im.load()
            img = ImageOps.exif_transpose(im).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise InputError(f"{what} {str(p)!r} is not a readable image ({e}); {hint}") from None
    return img


def cover(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Scale and centre-crop ``img`` so it covers ``size`` exactly."""
    fitted = ImageOps.fit(img, size, Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    return np.asarray(fitted, dtype=np.uint8).copy()


def cover_array(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """:func:`cover` for a frame already in memory: scaled (area-averaged) and centre-cropped
    to exactly ``size`` (width, height)."""
    w, h = size
    fh, fw = frame.shape[:2]
    scale = max(w / fw, h / fh)
    resized = cv2.resize(
        frame, (max(w, round(fw * scale)), max(h, round(fh * scale))), interpolation=cv2.INTER_AREA
    )
    y0 = (resized.shape[0] - h) // 2
    x0 = (resized.shape[1] - w) // 2
    return np.ascontiguousarray(resized[y0 : y0 + h, x0 : x0 + w])
