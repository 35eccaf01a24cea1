"""User uploads (portraits, audio): checked by content, not by file name, then stored.

Uploads are kept under ``uploads/<sha256>.<ext>``, so the same file uploaded twice is
stored once and every run that uses it gets the same cache key.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from novaavatar.errors import InputError
from novaavatar.store import ArtifactStore

MAX_PORTRAIT_BYTES = 25 * 1024 * 1024
MAX_AUDIO_BYTES = 200 * 1024 * 1024
MAX_AUDIO_S = 600.0  # ten minutes: longer talks are split into several videos
MIN_PORTRAIT_SIDE = 64


def _key(data: bytes, ext: str) -> str:
    return f"uploads/{hashlib.sha256(data).hexdigest()[:24]}.{ext}"


def store_portrait(store: ArtifactStore, data: bytes, name: str = "portrait") -> str:
    """Validate an image upload and store it; return its key."""
    if not data:
        raise InputError(f"portrait {name!r} is empty (0 bytes)")
    if len(data) > MAX_PORTRAIT_BYTES:
        raise InputError(f"portrait {name!r} is {len(data) >> 20} MiB: the limit is 25 MiB")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = (img.format or "").lower()
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            w, h = img.size
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise InputError(f"portrait {name!r} is not a readable image ({e})") from None
    if fmt not in {"jpeg", "png", "webp", "bmp", "tiff", "gif"}:
        raise InputError(f"portrait {name!r} is {fmt or 'unknown'}: use JPEG, PNG or WebP")
    if min(w, h) < MIN_PORTRAIT_SIDE:
        raise InputError(f"portrait {name!r} is {w}x{h}: at least {MIN_PORTRAIT_SIDE} px a side")
    key = _key(data, "jpg" if fmt == "jpeg" else fmt)
    store.put_bytes(key, data, f"image/{fmt}")
    return key


def store_background(store: ArtifactStore, data: bytes, name: str = "background") -> str:
    """Validate a background image upload (the portrait's checks) and store it; return its key."""
    try:
        return store_portrait(store, data, name)
    except InputError as e:  # the same checks; the message names what the upload is for
        raise InputError(str(e).replace("portrait", "background image", 1)) from None


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
            f"audio {name!r} lasts {info.duration_s / 60:.1f} min: the limit is {MAX_AUDIO_S / 60:.0f} min"
        )
    key = _key(data, "audio")
    store.put_bytes(key, data, "application/octet-stream")
    return key
