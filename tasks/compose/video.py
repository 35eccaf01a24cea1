"""The final video: avatar frames with burnt-in captions and a title bar, loudness-normalised speech.

Caption images are rendered once per (caption, highlighted word) and cached, so a frame costs one
alpha blend of a small region; the title bar is rendered once.
"""

from __future__ import annotations

import itertools
import math
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from novaavatar.domain import WordTiming
from novaavatar.errors import InputError
from novaavatar.media import FrameWriter, ffmpeg_exe, probe, read_audio
from tasks.compose.captions import Caption, build_captions

TEXT = (255, 255, 255)
ACCENT = (255, 201, 40)
OUTLINE = (12, 12, 16)
BOX = (10, 12, 20, 165)
TARGET_PEAK_DBFS = -1.0
HIGHLIGHT_LEAD_S = 0.04  # light the word up a touch before it is heard, as viewers expect

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Bold.ttf",
    "/Library/Fonts/Arial Bold.ttf",
    "/System/Library/Fonts/Supplemental/Arial Bold.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class ComposeInfo:
    """What :func:`compose_final` wrote."""

    width: int
    height: int
    fps: float
    duration_s: float
    size_bytes: int


@cache
def _font_path() -> str | None:
    for cand in _FONT_CANDIDATES:
        if Path(cand).is_file():
            return cand
    return None


@cache
def caption_font(size: int) -> Font:
    """A bold sans TTF from the system if there is one, else Pillow's scalable default font."""
    path = _font_path()
    if path is not None:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    return ImageFont.load_default(size=size)


def _text_width(font: Font, text: str) -> float:
    return float(font.getlength(text))


def _split_long_word(word: str, font: Font, max_w: float) -> list[str]:
    """Break a word wider than ``max_w`` into pieces that fit, the first ones ending in '-'."""
    pieces: list[str] = []
    rest = word
    while rest and _text_width(font, rest) > max_w:
        cut = 1
        while cut < len(rest) and _text_width(font, rest[: cut + 1] + "-") <= max_w:
            cut += 1
        pieces.append(rest[:cut] + "-")
        rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


def wrap_words(words: Sequence[str], font: Font, max_w: float) -> list[list[tuple[int, str]]]:
    """Greedy line wrap of ``words``; each line is a list of (word index, text shown)."""
    lines: list[list[tuple[int, str]]] = [[]]
    space = _text_width(font, " ")
    width = 0.0
    for i, word in enumerate(words):
        for piece in _split_long_word(word, font, max_w):
            w = _text_width(font, piece)
            if lines[-1] and width + space + w > max_w:
                lines.append([])
                width = 0.0
            width += (space if lines[-1] else 0.0) + w
            lines[-1].append((i, piece))
    return [line for line in lines if line]


def _premultiplied(img: Image.Image) -> np.ndarray:
    rgba = np.asarray(img, dtype=np.uint16)
    out = rgba.copy()
    out[..., :3] = (rgba[..., :3] * rgba[..., 3:4] + 127) // 255
    return out.astype(np.uint8)


def _blend(dst: np.ndarray, src: np.ndarray, x: int, y: int) -> None:
    """Blend a premultiplied RGBA ``src`` into RGB ``dst`` at (x, y); ``src`` lies inside ``dst``."""
    h, w = src.shape[:2]
    d = dst[y : y + h, x : x + w]
    inv = 255 - src[..., 3:4].astype(np.uint16)
    mixed = d.astype(np.uint16) * inv + 128
    d[...] = ((mixed + (mixed >> 8)) >> 8) + src[..., :3]


class CaptionPainter:
    """Draws caption boxes for one frame size, inside safe margins in the lower fifth."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.base_size = max(12, round(min(width, height) * 0.058))
        self.margin = round(width * 0.07)
        self.max_text_w = width - 2 * self.margin - 2 * self._pad(self.base_size)
        self._cache: dict[tuple[int, int], tuple[np.ndarray, int, int]] = {}
        self._layouts: dict[int, tuple[Font, list[list[tuple[int, str]]]]] = {}

    @staticmethod
    def _pad(size: int) -> int:
        return round(size * 0.4)

    def layout(self, caption: Caption) -> tuple[Font, list[list[tuple[int, str]]]]:
        """The font and wrapped lines for ``caption``: at most 3 lines, shrinking the font if needed."""
        if caption.index not in self._layouts:
            words = [w.word for w in caption.words]
            size = self.base_size
            while True:
                font = caption_font(size)
                lines = wrap_words(words, font, self.max_text_w)
                if len(lines) <= 3 or size <= self.base_size * 0.6:
                    break
                size = max(8, int(size * 0.9))
            self._layouts[caption.index] = (font, lines)
        return self._layouts[caption.index]

    def render(self, caption: Caption, highlight: int) -> tuple[np.ndarray, int, int]:
        """Premultiplied RGBA image of the caption with word ``highlight`` in the accent colour."""
        key = (caption.index, highlight)
        if key in self._cache:
            return self._cache[key]
        font, lines = self.layout(caption)
        size = int(getattr(font, "size", self.base_size))
        pad = self._pad(size)
        stroke = max(2, size // 12)
        ascent, descent = font.getmetrics() if isinstance(font, ImageFont.FreeTypeFont) else (size, size // 4)  # fmt: skip
        line_h = ascent + descent + size // 8
        space = _text_width(font, " ")
        widths = [sum(_text_width(font, t) for _, t in ln) + space * (len(ln) - 1) for ln in lines]
        box_w = min(self.width - 2 * self.margin, math.ceil(max(widths)) + 2 * pad + 2 * stroke)
        box_h = line_h * len(lines) + 2 * pad
        img = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        d.rounded_rectangle((0, 0, box_w - 1, box_h - 1), radius=round(size * 0.35), fill=BOX)
        for row, (ln, lw) in enumerate(zip(lines, widths, strict=True)):
            x = (box_w - lw) / 2
            y = pad + row * line_h
            for i, text in ln:
                colour = ACCENT if i == highlight else TEXT
                d.text((x, y), text, font=font, fill=colour, stroke_width=stroke, stroke_fill=OUTLINE)  # fmt: skip
                x += _text_width(font, text) + space
        x0 = (self.width - box_w) // 2
        y0 = round(min(self.height * 0.875 - box_h / 2, self.height * 0.96 - box_h))
        y0 = max(y0, round(self.height * 0.7), 0)
        y0 = min(y0, self.height - box_h)
        out = (_premultiplied(img), x0, y0)
        self._cache[key] = out
        return out


def render_title(title: str, width: int, height: int) -> tuple[np.ndarray, int, int] | None:
    """A title bar for the top of the frame, or None without a title; long titles end with '…'."""
    title = " ".join(title.split())
    if not title:
        return None
    size = max(10, round(min(width, height) * 0.042))
    font = caption_font(size)
    margin = round(width * 0.06)
    pad = round(size * 0.45)
    stripe = max(4, round(size * 0.22))
    max_w = width - 2 * margin - 2 * pad - stripe
    lines = wrap_words(title.split(), font, max_w)
    texts = [" ".join(t for _, t in ln) for ln in lines]
    if len(texts) > 2:
        second = texts[1]
        while second and _text_width(font, second + "…") > max_w:
            second = second[:-1].rstrip()
        texts = [texts[0], second + "…"]
    ascent, descent = font.getmetrics() if isinstance(font, ImageFont.FreeTypeFont) else (size, size // 4)  # fmt: skip
    line_h = ascent + descent
    box_w = int(max(_text_width(font, t) for t in texts)) + 2 * pad + stripe
    box_h = line_h * len(texts) + 2 * pad
    img = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, box_w - 1, box_h - 1), radius=round(size * 0.25), fill=BOX)
    d.rectangle((0, 0, stripe - 1, box_h - 1), fill=(*ACCENT, 255))
    for row, text in enumerate(texts):
        d.text((stripe + pad, pad + row * line_h), text, font=font, fill=TEXT)
    return _premultiplied(img), margin, round(height * 0.045)


def _gain_filter(audio: Path) -> str | None:
    """An ffmpeg volume filter bringing the speech peak to about −1 dBFS."""
    samples = read_audio(audio)
    if samples.size == 0:
        raise InputError(f"audio {str(audio)!r} is empty; expected speech lasting at least 0.1 s")
    peak = float(np.max(np.abs(samples)))
    if peak < 1e-4:
        return None  # silence stays silence
    gain_db = float(np.clip(TARGET_PEAK_DBFS - 20 * math.log10(peak), -30.0, 30.0))
    return f"volume={gain_db:.2f}dB"


def _read_exact(stream: IO[bytes], buf: bytearray) -> bool:
    """Fill ``buf`` from ``stream``; False at end of stream (a partial last frame is dropped)."""
    view = memoryview(buf)
    got = 0
    while got < len(buf):
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            return False
        got += n
    return True


def _active_word(caption: Caption, t: float) -> int:
    """Index of the last word of ``caption`` that has started by ``t`` (0 before the first)."""
    idx = 0
    for i, w in enumerate(caption.words):
        if w.start <= t + HIGHLIGHT_LEAD_S:
            idx = i
    return idx


def compose_final(
    avatar_mp4: Path,
    audio: Path,
    words: Sequence[WordTiming],
    out_mp4: Path,
    *,
    title: str = "",
    crf: int = 23,
    preset: str = "veryfast",
) -> ComposeInfo:
    """Burn captions (current word highlighted) and a title into the avatar video; mux the speech."""
    info = probe(avatar_mp4)
    if not info.has_video or info.width <= 0 or info.fps <= 0:
        raise InputError(f"avatar video {str(avatar_mp4)!r} has no readable video stream")
    w, h, fps = info.width, info.height, info.fps
    captions = build_captions(words)
    painter = CaptionPainter(w, h)
    title_img = render_title(title, w, h)
    audio_filter = _gain_filter(Path(audio))
    buf = bytearray(w * h * 3)
    frame = np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)
    with tempfile.TemporaryFile() as err:
        decoder = subprocess.Popen(
            [
                ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
                "-i", str(avatar_mp4), "-an", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
            ],
            stdout=subprocess.PIPE, stderr=err,
        )  # fmt: skip
        assert decoder.stdout is not None
        stream = decoder.stdout
        try:
            with FrameWriter(
                out_mp4, (w, h), fps, audio=audio, audio_filter=audio_filter, crf=crf, preset=preset
            ) as writer:
                ci = 0
                for i in itertools.count():
                    if not _read_exact(stream, buf):
                        break
                    t = i / fps
                    while ci < len(captions) and captions[ci].end <= t:
                        ci += 1
                    if ci < len(captions) and captions[ci].start <= t:
                        cap = captions[ci]
                        img, x, y = painter.render(cap, _active_word(cap, t))
                        _blend(frame, img, x, y)
                    if title_img is not None:
                        _blend(frame, *title_img)
                    writer.write(frame)
        except Exception:
            stream.close()
            if decoder.wait() != 0:
                err.seek(0)
                raise InputError(
                    f"cannot decode avatar video {str(avatar_mp4)!r}: "
                    f"{err.read().decode('utf-8', 'replace')[-500:]}"
                ) from None
            raise
        stream.close()
        decoder.wait()
    out_info = probe(out_mp4)
    return ComposeInfo(
        width=w,
        height=h,
        fps=fps,
        duration_s=out_info.duration_s,
        size_bytes=Path(out_mp4).stat().st_size,
    )
