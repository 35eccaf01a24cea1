"""Drawing a brand template: logo, lower third, caption colours and the intro/outro cards.

Everything static is rendered once per video into premultiplied RGBA and converted to I420
(:class:`~novaavatar.media.I420Overlay`), so a frame costs a few small blends; cards are a
pre-rendered background plus one moving text layer and a growing accent line.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from novaavatar.errors import InputError
from novaavatar.media import I420Overlay, i420_planes, rgb_to_i420
from novaavatar.templates import TEMPLATES_DIR, Brand, BrandTemplate, rgba
from tasks.compose.label import render_ai_label
from tasks.compose.text import (
    CaptionLook,
    Font,
    covers,
    draw_text,
    fit_title,
    font_for,
    premultiplied,
    text_width,
)

_FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
)
MAX_LOGO_PIXELS = 4096 * 4096


@cache
def _family_files() -> dict[str, str]:
    """Font files by lowercased stem without spaces, e.g. ``dejavusans-bold``."""
    out: dict[str, str] = {}
    for d in _FONT_DIRS:
        root = Path(d).expanduser()
        if root.is_dir():
            for p in sorted(root.rglob("*.[ot]tf")):
                out.setdefault(p.stem.lower().replace(" ", ""), str(p))
    return out


@cache
def _family_path(family: str, bold: bool) -> str | None:
    key = family.lower().replace(" ", "")
    files = _family_files()
    names = (f"{key}-bold", f"{key}bold") if bold else (key, f"{key}-regular", f"{key}-book")
    return next((files[n] for n in names if n in files), None)


def brand_font(size: int, family: str | None = None, text: str = "", bold: bool = True) -> Font:
    """A font of ``family`` that covers ``text``: the family's own file where this system has
    it and it has every glyph, else :func:`tasks.compose.text.font_for` (which prefers the
    family and falls back to a font that covers the script)."""
    path = _family_path(family, bold) if family else None
    if path is not None:
        font = _truetype(path, size)
        if covers(font, text):
            return font
    return font_for(text, size, family=family, bold=bold)


@cache
def _truetype(path: str, size: int) -> Font:
    return ImageFont.truetype(path, size)


def _rgb(colour: str) -> tuple[int, int, int]:
    r, g, b, _ = rgba(colour)
    return (r, g, b)


def caption_look(t: BrandTemplate, width: int) -> CaptionLook:
    """The caption and title bar colours, size and place a template asks for."""
    c = t.colours
    reserve = 0.0
    if t.logo is not None and t.logo.position == "top-right":
        reserve = t.logo.size + 0.03
    return CaptionLook(
        text=_rgb(c.caption_text),
        highlight=_rgb(c.caption_highlight),
        outline=_rgb(c.caption_outline),
        box=rgba(c.caption_box),
        size=t.captions.size,
        position=t.captions.position,
        title_box=rgba(c.title_bar),
        title_text=_rgb(c.title_text),
        title_stripe=_rgb(c.accent),
        title_right_reserve=reserve,
        family=t.fonts.family,
    )


def load_logo(t: BrandTemplate) -> Image.Image | None:
    """The template's logo as RGBA: a bundled file under templates/ or a store key."""
    if t.logo is None:
        return None
    spec = t.logo.image
    if spec.startswith("store:"):
        from novaavatar.store import get_store

        path = get_store().materialize(spec.removeprefix("store:"))
    else:
        path = (TEMPLATES_DIR / spec).resolve()
        if TEMPLATES_DIR.resolve() not in path.parents:
            raise InputError(f"template {t.ref}: field logo.image {spec!r} lies outside templates/")
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_LOGO_PIXELS:
                raise InputError(
                    f"template {t.ref}: logo {spec!r} is {im.width}x{im.height}; at most 4096x4096"
                )
            return im.convert("RGBA")
    except (OSError, ValueError) as e:
        raise InputError(
            f"template {t.ref}: field logo.image {spec!r} is not a readable image ({e})"
        ) from None


def _logo_layer(t: BrandTemplate, width: int, height: int) -> tuple[np.ndarray, int, int] | None:
    logo = load_logo(t)
    if logo is None or t.logo is None:
        return None
    w = max(8, round(width * t.logo.size))
    h = max(4, round(logo.height * w / logo.width))
    h = min(h, round(height * 0.12))
    w = max(4, round(logo.width * h / logo.height))
    img = logo.resize((w, h), Image.Resampling.LANCZOS)
    if t.logo.opacity < 1:
        alpha = np.asarray(img.getchannel("A"), dtype=np.float32) * t.logo.opacity
        img.putalpha(Image.fromarray(alpha.round().astype(np.uint8)))
    mx, my = round(width * 0.045), round(height * 0.045)
    x = width - w - mx if t.logo.position.endswith("right") else mx
    y = my if t.logo.position.startswith("top") else round(height * 0.6) - h
    return premultiplied(img), x, y


def _lower_third_layer(brand: Brand, width: int, height: int) -> tuple[np.ndarray, int, int] | None:
    text = brand.lower_third_text
    if not text:
        return None
    t = brand.template
    c = t.colours
    short = min(width, height)
    size = max(10, round(short * 0.036))
    font = brand_font(size, t.fonts.headline_family or t.fonts.family, text)
    pad = round(size * 0.5)
    block = round(size * 0.45)
    max_w = round(width * 0.8) - 2 * pad - block
    family = t.fonts.headline_family or t.fonts.family
    font, lines = fit_title(
        text, size, max_w, max_lines=1, make_font=lambda px: brand_font(px, family, text)
    )
    text = lines[0] if lines else ""
    size = int(getattr(font, "size", size))
    tw = math.ceil(text_width(font, text))
    ascent, descent = (
        font.getmetrics() if isinstance(font, ImageFont.FreeTypeFont) else (size, size // 4)
    )
    box_w, box_h = block + 2 * pad + tw, ascent + descent + 2 * pad
    img = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle(
        (0, 0, box_w - 1, box_h - 1), radius=round(size * 0.2), fill=rgba(c.lower_third_background)
    )
    d.rectangle((0, 0, block - 1, box_h - 1), fill=rgba(c.accent))
    draw_text(d, (block + pad, pad), text, font, rgba(c.lower_third_text))
    bottom = 0.655 if t.captions.position == "lower-middle" else 0.685
    return premultiplied(img), round(width * 0.06), round(height * bottom) - box_h


class BrandLayers:
    """The lower third and logo of one video at one frame size, ready to blend into I420."""

    def __init__(self, brand: Brand, width: int, height: int) -> None:
        t = brand.template
        self.look = caption_look(t, width)
        lt = _lower_third_layer(brand, width, height)
        self.lower_third = I420Overlay(*lt) if lt is not None else None
        self.lt_box = (lt[1], lt[2], lt[0].shape[1], lt[0].shape[0]) if lt is not None else None
        self.lt_from = t.lower_third.show_from_s
        self.lt_until = (
            self.lt_from + t.lower_third.show_for_s if t.lower_third.show_for_s else math.inf
        )
        logo = _logo_layer(t, width, height)
        self.logo = I420Overlay(*logo) if logo is not None else None

    def blend_under(self, planes: tuple[np.ndarray, np.ndarray, np.ndarray], t: float) -> None:
        """What lies under the captions: the lower third while it shows."""
        if self.lower_third is not None and self.lt_from <= t < self.lt_until:
            self.lower_third.blend(planes)

    def blend_over(self, planes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        """What lies on top of everything: the logo."""
        if self.logo is not None:
            self.logo.blend(planes)


# --- intro and outro cards ---------------------------------------------------------------------

BLACK_I420 = (16, 128, 128)


def _ease_out(p: float) -> float:
    p = min(max(p, 0.0), 1.0)
    return 1 - (1 - p) ** 3


class CardRenderer:
    """One intro or outro card: a static background, a sliding headline and a growing line."""

    def __init__(
        self, brand: Brand, which: str, width: int, height: int, fps: float, language: str = "en"
    ) -> None:
        if which not in ("intro", "outro"):
            raise ValueError(f"card {which!r}: expected intro or outro")
        t = brand.template
        card = t.intro if which == "intro" else t.outro
        self.which, self.size, self.fps = which, (width, height), fps
        self.duration_s = card.duration_s if card.enabled else 0.0
        self.n_frames = round(self.duration_s * fps)
        self.fade_s = card.fade_s
        c = t.colours
        short = min(width, height)
        margin = round(width * 0.08)
        # static part: background, logo, footer line
        bg = np.empty((height, width, 3), np.float32)
        bg[...] = _rgb(c.card_background)
        shade = np.linspace(1.06, 0.82, height, dtype=np.float32)[:, None, None]
        img = Image.fromarray(np.clip(bg * shade, 0, 255).astype(np.uint8)).convert("RGBA")
        d = ImageDraw.Draw(img)
        d.rectangle((0, 0, max(4, round(width * 0.012)) - 1, height - 1), fill=rgba(c.accent))
        logo = load_logo(t)
        if logo is not None:
            lw = round(short * 0.42)
            lh = min(round(logo.height * lw / logo.width), round(height * 0.18))
            lw = round(logo.width * lh / logo.height)
            img.alpha_composite(
                logo.resize((lw, lh), Image.Resampling.LANCZOS), (margin, round(height * 0.12))
            )
        foot = brand.fill("{source} · {date}") if which == "intro" else brand.fill("{date}")
        if foot:
            ff = brand_font(round(short * 0.032), t.fonts.family, foot, bold=False)
            draw_text(d, (margin, round(height * 0.86)), foot, ff, (*rgba(c.card_text)[:3], 190))
        self.base = rgb_to_i420(np.asarray(img.convert("RGB")))
        # the AI-generated label, as on every frame of the video (the intro is its poster)
        label = I420Overlay(*render_ai_label(language, width, height))
        label.blend(i420_planes(self.base, width, height))
        # moving part: kicker label and headline
        headline = brand.fill(card.text)
        family = t.fonts.headline_family or t.fonts.family
        max_w = width - 2 * margin
        # wrapped, and smaller rather than cut when it is long
        hf, lines = fit_title(
            headline,
            round(short * 0.075),
            max_w,
            max_lines=4,
            min_scale=0.6,
            make_font=lambda px: brand_font(px, family, headline),
        )
        hsize = int(getattr(hf, "size", 40))
        line_h = round(hsize * 1.18)
        kicker = card.kicker.strip()
        kf = brand_font(round(short * 0.032), t.fonts.family, kicker)
        ksize = int(getattr(kf, "size", 20))
        kh = round(ksize * 1.7) if kicker else 0
        layer_h = kh + (round(ksize * 0.8) if kicker else 0) + line_h * max(1, len(lines))
        layer = Image.new("RGBA", (max_w, layer_h), (0, 0, 0, 0))
        ld = ImageDraw.Draw(layer)
        if kicker:
            kw = round(text_width(kf, kicker)) + 2 * round(ksize * 0.6)
            ld.rounded_rectangle((0, 0, kw, kh), radius=round(kh * 0.2), fill=rgba(c.accent))
            draw_text(
                ld, (round(ksize * 0.6), round(kh * 0.2)), kicker, kf, rgba(c.card_background)
            )
        y0 = kh + (round(ksize * 0.8) if kicker else 0)
        for i, line in enumerate(lines):
            draw_text(ld, (0, y0 + i * line_h), line, hf, rgba(c.card_text))
        self.text_y = round(height * 0.42) // 2 * 2
        self.slide = round(height * 0.03) // 2 * 2
        self.text = I420Overlay(premultiplied(layer), margin, self.text_y)
        self.line_y = self.text_y + layer_h + round(hsize * 0.35)
        self.line = (margin, max(4, round(short * 0.009)) // 2 * 2, max_w)
        yr, ur, vr = rgb_to_i420(np.full((2, 2, 3), _rgb(c.accent), np.uint8)).reshape(-1)[
            [0, 4, 5]
        ]
        self.line_yuv = (int(yr), int(ur), int(vr))

    def frame(self, i: int) -> np.ndarray:
        """Card frame ``i`` (0-based) as I420, before fades."""
        w, h = self.size
        out = self.base.copy()
        planes = i420_planes(out, w, h)
        p = i / max(self.n_frames - 1, 1)
        # the intro's headline stands from its first frame (the title frame); the outro's slides in
        move = 1.0 if self.which == "intro" else _ease_out(p / 0.3)
        self.text.y = self.text_y + round(self.slide * (1 - move)) // 2 * 2
        self.text.blend(planes)
        x, lh, full = self.line
        length = round(full * _ease_out(p / 0.85)) // 2 * 2
        y = (self.line_y + round(self.slide * (1 - move))) // 2 * 2
        if length >= 2 and y + lh <= h:
            planes[0][y : y + lh, x : x + length] = self.line_yuv[0]
            planes[1][y // 2 : (y + lh) // 2, x // 2 : (x + length) // 2] = self.line_yuv[1]
            planes[2][y // 2 : (y + lh) // 2, x // 2 : (x + length) // 2] = self.line_yuv[2]
        return out

    def frames(self, edge: np.ndarray) -> Iterator[np.ndarray]:
        """The card's I420 frames, cross-faded with ``edge`` (the first content frame for the
        intro, the last for the outro); the outro fades to black. The intro starts on its
        clean card, never from black: the first frame is the video's title frame (players
        and review queues show it as the poster)."""
        n = self.n_frames
        fade_n = max(1, round(self.fade_s * self.fps)) if self.fade_s > 0 else 0
        dark_n = max(1, round(0.2 * self.fps))
        black = _black_like(edge, *self.size)
        for i in range(n):
            f = self.frame(i)
            if self.which == "intro":
                if fade_n and i >= n - fade_n:
                    f = _mix(edge, f, (i - (n - fade_n) + 1) / (fade_n + 1))
            else:
                if fade_n and i < fade_n:
                    f = _mix(f, edge, (i + 1) / (fade_n + 1))
                if i >= n - dark_n:
                    f = _mix(black, f, 0.65 * (i - (n - dark_n) + 1) / dark_n)
            yield f


def _black_like(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    out = np.empty_like(frame)
    y, u, v = i420_planes(out, width, height)
    y[...], u[...], v[...] = BLACK_I420
    return out


def _mix(a: np.ndarray, b: np.ndarray, amount_a: float) -> np.ndarray:
    """``amount_a`` of ``a`` plus the rest of ``b`` (I420 mixes linearly like RGB)."""
    k = round(min(max(amount_a, 0.0), 1.0) * 256)
    return ((a.astype(np.uint16) * k + b.astype(np.uint16) * (256 - k) + 128) >> 8).astype(np.uint8)


# --- previews ----------------------------------------------------------------------------------
