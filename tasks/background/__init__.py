"""Background stage: a scene description → an image for the presenter to stand in front of."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tasks.background.seeds import seed_for

__all__ = ["seed_for"]

# Calm studio palettes: (top colour, bottom colour, accent)
_PALETTES = [
    ((12, 24, 56), (34, 76, 140), (90, 170, 255)),
    ((20, 16, 40), (76, 40, 110), (230, 120, 200)),
    ((8, 36, 42), (22, 100, 110), (110, 230, 210)),
    ((36, 18, 14), (120, 54, 30), (255, 170, 90)),
    ((14, 28, 20), (40, 96, 60), (170, 230, 120)),
    ((24, 24, 30), (70, 74, 90), (240, 200, 90)),
]


class BackgroundProvider(Protocol):
    name: str

    def available(self) -> bool: ...

    def make(
        self,
        prompt: str,
        keywords: tuple[str, ...],
        size: tuple[int, int],
        out: Path,
        variant: int = 0,
    ) -> int:
        """Write the image to ``out``; return the seed used."""
        ...


def procedural_background(seed: int, size: tuple[int, int]) -> Image.Image:
    """A studio-like backdrop: vertical gradient, soft bokeh lights, a horizon glow, light rays."""
    w, h = size
    rng = random.Random(seed)
    top, bottom, accent = _PALETTES[seed % len(_PALETTES)]
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    grad = (np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t).repeat(
        w, axis=1
    )
    # horizon glow behind the presenter's shoulders
    yy, _xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy = h * rng.uniform(0.45, 0.6)
    glow = np.exp(-(((yy - cy) / (h * 0.18)) ** 2)) * 0.35
    grad += glow[..., None] * (np.array(accent, np.float32) - grad) * 0.6
    base = Image.fromarray(np.clip(grad, 0, 255).astype(np.uint8))

    lights = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(lights)
    for _ in range(rng.randint(18, 30)):
        r = rng.uniform(0.015, 0.07) * min(w, h)
        x, y = rng.uniform(0, w), rng.uniform(0, h * 0.75)
        a = rng.randint(25, 80)
        c = tuple(int(v * rng.uniform(0.8, 1.1)) for v in accent)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(*c, a))
    # slanted light rays from the top corner
    for k in range(rng.randint(3, 5)):
        x0 = rng.uniform(-0.2, 0.9) * w
        spread = rng.uniform(0.05, 0.12) * w
        angle = math.radians(rng.uniform(15, 35)) * (1 if k % 2 else -1)
        x1 = x0 + math.tan(angle) * h
        draw.polygon(
            [(x0, 0), (x0 + spread, 0), (x1 + spread * 3, h), (x1, h)], fill=(255, 255, 255, 10)
        )
    lights = lights.filter(ImageFilter.GaussianBlur(radius=max(w, h) / 120))
    # a floor band gives depth
    floor = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(floor).rectangle((0, int(h * 0.82), w, h), fill=(0, 0, 0, 70))
    floor = floor.filter(ImageFilter.GaussianBlur(radius=h / 60))
    out = Image.alpha_composite(Image.alpha_composite(base.convert("RGBA"), lights), floor)
    return out.convert("RGB")


class ProceduralBackgroundProvider:
    """Offline backdrop with Pillow, deterministic for the same prompt, keywords and size."""

    name = "procedural"

    def available(self) -> bool:
        return True

    def make(
        self,
        prompt: str,
        keywords: tuple[str, ...],
        size: tuple[int, int],
        out: Path,
        variant: int = 0,
    ) -> int:
        seed = seed_for(prompt, keywords, size, variant)
        out.parent.mkdir(parents=True, exist_ok=True)
        procedural_background(seed, size).save(out, format="PNG", optimize=False)
        return seed


def default_providers() -> list[BackgroundProvider]:
    """Flux on Replicate when a token is configured (env or Prefect block), then procedural."""
    from blocks.credentials import replicate_credentials
    from novaavatar.settings import get_settings
    from tasks.background.flux import FluxBackgroundProvider

    s = get_settings()
    token, base_url = replicate_credentials(
        s.replicate_api_token, s.replicate_base_url, s.replicate_credentials_block
    )
    flux = FluxBackgroundProvider(
        token,
        model=s.flux_model,
        base_url=base_url,
        candidates=s.background_candidates,
        style=s.background_style,
        timeout_s=s.replicate_timeout,
        deadline_s=s.replicate_deadline,
    )
    return [flux, ProceduralBackgroundProvider()]
