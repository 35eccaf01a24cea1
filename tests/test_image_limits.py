"""Bounded images: the pixel count is read from the header before decoding; bombs and images
over MAX_IMAGE_MEGAPIXELS are refused with 413; large portraits are downscaled once."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import httpx
import pytest
from PIL import Image
from test_api import _wav, api_env, client, serve  # noqa: F401  (fixtures)

from novaavatar.errors import InputError, TooLargeError
from novaavatar.uploads import PORTRAIT_MAX_SIDE, store_portrait


def grey_png(w: int, h: int, rows: int | None = None) -> bytes:
    """A 1-bit grey PNG of ``w``×``h`` zeros, written by hand so a huge one costs nothing to
    make; ``rows`` cuts the pixel data short (only the header matters to the refusal)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    row = b"\x00" * (1 + (w + 7) // 8)
    pixels = zlib.compress(row * (h if rows is None else rows), 9)
    header = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_is_refused_from_its_header(store: Any) -> None:
    bomb = grey_png(20000, 20000, rows=8)
    with pytest.raises(TooLargeError, match="decompression bomb|400 MP"):
        store_portrait(store, bomb, "bomb.png")
    assert store.list("uploads") == []


def test_100_megapixels_is_over_the_limit_and_40_is_accepted(store: Any) -> None:
    with pytest.raises(TooLargeError, match=r"10000x10000 \(100 MP\): the limit is 40 MP"):
        store_portrait(store, grey_png(10000, 10000, rows=8), "big.png")
    key = store_portrait(store, grey_png(8000, 5000), "forty.png")  # exactly 40 MP
    with Image.open(io.BytesIO(store.get_bytes(key))) as img:
        assert max(img.size) == PORTRAIT_MAX_SIDE and img.size == (2048, 1280)


def test_a_large_photo_is_downscaled_once_and_a_small_one_kept(store: Any) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (3000, 2000), (180, 140, 120)).save(buf, format="JPEG", quality=90)
    key = store_portrait(store, buf.getvalue(), "photo.jpg")
    assert key.endswith(".jpg")
    with Image.open(io.BytesIO(store.get_bytes(key))) as img:
        assert img.size == (2048, 1365) and img.format == "JPEG"
    small = io.BytesIO()
    Image.new("RGB", (640, 480), (10, 20, 30)).save(small, format="PNG")
    kept = store_portrait(store, small.getvalue(), "small.png")
    assert store.get_bytes(kept) == small.getvalue()
    with pytest.raises(InputError, match="not a readable image"):
        store_portrait(store, b"\x89PNG\r\n\x1a\nnot really", "broken.png")


def test_the_api_answers_413_for_a_bomb_and_an_oversized_portrait(
    client: httpx.Client,  # noqa: F811
) -> None:
    for name, data in (
        ("bomb.png", grey_png(20000, 20000, rows=8)),
        ("big.png", grey_png(10000, 10000, rows=8)),
    ):
        r = client.post(
            "/api/generate/manual",
            data={
                "title": "Too big",
                "aspect": "1:1",
                "i_have_consent": "true",
                "consent_by": "Ada (newsroom)",
            },
            files={"portrait": (name, data, "image/png"), "audio": ("a.wav", _wav(1.0))},
        )
        assert r.status_code == 413, r.text
        body = r.json()
        assert body["type"] == "urn:novaavatar:problem:too-large" and name in body["detail"]
