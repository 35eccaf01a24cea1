"""The publish package's thumbnail: a frame of the video that shows the presenter's face with
open eyes, and the headline drawn cleanly over the caption band, so no half caption shows.

A frame is chosen from a dozen sampled between the intro and outro cards: a face must be
found, its eyes must look open (at least 90 % of the most open look sampled: a blink is
skipped), and a frame without a caption on screen (from the video's SRT) beats one with.
The caption band (the lower 31 %, where captions are drawn) is then covered by a headline
panel: the headline wrapped, shrunk to fit and never cut mid-word (:func:`fit_title`).

Face finding goes through :func:`presenter_face` only, so a better detector is one line there.
"""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from novaavatar.media import extract_frame, probe

CANDIDATES = 12
OPEN_SHARE = 0.9  # eyes this open, relative to the most open sampled, count as open
CAPTION_BAND = 0.69  # captions are drawn below this share of the height (compose.CaptionPainter)
PANEL = (10, 12, 20)
PANEL_TEXT = (255, 255, 255)
PANEL_STRIPE = (255, 201, 40)
_SRT_TIME = re.compile(r"(\d+):(\d\d):(\d\d)[,.](\d{3})\s*-->\s*(\d+):(\d\d):(\d\d)[,.](\d{3})")


@dataclass(frozen=True)
class SeenFace:
    """A face found in a frame: its box (x, y, w, h) and how open its eyes look (larger is
    more open; comparable between frames of one video, not between videos)."""

    box: tuple[float, float, float, float]
    eye_openness: float


def presenter_face(frame: np.ndarray) -> SeenFace | None:
    """The presenter's face in an RGB frame and how open its eyes look, or None: the lite
    renderer's face mesh, the eye openness as the contrast around each eye."""
    from novaavatar.errors import InputError
    from tasks.render.landmarks import find_face

    try:
        marks = find_face(frame, "video frame")
    except InputError:  # no face (a closed-eye drawn presenter is not found either), or several
        try:
            marks = find_face(frame, "video frame", face_index=0)
        except InputError:
            return None
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    x, y, w, h = marks.box
    r = max(2, round(0.12 * w))
    spread = []
    for ex, ey in marks.eyes:  # white of the eye and iris: a wide spread; a lid: a narrow one
        win = gray[max(0, round(ey) - r) : round(ey) + r, max(0, round(ex) - r) : round(ex) + r]
        spread.append(float(win.std()) if win.size else 0.0)
    return SeenFace((x, y, w, h), min(spread))


def caption_spans(srt: str) -> list[tuple[float, float]]:
    """(start, end) seconds of each cue of an SRT or WebVTT text."""
    spans = []
    for m in _SRT_TIME.finditer(srt):
        g = [int(v) for v in m.groups()]
        spans.append(
            (
                g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000,
                g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000,
            )
        )
    return spans


@dataclass(frozen=True)
class ThumbnailChoice:
    """The chosen moment and why: the face found there and whether a caption showed."""

    t: float
    face: SeenFace | None
    captioned: bool


def choose_frame(
    video: Path, srt: str = "", *, intro_s: float = 0.0, outro_s: float = 0.0
) -> tuple[np.ndarray, ThumbnailChoice]:
    """The frame for the thumbnail (RGB) and the choice made (see the module doc)."""
    info = probe(video)
    fps = info.fps if info.fps > 0 else 25.0
    start = min(intro_s + 2 / fps, info.duration_s)
    end = max(start, info.duration_s - outro_s - 2 / fps)
    spans = caption_spans(srt)
    times = set(np.linspace(start, end, CANDIDATES).round(3).tolist())
    # the gaps between captions, where a frame shows none at all
    edges = sorted([start, *(b for _, b in spans), *(a for a, _ in spans), end])
    for a, b in itertools.pairwise(edges):
        mid = (a + b) / 2
        if b - a >= 2 / fps and start <= mid <= end and not _captioned(mid, spans):
            times.add(round(mid, 3))
    seen = []
    for t in sorted(times):
        frame = extract_frame(video, t)
        seen.append((t, frame, presenter_face(frame)))
    faces = [f.eye_openness for _, _, f in seen if f is not None]
    most_open = max(faces, default=0.0)

    def rank(
        c: tuple[float, np.ndarray, SeenFace | None],
    ) -> tuple[bool, bool, float, bool, float]:
        t, _, face = c
        is_open = face is not None and face.eye_openness >= OPEN_SHARE * most_open
        # the most open eyes (to a hundredth of the most open: a half blink loses even to a
        # captioned frame, whose caption the headline panel covers), then no caption, then a
        # third of the way in
        openness = round(face.eye_openness / most_open, 2) if face is not None and most_open else 0
        return (
            face is not None,
            is_open,
            openness,
            not _captioned(t, spans),
            -abs(t - (start + (end - start) / 3)),
        )

    t, frame, face = max(seen, key=rank)
    return frame, ThumbnailChoice(t, face, _captioned(t, spans))


def _captioned(t: float, spans: list[tuple[float, float]]) -> bool:
    return any(a <= t < b for a, b in spans)


def draw_headline(frame: np.ndarray, headline: str) -> Image.Image:
    """``frame`` with a headline panel over its caption band: wrapped and shrunk to fit, never
    cut mid-word; right-aligned for a right-to-left headline."""
    from tasks.compose.text import draw_text, mostly_rtl, text_width
    from tasks.compose.video import fit_title

    img = Image.fromarray(frame).convert("RGB")
    w, h = img.size
    headline = " ".join(headline.split())
    top = round(h * CAPTION_BAND)
    d = ImageDraw.Draw(img)
    d.rectangle((0, top, w, h), fill=PANEL)
    stripe = max(3, round(min(w, h) * 0.012))
    d.rectangle((0, top, w, top + stripe), fill=PANEL_STRIPE)
    if not headline:
        return img
    margin = round(w * 0.06)
    band_h = h - top - stripe
    size = max(12, round(min(w, h) * 0.085))
    font, lines = fit_title(headline, size, w - 2 * margin, max_lines=3, min_scale=0.55)
    px = int(getattr(font, "size", size))
    ascent, descent = (
        font.getmetrics() if isinstance(font, ImageFont.FreeTypeFont) else (px, px // 4)
    )
    line_h = ascent + descent
    y = top + stripe + max(0, (band_h - line_h * len(lines)) // 2)
    rtl = mostly_rtl(headline)
    for row, text in enumerate(lines):
        x = w - margin - text_width(font, text) if rtl else margin
        draw_text(d, (x, y + row * line_h), text, font, PANEL_TEXT)
    return img


def thumbnail_jpeg(
    video: Path, headline: str, srt: str = "", *, intro_s: float = 0.0, outro_s: float = 0.0
) -> tuple[bytes, ThumbnailChoice]:
    """The package's ``thumbnail.jpg`` and the moment it shows."""
    frame, choice = choose_frame(video, srt, intro_s=intro_s, outro_s=outro_s)
    buf = io.BytesIO()
    draw_headline(frame, headline).save(buf, format="JPEG", quality=90)
    return buf.getvalue(), choice
