"""A brand template's preview: a sample presenter frame with the title, lower third,
captions and logo, and the intro card, as a video made with it looks (the Brand templates
page and `novaavatar templates preview`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from novaavatar.errors import InputError
from novaavatar.media import rgb_to_i420
from novaavatar.templates import Brand, BrandTemplate
from tasks.compose.brand import CardRenderer, _black_like

SAMPLE_WORDS = ("Here", "is", "what", "changed", "today", "and", "why", "it", "matters.")


def preview_frames(
    t: BrandTemplate,
    size: tuple[int, int],
    *,
    source: str = "BBC News",
    date: str = "25 Nov",
    title: str = "City council expands the river park with a new cycling bridge",
    base: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A sample presenter frame (title, lower third, captions, logo) and the intro card at
    full view, both H×W×3 RGB: what a video made with ``t`` looks like. ``base`` replaces
    the presenter frame under the overlays (snapshot tests keep the presenter out)."""
    import cv2

    from novaavatar.domain import PhonemeTiming, WordTiming
    from tasks.avatar.lite import lite_frames
    from tasks.background import procedural_background
    from tasks.compose.video import FrameOverlay

    w, h = size
    brand = Brand(template=t, source=source, date=date, title=title)
    words = [
        WordTiming(word=x, start=0.3 * i, end=0.3 * i + 0.25) for i, x in enumerate(SAMPLE_WORDS)
    ]
    import tempfile

    if base is None:
        with tempfile.TemporaryDirectory(prefix="preview-") as tmp:
            bg = Path(tmp) / "bg.png"
            procedural_background(7, size).save(bg)
            base = next(
                iter(
                    lite_frames(
                        bg,
                        [PhonemeTiming(phoneme="a", start=0, end=0.1)],
                        0.04,
                        size=size,
                        layout=t.layout or "studio",
                    )
                )
            )
    frame = rgb_to_i420(base)
    style = t.captions.style if t.captions.style != "none" else "plain"
    FrameOverlay(words, w, h, title=title, caption_style=style, brand=brand).apply(frame, 0.95)
    card = CardRenderer(brand, "intro", w, h, 25.0)
    intro = card.frame(max(card.n_frames - 1, 0)) if card.n_frames else _black_like(frame, w, h)
    to_rgb = cv2.COLOR_YUV2RGB_I420
    return cv2.cvtColor(frame, to_rgb), cv2.cvtColor(intro, to_rgb)


def preview_image(t: BrandTemplate, aspect: str = "9:16", height: int = 640) -> Image.Image:
    """The presenter frame and the intro card side by side, scaled to ``height`` px."""
    from novaavatar.domain import ASPECT_SIZES

    if aspect not in ASPECT_SIZES:
        raise InputError(f"aspect {aspect!r}: choose one of {', '.join(ASPECT_SIZES)}")
    frame, intro = preview_frames(t, ASPECT_SIZES[aspect])
    fh, fw = frame.shape[:2]
    w = round(fw * height / fh)
    gap = max(4, height // 80)
    sheet = Image.new("RGB", (2 * w + gap, height), (245, 245, 245))
    for i, part in enumerate((frame, intro)):
        sheet.paste(
            Image.fromarray(part).resize((w, height), Image.Resampling.LANCZOS), (i * (w + gap), 0)
        )
    return sheet
