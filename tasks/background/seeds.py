"""One seed per background request, so the same script and take give the same picture."""

from __future__ import annotations

import hashlib


def seed_for(
    prompt: str, keywords: tuple[str, ...], size: tuple[int, int], variant: int = 0
) -> int:
    """A 32-bit seed from the scene prompt, keywords, frame size and take."""
    blob = f"{prompt}|{','.join(keywords)}|{size[0]}x{size[1]}|{variant}".encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "big")
