"""The AI-generated label every video shows, in its language, on every frame and card.

A viewer who never reads a description or a platform's flag still sees that the presenter
and the voice are made by a machine: light text on a translucent dark pill in the top right
corner, in the strip above the title bar and the logo.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from novaavatar.languages import ai_label
from tasks.compose.text import draw_text, font_for, premultiplied, text_width

# the label's share of the frame: the strip above the title bar and the logo (both 4.5 % down)
AI_LABEL_TOP = 0.045
AI_LABEL_RIGHT = 0.045  # the logo's right margin


def render_ai_label(language: str, width: int, height: int) -> tuple[np.ndarray, int, int]:
    """The "AI-generated" label, in the video's language, for the top right corner.

    It sits in the strip above the title bar and the logo, which start 4.5 % down, so it
    covers neither them nor the captions, the lower third or an explainer's scene titles:
    light text on a translucent dark pill, drawn on every frame and on the cards. It looks
    the same whatever the brand (its own font, not the template's), so the ``ai_label``
    quality check knows what to find.
    """
    text = ai_label(language)
    short = min(width, height)
    top = round(height * AI_LABEL_TOP)
    gap = max(2, round(height * 0.005))
    box_h = max(10, min(round(short * 0.04), top - 2 * gap))
    size = max(7, round(box_h * 0.62))
    font = font_for(text, size, bold=True)
    ascent, descent = (
        font.getmetrics() if isinstance(font, ImageFont.FreeTypeFont) else (size, size // 4)
    )
    pad = round(box_h * 0.45)
    box_w = math.ceil(text_width(font, text)) + 2 * pad
    img = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, box_w - 1, box_h - 1), radius=box_h // 2, fill=(12, 14, 20, 170))
    draw_text(d, (pad, (box_h - ascent - descent) / 2), text, font, (246, 246, 246))
    x = max(width - round(width * AI_LABEL_RIGHT) - box_w, 0)
    return premultiplied(img), x, max((top - box_h) // 2, 0)
