"""User uploads (portraits, audio): checked by content, not by file name, then stored.

Uploads are kept under ``uploads/<sha256>.<ext>``, so the same file uploaded twice is
stored once and every run that uses it gets the same cache key.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from novaavatar.errors import InputError, TooLargeError
from novaavatar.store import ArtifactStore

MAX_PORTRAIT_BYTES = 25 * 1024 * 1024
MAX_AUDIO_BYTES = 200 * 1024 * 1024
MAX_AUDIO_S = 600.0  # ten minutes: longer talks are split into several videos
MIN_PORTRAIT_SIDE = 64
PORTRAIT_MAX_SIDE = 2048  # larger portraits are downscaled once, on upload


def check_image_pixels(
    data: bytes, name: str, what: str = "image", max_pixels: int | None = None
) -> tuple[int, int]:
    """Width and height from the image's header, before anything is decoded; refuses more
    than ``max_pixels`` (default MAX_IMAGE_MEGAPIXELS) and decompression bombs."""
    if max_pixels is None:
        from novaavatar.settings import get_settings

        max_pixels = int(get_settings().max_image_megapixels * 1_000_000)
    # Pillow refuses to open more than twice this: a bomb never reaches a decoder
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked below
            with Image.open(io.BytesIO(data)) as img:  # reads the header only
                w, h = img.size
    except Image.DecompressionBombError as e:
        raise TooLargeError(f"{what} {name!r} is refused as a decompression bomb ({e})") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise InputError(f"{what} {name!r} is not a readable image ({e})") from None
    if w * h > max_pixels:
        raise TooLargeError(
            f"{what} {name!r} is {w}x{h} ({w * h / 1e6:.0f} MP): the limit is "
            f"{max_pixels / 1e6:.0f} MP (MAX_IMAGE_MEGAPIXELS)"
        )
    return w, h


def _key(data: bytes, ext: str) -> str:
    return f"uploads/{hashlib.sha256(data).hexdigest()[:24]}.{ext}"


def store_portrait(store: ArtifactStore, data: bytes, name: str = "portrait") -> str:
    """Validate an image upload and store it; return its key."""
    if not data:
        raise InputError(f"portrait {name!r} is empty (0 bytes)")
    if len(data) > MAX_PORTRAIT_BYTES:
        raise InputError(f"portrait {name!r} is {len(data) >> 20} MiB: the limit is 25 MiB")
    w, h = check_image_pixels(data, name, "portrait")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = (img.format or "").lower()
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise InputError(f"portrait {name!r} is not a readable image ({e})") from None
    if fmt not in {"jpeg", "png", "webp", "bmp", "tiff", "gif"}:
        raise InputError(f"portrait {name!r} is {fmt or 'unknown'}: use JPEG, PNG or WebP")
    if min(w, h) < MIN_PORTRAIT_SIDE:
        raise InputError(f"portrait {name!r} is {w}x{h}: at least {MIN_PORTRAIT_SIDE} px a side")
    if max(w, h) > PORTRAIT_MAX_SIDE:
        data, fmt = _downscaled(data, name), "png" if fmt == "png" else "jpeg"
    key = _key(data, "jpg" if fmt == "jpeg" else fmt)
    store.put_bytes(key, data, f"image/{fmt}")
    return key


def _downscaled(data: bytes, name: str) -> bytes:
    """The portrait with its long side at PORTRAIT_MAX_SIDE, upright, re-encoded once (PNG
    stays PNG for its alpha; anything else becomes JPEG), so no stage decodes the original."""
    from PIL import ImageOps

    try:
        with Image.open(io.BytesIO(data)) as img:
            is_png = img.format == "PNG"
            img.draft("RGB", (PORTRAIT_MAX_SIDE, PORTRAIT_MAX_SIDE))  # JPEG: decode at 1/2..1/8
            small = ImageOps.exif_transpose(img)
            small.thumbnail((PORTRAIT_MAX_SIDE, PORTRAIT_MAX_SIDE), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            if is_png:
                small.save(out, format="PNG", optimize=False)
            else:
                small.convert("RGB").save(out, format="JPEG", quality=92)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise InputError(f"portrait {name!r} could not be decoded ({e})") from None
    return out.getvalue()


def store_background(store: ArtifactStore, data: bytes, name: str = "background") -> str:
    """Validate a background image upload (the portrait's checks) and store it; return its key."""
    try:
        return store_portrait(store, data, name)
    except InputError as e:  # the same checks (and status); the message names the upload
        raise type(e)(str(e).replace("portrait", "background image", 1)) from None


def store_audio(store: ArtifactStore, data: bytes, name: str = "audio") -> str:
    """Validate an audio upload (decodable, not silent, not too long) and store it."""
    from novaavatar.media import probe

    if not data:
        raise InputError(f"audio {name!r} is empty (0 bytes)")
    if len(data) > MAX_AUDIO_BYTES:
        raise InputError(f"audio {name!r} is {len(data) >> 20} MiB: the limit is 200 MiB")
    with tempfile.NamedTemporaryFile(suffix=".bin") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            info = probe(Path(tmp.name))
        except InputError:
            raise InputError(f"audio {name!r} is not a readable audio file") from None
    if not info.has_audio:
        raise InputError(f"audio {name!r} has no audio stream")
    if info.duration_s > MAX_AUDIO_S:
        raise InputError(
            f"audio {name!r} lasts {info.duration_s / 60:.1f} min: "
            f"the limit is {MAX_AUDIO_S / 60:.0f} min"
        )
    key = _key(data, "audio")
    store.put_bytes(key, data, "application/octet-stream")
    return key
