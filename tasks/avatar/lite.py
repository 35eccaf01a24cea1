"""The "lite" CPU presenter: a drawn (or user-portrait) presenter lip-synced to phoneme timings.

How it stays fast: the background and the static body are composed once; per frame only the
head (illustrated) or the face panel (portrait) is pasted, from patches cached by quantised
mouth × blink state, then nudged by a tiny deterministic head motion.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from novaavatar.domain import PhonemeTiming, WordTiming
from novaavatar.errors import InputError
from novaavatar.media import (
    MAX_AUDIO_S,
    FrameWriter,
    i420_planes,
    paste_rgb_i420,
    read_audio,
    rgb_to_i420,
)
from tasks.render.images import cover as _cover
from tasks.render.images import load_image as _load_image
from tasks.render.photo import (
    BLINK_LEVELS,
    BREATH_LEVELS,
    OPEN_LEVELS,
    WIDTH_LEVELS,
    FaceLandmarks,
    PortraitPresenter,
    load_portrait,
    locate_face,
)
from tasks.render.photo import framed_base as _framed_base
from tasks.render.pipe import OverlappedWriter

if TYPE_CHECKING:
    from novaavatar.templates import Brand
    from tasks.avatar.scenes import Overlay, SceneBackground

AUDIO_RATE = 16000
TRACK_RATE = 100  # mouth targets are laid out at 100 Hz, smoothed, then sampled per frame
COARTIC_SIGMA_S = 0.035  # Gaussian co-articulation: neighbouring visemes blend over ~70 ms
VISUAL_LEAD_S = 0.02  # lips shape a sound slightly before it is heard


@dataclass(frozen=True)
class AvatarInfo:
    """What :func:`render_lite` wrote."""

    width: int
    height: int
    fps: int
    duration_s: float
    frames: int
    captions_burnt: bool = False  # rendered with captions/title: compose only adds the speech


# --- visemes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MouthShape:
    """A mouth pose: open 0..1 (jaw drop), width -1 (rounded) .. +1 (spread), teeth/tongue 0..1,
    press 0..1 (lips pressed together: m/b/p), tuck 0..1 (lower lip under the teeth: f/v)."""

    open: float
    width: float = 0.0
    teeth: float = 0.0
    tongue: float = 0.0
    press: float = 0.0
    tuck: float = 0.0


_REST = MouthShape(0.0, 0.0)
_V = MouthShape
# eSpeak NG English mnemonics; unknown ones fall back by their first letter (see viseme_for).
VISEMES: dict[str, MouthShape] = {
    # silence and lips pressed together
    "_": _REST,
    "_:": _REST,
    "_!": _REST,
    "_|": _REST,
    "||": _REST,
    "|": _REST,
    "p": _V(0.0, 0.05, press=1),
    "b": _V(0.0, 0.05, press=1),
    "m": _V(0.0, 0.1, press=1),
    # lower lip under the upper teeth
    "f": _V(0.08, 0.2, teeth=1, tuck=1),
    "v": _V(0.08, 0.2, teeth=1, tuck=1),
    # tongue between the teeth
    "T": _V(0.16, 0.15, teeth=1, tongue=1),
    "D": _V(0.16, 0.15, teeth=1, tongue=1),
    # sibilants: teeth together, lips spread (s) or pushed forward (sh)
    "s": _V(0.1, 0.45, teeth=1),
    "z": _V(0.1, 0.45, teeth=1),
    "S": _V(0.14, -0.45, teeth=1),
    "Z": _V(0.14, -0.45, teeth=1),
    "tS": _V(0.15, -0.4, teeth=1),
    "dZ": _V(0.15, -0.4, teeth=1),
    # tongue-tip and back consonants
    "t": _V(0.2, 0.25, teeth=1),
    "d": _V(0.2, 0.25, teeth=1),
    "n": _V(0.18, 0.2, teeth=1),
    "l": _V(0.25, 0.15, tongue=1),
    "L": _V(0.25, 0.15, tongue=1),
    "k": _V(0.3, 0.1),
    "g": _V(0.3, 0.1),
    "N": _V(0.22, 0.1),
    "h": _V(0.35, 0.05),
    "r": _V(0.2, -0.5),
    "r-": _V(0.2, -0.5),
    "R": _V(0.2, -0.5),
    "w": _V(0.12, -1.0),
    "j": _V(0.2, 0.55, teeth=1),
    "x": _V(0.3, 0.1),
    "?": _V(0.1, 0.0),
    # vowels
    "a": _V(0.85, 0.25),
    "a#": _V(0.75, 0.2),
    "A": _V(0.9, 0.0),
    "A:": _V(0.9, 0.0),
    "A@": _V(0.8, -0.1),
    "V": _V(0.65, 0.1),
    "&": _V(0.7, 0.5, teeth=1),
    "@": _V(0.35, 0.0),
    "@2": _V(0.35, 0.0),
    "@5": _V(0.3, -0.3),
    "3": _V(0.4, -0.2),
    "3:": _V(0.4, -0.3),
    "@L": _V(0.35, 0.1, tongue=1),
    "e": _V(0.5, 0.55, teeth=1),
    "E": _V(0.55, 0.5, teeth=1),
    "i": _V(0.25, 0.8, teeth=1),
    "i:": _V(0.25, 0.85, teeth=1),
    "I": _V(0.3, 0.6, teeth=1),
    "I2": _V(0.3, 0.6, teeth=1),
    "i@": _V(0.3, 0.6, teeth=1),
    "o": _V(0.55, -0.65),
    "O": _V(0.65, -0.5),
    "O:": _V(0.65, -0.55),
    "0": _V(0.7, -0.3),
    "u": _V(0.25, -0.9),
    "u:": _V(0.25, -0.95),
    "U": _V(0.3, -0.75),
}
# Diphthongs glide between two targets within their duration.
DIPHTHONGS: dict[str, tuple[str, str]] = {
    "aI": ("a", "I"),
    "aU": ("a", "U"),
    "eI": ("e", "I"),
    "oU": ("o", "U"),
    "OI": ("O", "I"),
    "e@": ("E", "@"),
    "I@": ("I", "@"),
    "U@": ("U", "@"),
    "aI@": ("a", "@"),
    "aU@": ("a", "@"),
    "O@": ("O", "@"),
    "o@": ("o", "@"),
    "i@3": ("I", "@"),
    "eI@": ("e", "@"),
}
_VOWEL_FALLBACK = {
    "a": "a",
    "A": "A",
    "e": "e",
    "E": "E",
    "i": "i",
    "I": "I",
    "o": "o",
    "O": "O",
    "u": "u",
    "U": "U",
    "V": "V",
    "@": "@",
    "3": "3",
    "&": "&",
    "0": "0",
    "y": "u",
    "Y": "u",
}
_NEUTRAL_CONSONANT = MouthShape(0.2, 0.1)


def viseme_for(phoneme: str) -> tuple[MouthShape, ...]:
    """Mouth targets for an eSpeak phoneme (two for diphthongs); unknown ones degrade gracefully."""
    ph = phoneme.strip().lstrip("',%=").rstrip(";")
    if not ph or ph.startswith("_") or ph in ("|", "||"):
        return (_REST,)
    if ph in DIPHTHONGS:
        return tuple(VISEMES[p] for p in DIPHTHONGS[ph])
    for cand in (ph, ph.rstrip(":"), ph.rstrip("#"), ph.replace(":", "").replace("#", "")):
        if cand in VISEMES:
            return (VISEMES[cand],)
        if cand in DIPHTHONGS:
            return tuple(VISEMES[p] for p in DIPHTHONGS[cand])
    if ph[0] in _VOWEL_FALLBACK:
        return (VISEMES[_VOWEL_FALLBACK[ph[0]]],)
    if ph[0] in VISEMES:
        return (VISEMES[ph[0]],)
    return (_NEUTRAL_CONSONANT,)


def _gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Smooth along axis 0 with edge padding (sigma in samples)."""
    if sigma <= 0 or len(x) < 2:
        return x
    radius = max(1, int(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    pad = np.pad(x, [(radius, radius)] + [(0, 0)] * (x.ndim - 1), mode="edge")
    if x.ndim == 1:
        return np.convolve(pad, k, mode="valid")
    return np.stack([np.convolve(pad[:, j], k, mode="valid") for j in range(x.shape[1])], axis=1)


def mouth_track(
    phonemes: Sequence[PhonemeTiming],
    n_frames: int,
    fps: float,
    audio: np.ndarray | None = None,
) -> np.ndarray:
    """Per-frame mouth pose (n_frames × 6: open, width, teeth, tongue, press, tuck), co-articulated.

    Without phoneme timings (a TTS that gives none), the audio loudness drives the jaw instead.
    """
    duration = n_frames / fps
    n = math.ceil(duration * TRACK_RATE) + 1
    target = np.zeros((n, 6), dtype=np.float64)
    if phonemes:
        for ph in sorted(phonemes, key=lambda p: p.start):
            shapes = viseme_for(ph.phoneme)
            i0 = round(ph.start * TRACK_RATE)
            i1 = max(i0 + 1, round(ph.end * TRACK_RATE))
            i0, i1 = min(i0, n), min(i1, n)
            bounds = np.linspace(i0, i1, len(shapes) + 1).round().astype(int)
            for shape, a, b in zip(shapes, bounds[:-1], bounds[1:], strict=True):
                target[a:b] = (
                    shape.open,
                    shape.width,
                    shape.teeth,
                    shape.tongue,
                    shape.press,
                    shape.tuck,
                )
    elif audio is not None and audio.size:
        hop = AUDIO_RATE // TRACK_RATE
        m = min(n, audio.size // hop)
        rms = np.sqrt(np.mean(audio[: m * hop].reshape(m, hop) ** 2, axis=1) + 1e-12)
        ref = float(np.percentile(rms, 95)) or 1.0
        level = np.clip((rms / ref - 0.1) / 0.8, 0, 1)
        target[:m, 0] = level * 0.8
        target[:m, 1] = 0.15
    smooth = _gaussian_smooth(target, COARTIC_SIGMA_S * TRACK_RATE)
    # smoothing flattens short vowels; give the jaw back some of their peak
    smooth[:, 0] = np.clip(smooth[:, 0] * 1.2, 0, 1)
    t = ((np.arange(n_frames) + 0.5) / fps + VISUAL_LEAD_S) * TRACK_RATE
    idx = np.clip(t, 0, n - 1)
    lo = np.floor(idx).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    frac = (idx - lo)[:, None]
    return smooth[lo] * (1 - frac) + smooth[hi] * frac


def blink_track(n_frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Per-frame eyelid closure 0..1: ~120 ms blinks every 3–6 s (irregular), placed by ``rng``."""
    closure = np.zeros(n_frames)
    n_blink = max(3, round(0.12 * fps))
    profile = np.sin(np.pi * (np.arange(n_blink) + 0.5) / n_blink)
    t = float(rng.uniform(0.8, 2.5))
    while True:
        start = round(t * fps)
        if start + n_blink > n_frames:
            break
        closure[start : start + n_blink] = np.maximum(closure[start : start + n_blink], profile)
        t += float(rng.uniform(3.0, 6.0))
    return closure


def head_motion(
    n_frames: int, fps: float, rng: np.random.Generator, openness: np.ndarray
) -> np.ndarray:
    """Per-frame (dx, dy, angle°) idle sway: slow sinusoids with seeded phases plus a speech nod."""
    t = np.arange(n_frames) / fps
    out = np.zeros((n_frames, 3))
    for axis, amp in enumerate((1.0, 0.6, 0.7)):
        for freq in rng.uniform(0.07, 0.35, size=3):
            out[:, axis] += amp / 3 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    # Speakers nod slightly into stressed, open syllables.
    nod = _gaussian_smooth(openness.astype(np.float64), 0.15 * fps)
    out[:, 1] += 0.8 * nod
    out[:, 2] += 0.4 * nod
    return out


BREATH_MIN_PAUSE_S = 0.5  # a silent stretch this long is a breath
BREATH_IN_S = 0.45  # time constants of breathing in (in a pause) and out (speaking again)
BREATH_OUT_S = 0.9
BREATH_CYCLE_S = 4.0  # in a long pause the chest keeps rising and falling this slowly


def breath_track(openness: np.ndarray, fps: float) -> np.ndarray:
    """Per-frame breath 0..1: the presenter breathes in through each silent stretch (lips
    closed for BREATH_MIN_PAUSE_S or more), slowly, and out again once speaking."""
    n = len(openness)
    quiet = np.asarray(openness) < 0.08
    target = np.zeros(n)
    i = 0
    while i < n:
        j = i
        while j < n and quiet[j] == quiet[i]:
            j += 1
        if quiet[i] and (j - i) / fps >= BREATH_MIN_PAUSE_S:
            t = np.arange(j - i) / fps
            target[i:j] = 0.6 + 0.4 * np.cos(2 * np.pi * t / BREATH_CYCLE_S)
        i = j
    out = np.zeros(n)
    level = 0.0
    rise, fall = 1 - math.exp(-1 / (BREATH_IN_S * fps)), 1 - math.exp(-1 / (BREATH_OUT_S * fps))
    for k in range(n):
        level += (target[k] - level) * (rise if target[k] > level else fall)
        out[k] = level
    return out


def _quantise_breath(b: float) -> int:
    return round(float(np.clip(b, 0, 1)) * (BREATH_LEVELS - 1))


def _quantise_mouth(pose: np.ndarray) -> tuple[int, ...]:
    """(open, width, teeth, tongue, press, tuck) levels of a track row: the presenters'
    cache key.
    """
    o = round(float(np.clip(pose[0], 0, 1)) * (OPEN_LEVELS - 1))
    w = round((float(np.clip(pose[1], -1, 1)) + 1) / 2 * (WIDTH_LEVELS - 1))
    teeth = int(pose[2] > 0.5) if o > 0 else 0
    tongue = int(pose[3] > 0.5) if o > 0 else 0
    press = int(len(pose) > 4 and pose[4] > 0.5 and o <= 1)
    tuck = int(len(pose) > 5 and pose[5] > 0.5)
    return o, w, teeth, tongue, press, tuck


def _dequantise_mouth(key: tuple[int, ...]) -> MouthShape:
    o, w, teeth, tongue = key[:4]
    return MouthShape(o / (OPEN_LEVELS - 1), w / (WIDTH_LEVELS - 1) * 2 - 1, teeth, tongue)


def _quantise_blink(c: float) -> int:
    return round(float(np.clip(c, 0, 1)) * (BLINK_LEVELS - 1))


# --- image helpers ---------------------------------------------------------------------------


def _premultiply(rgba: np.ndarray) -> np.ndarray:
    out = rgba.astype(np.uint16)
    out[..., :3] = (out[..., :3] * out[..., 3:4] + 127) // 255
    return out.astype(np.uint8)


def _blend_premultiplied(dst: np.ndarray, src: np.ndarray, x: int, y: int) -> None:
    """Alpha-blend a premultiplied RGBA ``src`` into RGB ``dst`` at (x, y), clipped to ``dst``."""
    h, w = src.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, dst.shape[1]), min(y + h, dst.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    s = src[y0 - y : y1 - y, x0 - x : x1 - x]
    d = dst[y0:y1, x0:x1]
    inv = 255 - s[..., 3:4].astype(np.uint16)
    mixed = d.astype(np.uint16) * inv + 128
    d[...] = ((mixed + (mixed >> 8)) >> 8) + s[..., :3]


def _rgb(c: tuple[int, int, int], a: int = 255) -> tuple[int, int, int, int]:
    return (c[0], c[1], c[2], a)


def _even_box(x: int, y: int, w: int, h: int, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) covering the rectangle, clipped to the frame, corners on even pixels."""
    x0, y0 = max(0, x) // 2 * 2, max(0, y) // 2 * 2
    x1 = min(shape[1], (x + w + 1) // 2 * 2)
    y1 = min(shape[0], (y + h + 1) // 2 * 2)
    return x0, y0, max(x0, x1), max(y0, y1)


def _paste(base: np.ndarray, x: int, y: int, region: np.ndarray) -> np.ndarray:
    out = base.copy()
    out[y : y + region.shape[0], x : x + region.shape[1]] = region
    return out


# --- illustrated presenter -------------------------------------------------------------------

SKIN = (233, 184, 150)
SKIN_SHADE = (210, 156, 124)
BLUSH = (236, 140, 130)
HAIR = (58, 38, 32)
HAIR_SHINE = (92, 62, 50)
SUIT = (34, 52, 92)
SUIT_SHADE = (24, 38, 70)
BLOUSE = (244, 244, 248)
BLOUSE_SHADE = (214, 218, 230)
LIPS = (196, 92, 96)
LIPS_DARK = (160, 64, 74)
MOUTH_IN = (92, 30, 42)
TEETH = (250, 250, 246)
TONGUE = (214, 104, 112)
EYE_WHITE = (252, 252, 252)
IRIS = (86, 58, 40)
PUPIL = (28, 20, 18)
LINE = (52, 34, 30)

SS = 4  # supersampling factor for anti-aliased drawing; box-reduced afterwards


def _arc_pts(
    cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 48
) -> list[tuple[float, float]]:
    ang = np.linspace(a0, a1, n)
    return [(cx + rx * math.cos(t), cy + ry * math.sin(t)) for t in ang]


class _Presenter:
    """What every presenter offers: ``region`` (the part of a frame that changes) and the
    whole ``frame`` built from it."""

    def region(
        self,
        base: np.ndarray,
        mouth: tuple[int, ...],
        blink: int,
        motion: np.ndarray,
    ) -> tuple[int, int, np.ndarray]:
        raise NotImplementedError

    def frame(
        self,
        base: np.ndarray,
        mouth: tuple[int, ...],
        blink: int,
        motion: np.ndarray,
    ) -> np.ndarray:
        """One frame: this mouth/blink state, swayed by ``motion``, pasted over ``base``."""
        return _paste(base, *self.region(base, mouth, blink, motion))


class IllustratedPresenter(_Presenter):
    """A flat-illustration news presenter drawn with Pillow; units are the face half-width ``a``."""

    def __init__(self, size: tuple[int, int], zoom: float = 1.0) -> None:
        w, h = size
        self.size = size
        tall = h / w > 1.2
        head_h = min(0.36 * h, 0.40 * w) * zoom
        self.a = a = head_h / 2.85
        self.cx = w / 2
        self.cy = h * (0.5 if tall else 0.42)
        # head patch: face-centred box in a-units, with a margin for the idle motion
        self.hx0, self.hx1, self.hy0, self.hy1 = -1.5, 1.5, -1.8, 1.5
        margin = 6
        self.px0 = math.floor(self.cx + self.hx0 * a) - margin
        self.py0 = math.floor(self.cy + self.hy0 * a) - margin
        self.pw = math.ceil((self.hx1 - self.hx0) * a) + 2 * margin
        self.ph = math.ceil((self.hy1 - self.hy0) * a) + 2 * margin
        # rotation pivot (the neck) in patch pixels
        self.pivot = (self.cx - self.px0, self.cy + 1.25 * a - self.py0)
        self._head_base_hi = self._draw_head_base()
        self._head_base = np.asarray(self._head_base_hi.reduce(SS), dtype=np.uint8).copy()
        self.eye_box = self._box(-0.74, -0.36, 0.74, 0.02)
        self.mouth_box = self._box(-0.5, 0.36, 0.5, 0.98)
        self._eyes: dict[int, np.ndarray] = {}
        self._mouths: dict[tuple[int, ...], np.ndarray] = {}
        self._patches: dict[tuple[tuple[int, ...], int], np.ndarray] = {}

    # coordinates
    def _P(self, x: float, y: float) -> tuple[float, float]:
        """a-units relative to the face centre → supersampled head-patch pixels."""
        return ((self.cx + x * self.a - self.px0) * SS, (self.cy + y * self.a - self.py0) * SS)

    def _pts(self, pts: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        return [self._P(x, y) for x, y in pts]

    def _box(self, x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
        """A patch-pixel box (left, top, right, bottom) around an a-unit rectangle."""
        lx, t = self._P(x0, y0)
        r, b = self._P(x1, y1)
        return (int(lx // SS), int(t // SS), math.ceil(r / SS), math.ceil(b / SS))

    def _ell(
        self,
        draw: ImageDraw.ImageDraw,
        cx: float,
        cy: float,
        rx: float,
        ry: float,
        fill: tuple[int, ...],
    ) -> None:
        x0, y0 = self._P(cx - rx, cy - ry)
        x1, y1 = self._P(cx + rx, cy + ry)
        draw.ellipse((x0, y0, x1, y1), fill=fill)

    def _face_outline(self) -> list[tuple[float, float]]:
        pts = []
        for t in np.linspace(0, 2 * np.pi, 120, endpoint=False):
            s = math.sin(t)
            x = math.cos(t) * (1 - 0.2 * max(s, 0) ** 2)
            y = 1.3 * s if s > 0 else 1.2 * s
            pts.append((x, y))
        return pts

    def _draw_head_base(self) -> Image.Image:
        img = Image.new("RGBA", (self.pw * SS, self.ph * SS), (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        # hair behind the head: a bob ending at the jaw
        back = [
            *_arc_pts(0, -0.35, 1.3, 1.3, math.pi, 2 * math.pi),
            (1.32, 0.2),
            (1.24, 0.72),
            (1.0, 0.92),
            (0.8, 0.86),
            (-0.8, 0.86),
            (-1.0, 0.92),
            (-1.24, 0.72),
            (-1.32, 0.2),
        ]
        d.polygon(self._pts(back), fill=_rgb(HAIR))
        # ears
        for sx in (-1, 1):
            self._ell(d, sx * 0.98, 0.02, 0.16, 0.25, _rgb(SKIN_SHADE))
            self._ell(d, sx * 1.0, 0.04, 0.08, 0.15, _rgb((196, 140, 112)))
        d.polygon(self._pts(self._face_outline()), fill=_rgb(SKIN))
        # soft shading: cheeks and under the fringe
        overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
        od = ImageDraw.Draw(overlay)
        for sx in (-1, 1):
            self._ell(od, sx * 0.56, 0.34, 0.17, 0.09, _rgb(BLUSH, 45))
        overlay = overlay.filter(ImageFilter.GaussianBlur(radius=0.08 * self.a * SS))
        img.alpha_composite(overlay)
        d = ImageDraw.Draw(img)
        # fringe: swept from a side parting
        fringe = [
            *_arc_pts(0, -0.42, 1.16, 1.22, math.pi * 1.02, 2 * math.pi * 0.99),
            (1.12, 0.1),
            (1.02, -0.35),
            (0.82, -0.7),
            (0.45, -0.86),
            (0.05, -0.84),
            (-0.3, -0.76),
            (-0.62, -0.6),
            (-0.88, -0.32),
            (-1.04, 0.1),
            (-1.14, 0.05),
        ]
        d.polygon(self._pts(fringe), fill=_rgb(HAIR))
        shine = _arc_pts(-0.25, -1.0, 0.55, 0.35, math.pi * 1.15, math.pi * 1.55, 20)
        d.line(
            self._pts(shine), fill=_rgb(HAIR_SHINE), width=int(0.07 * self.a * SS), joint="curve"
        )
        # eyebrows: tapered arcs
        for sx in (-1, 1):
            xs = np.linspace(-0.22, 0.22, 24)
            top = [(sx * 0.4 + x, -0.47 - 0.07 * (1 - (x / 0.22) ** 2) - 0.02 * sx * x) for x in xs]
            thick = [0.055 * (1 - 0.55 * ((x * sx + 0.22) / 0.44)) + 0.012 for x in xs]
            bot = [(px, py + th) for (px, py), th in zip(top, thick, strict=True)]
            d.polygon(self._pts(top + bot[::-1]), fill=_rgb(LINE))
        # nose: a soft tip shadow and nostrils
        d.arc(
            (*self._P(-0.12, 0.12), *self._P(0.12, 0.34)),
            20,
            160,
            fill=_rgb(SKIN_SHADE),
            width=int(0.045 * self.a * SS),
        )
        for sx in (-1, 1):
            self._ell(d, sx * 0.065, 0.29, 0.035, 0.022, _rgb((180, 120, 100)))
        return img

    # eyes
    def _eye_curves(self, sx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = np.linspace(-1, 1, 32)
        x = sx * 0.4 + 0.21 * s
        upper = -0.18 - 0.135 * (1 - s**2) ** 0.8 - 0.015 * s * sx
        lower = -0.18 + 0.085 * (1 - s**2) ** 0.9
        return x, upper, lower

    def _eye_patch(self, blink_q: int) -> np.ndarray:
        if blink_q in self._eyes:
            return self._eyes[blink_q]
        lx, t, r, b = self.eye_box
        img = self._head_base_hi.crop((lx * SS, t * SS, r * SS, b * SS))
        off = (lx * SS, t * SS)
        closure = blink_q / (BLINK_LEVELS - 1)
        lw = int(0.045 * self.a * SS)

        def P(x: float, y: float) -> tuple[float, float]:
            px, py = self._P(x, y)
            return (px - off[0], py - off[1])

        d = ImageDraw.Draw(img)
        for sx in (-1, 1):
            x, upper, lower = self._eye_curves(sx)
            almond = [P(a, b) for a, b in zip(x, upper, strict=True)] + [
                P(a, b) for a, b in zip(x[::-1], lower[::-1], strict=True)
            ]
            mask = Image.new("L", img.size, 0)
            ImageDraw.Draw(mask).polygon(almond, fill=255)
            eye = Image.new("RGBA", img.size, _rgb(EYE_WHITE))
            ed = ImageDraw.Draw(eye)
            ecx, ecy = sx * 0.4, -0.19
            for rad, col in ((0.112, IRIS), (0.055, PUPIL)):
                ed.ellipse((*P(ecx - rad, ecy - rad), *P(ecx + rad, ecy + rad)), fill=_rgb(col))
            ed.ellipse(
                (*P(ecx + 0.01, ecy - 0.06), *P(ecx + 0.05, ecy - 0.02)), fill=_rgb(EYE_WHITE)
            )
            img.paste(eye, (0, 0), mask)
            lid = upper + closure * (lower - upper)
            if closure > 0:
                cover = [P(a, b - 0.04) for a, b in zip(x, upper, strict=True)] + [
                    P(a, b) for a, b in zip(x[::-1], lid[::-1], strict=True)
                ]
                d.polygon(cover, fill=_rgb(SKIN))
            # lid line with a small flick at the outer corner
            line = [P(a, b) for a, b in zip(x, lid, strict=True)]
            outer = line[-1] if sx > 0 else line[0]
            flick = P(sx * 0.66, -0.26 + 0.06 * closure)
            d.line(line, fill=_rgb(LINE), width=lw, joint="curve")
            d.line([outer, flick], fill=_rgb(LINE), width=lw)
            if closure < 0.99:
                d.line(
                    [P(a, b) for a, b in zip(x[4:-4], lower[4:-4], strict=True)],
                    fill=_rgb(SKIN_SHADE),
                    width=max(1, lw // 3),
                )
        patch = np.asarray(img.reduce(SS), dtype=np.uint8).copy()
        self._eyes[blink_q] = patch
        return patch

    # mouth
    def _mouth_patch(self, key: tuple[int, ...]) -> np.ndarray:
        if key in self._mouths:
            return self._mouths[key]
        shape = _dequantise_mouth(key)
        lx, t, r, b = self.mouth_box
        img = self._head_base_hi.crop((lx * SS, t * SS, r * SS, b * SS))
        off = (lx * SS, t * SS)

        def P(x: float, y: float) -> tuple[float, float]:
            px, py = self._P(x, y)
            return (px - off[0], py - off[1])

        self._draw_mouth(img, P, shape)
        patch = np.asarray(img.reduce(SS), dtype=np.uint8).copy()
        self._mouths[key] = patch
        return patch

    def _draw_mouth(
        self, img: Image.Image, P: Callable[[float, float], tuple[float, float]], m: MouthShape
    ) -> None:
        d = ImageDraw.Draw(img)
        my = 0.64
        rnd = max(0.0, -m.width)
        half_w = 0.27 * (1 + 0.2 * m.width) * (1 - 0.1 * rnd)
        opening = 0.34 * m.open
        y_up, y_lo = my - 0.28 * opening, my + 0.72 * opening
        s = np.linspace(-1, 1, 41)
        bulge = (1 - s**2) ** (0.42 + 0.2 * rnd)
        xs = s * half_w
        smile = -0.025 * (1 - rnd) * s**2  # corners slightly up
        bow = 0.014 * np.exp(-(((np.abs(s) - 0.35) / 0.2) ** 2)) - 0.012 * np.exp(
            -((s / 0.14) ** 2)
        )
        lip_up = (0.07 + bow) * (1 - s**2) ** 0.5 * (1 + 0.3 * rnd)
        lip_lo = 0.085 * (1 - s**2) ** 0.6 * (1 + 0.3 * rnd)
        in_up = my + smile - (my - y_up) * bulge
        in_lo = my + smile + (y_lo - my) * bulge
        outer_up = in_up - lip_up
        outer_lo = in_lo + lip_lo
        lips = [P(x, y) for x, y in zip(xs, outer_up, strict=True)] + [
            P(x, y) for x, y in zip(xs[::-1], outer_lo[::-1], strict=True)
        ]
        d.polygon(lips, fill=_rgb(LIPS))
        # lower lip is lighter: a soft highlight band
        d.line(
            [
                P(x, y - 0.5 * ll)
                for x, y, ll in zip(xs[10:-10], outer_lo[10:-10], lip_lo[10:-10], strict=True)
            ],
            fill=_rgb((214, 118, 118)),
            width=max(1, int(0.03 * self.a * SS)),
            joint="curve",
        )
        if opening < 0.02:
            d.line(
                [P(x, y) for x, y in zip(xs, in_up, strict=True)],
                fill=_rgb(LIPS_DARK),
                width=max(1, int(0.028 * self.a * SS)),
                joint="curve",
            )
            return
        inner = [P(x, y) for x, y in zip(xs, in_up, strict=True)] + [
            P(x, y) for x, y in zip(xs[::-1], in_lo[::-1], strict=True)
        ]
        mask = Image.new("L", img.size, 0)
        ImageDraw.Draw(mask).polygon(inner, fill=255)
        mouth = Image.new("RGBA", img.size, _rgb(MOUTH_IN))
        md = ImageDraw.Draw(mouth)
        teeth_h = 0.06 if m.teeth > 0.5 else 0.035
        md.rectangle((*P(-half_w, y_up - 0.1), *P(half_w, y_up + teeth_h)), fill=_rgb(TEETH))
        if m.teeth > 0.5 and opening < 0.12:
            md.rectangle((*P(-half_w, y_lo - 0.04), *P(half_w, y_lo + 0.1)), fill=_rgb(TEETH))
        if m.tongue > 0.5:
            tw, ty = 0.6 * half_w, y_up + 0.45 * (y_lo - y_up)
            md.ellipse((*P(-tw, ty), *P(tw, y_lo + 0.3 * opening)), fill=_rgb(TONGUE))
        elif m.open > 0.3:
            tw = 0.7 * half_w
            md.ellipse(
                (*P(-tw, y_lo - 0.3 * opening), *P(tw, y_lo + 0.4 * opening)), fill=_rgb(TONGUE)
            )
        img.paste(mouth, (0, 0), mask)
        d.line(
            [P(x, y) for x, y in zip(xs, in_up, strict=True)],
            fill=_rgb(LIPS_DARK),
            width=max(1, int(0.02 * self.a * SS)),
            joint="curve",
        )

    # body
    def compose_base(self, background: np.ndarray) -> np.ndarray:
        """Background with the neck, shoulders and suit drawn once."""
        w, h = self.size
        a = self.a
        # body region in frame pixels
        bx0 = max(0, int(self.cx - 3.2 * a))
        bx1 = min(w, math.ceil(self.cx + 3.2 * a))
        by0 = max(0, int(self.cy + 0.3 * a))
        ss = 3
        img = Image.new("RGBA", ((bx1 - bx0) * ss, (h - by0) * ss), (0, 0, 0, 0))
        d = ImageDraw.Draw(img)

        def P(x: float, y: float) -> tuple[float, float]:
            return ((self.cx + x * a - bx0) * ss, (self.cy + y * a - by0) * ss)

        bottom = (h - self.cy) / a + 0.5
        # neck with a shadow under the jaw
        d.polygon([P(-0.4, 0.6), P(0.4, 0.6), P(0.45, 2.1), P(-0.45, 2.1)], fill=_rgb(SKIN))
        d.chord((*P(-0.42, 0.55), *P(0.42, 1.45)), 0, 180, fill=_rgb(SKIN_SHADE))
        d.rectangle((*P(-0.42, 0.6), *P(0.42, 1.0)), fill=_rgb(SKIN_SHADE))

        def side(sx: int) -> list[tuple[float, float]]:
            pts = [(0.5, 1.78), (1.1, 1.95), (1.75, 2.17)]
            pts += [
                (1.95 + 0.5 * math.sin(t), 2.85 - 0.62 * math.cos(t))
                for t in np.linspace(0.15, math.pi / 2, 10)
            ]
            pts += [(2.55, bottom)]
            return [(sx * x, y) for x, y in pts]

        right = side(1)
        left = side(-1)[::-1]
        d.polygon([P(x, y) for x, y in left + right], fill=_rgb(SUIT))
        for sx in (-1, 1):  # sleeves: a darker seam where the arm meets the body
            d.line([P(sx * 1.98, 3.3), P(sx * 2.05, bottom)], fill=_rgb(SUIT_SHADE), width=ss * 3)
        # blouse in the V of the jacket
        d.polygon([P(-0.62, 1.8), P(0.62, 1.8), P(0.0, 3.35)], fill=_rgb(BLOUSE))
        d.polygon([P(-0.62, 1.8), P(-0.1, 1.95), P(-0.3, 2.35)], fill=_rgb(BLOUSE_SHADE))
        d.polygon([P(0.62, 1.8), P(0.1, 1.95), P(0.3, 2.35)], fill=_rgb(BLOUSE_SHADE))
        # neckline on the blouse
        d.polygon([P(-0.4, 1.72), P(0.4, 1.72), P(0.0, 2.2)], fill=_rgb(SKIN))
        # lapels
        for sx in (-1, 1):
            lapel = [(0.62, 1.78), (0.95, 1.95), (0.72, 2.55), (1.0, 2.75), (0.0, 3.6), (0.0, 3.35)]
            d.polygon([P(sx * x, y) for x, y in lapel], fill=_rgb(SUIT_SHADE))
            d.line([P(sx * 0.62, 1.8), P(0.0, 3.35)], fill=_rgb(BLOUSE_SHADE), width=ss * 2)
        # button and a clip-on microphone
        d.ellipse((*P(-0.08, 4.0), *P(0.08, 4.16)), fill=_rgb((20, 28, 50)))
        d.rounded_rectangle(
            (*P(-0.86, 2.42), *P(-0.74, 2.62)), radius=ss * 3, fill=_rgb((25, 25, 28))
        )
        body = np.asarray(img.reduce(ss), dtype=np.uint8)
        base = background.copy()
        _blend_premultiplied(base, _premultiply(body), bx0, by0)
        return base

    def region(
        self,
        base: np.ndarray,
        mouth: tuple[int, ...],
        blink: int,
        motion: np.ndarray,
    ) -> tuple[int, int, np.ndarray]:
        """The only part of the frame that changes: (x, y, RGB pixels), on the even 2×2 grid."""
        patch = self._patch(mouth, blink)
        dx, dy, angle = (float(v) for v in motion)
        m = cv2.getRotationMatrix2D(self.pivot, angle, 1.0)
        m[0, 2] += dx
        m[1, 2] += dy
        moved = cv2.warpAffine(
            patch,
            m,
            (self.pw, self.ph),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0, 0),
        )
        x0, y0, x1, y1 = _even_box(self.px0, self.py0, self.pw, self.ph, base.shape)
        out = base[y0:y1, x0:x1].copy()
        _blend_premultiplied(out, moved, self.px0 - x0, self.py0 - y0)
        return x0, y0, out

    def _patch(self, mouth: tuple[int, ...], blink: int) -> np.ndarray:
        mouth = tuple(mouth[:4])  # the drawing has no pressed or tucked lips
        key = (mouth, blink)
        if key not in self._patches:
            head = self._head_base.copy()
            for box, sub in (
                (self.eye_box, self._eye_patch(blink)),
                (self.mouth_box, self._mouth_patch(mouth)),
            ):
                lx, t, r, b = box
                head[t:b, lx:r] = sub
            self._patches[key] = _premultiply(head)
        return self._patches[key]


# --- layouts ---------------------------------------------------------------------------------

LAYOUTS = ("studio", "pip", "full")
Presenter = IllustratedPresenter | PortraitPresenter


def pip_rect(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The picture-in-picture window: right side, above the caption band, below the title bar."""
    w, h = size
    ph = int(min(0.55 * min(w, h), 0.5 * h)) // 2 * 2
    pw = int(0.8 * ph) // 2 * 2
    margin = int(0.05 * w) // 2 * 2
    # below a two-line title bar (compose.render_title: 4.5 % down, ~14 % of the short side)
    title_bottom = int(0.045 * h + 0.14 * min(w, h) + 0.01 * h)
    return (w - pw - margin, max(title_bottom, int(0.68 * h) - ph) // 2 * 2, pw, ph)


class WindowedPresenter:
    """The illustrated presenter in a framed window (picture-in-picture) over the background."""

    def __init__(self, size: tuple[int, int], rect: tuple[int, int, int, int]) -> None:
        self.size = size
        self.px0, self.py0, self.pw, self.ph = rect
        self.inner = IllustratedPresenter((self.pw, self.ph), zoom=1.5)
        self._inner_base: np.ndarray | None = None
        radius = max(4, int(0.04 * self.pw))
        mask = Image.new("L", (self.pw, self.ph), 0)
        ImageDraw.Draw(mask).rounded_rectangle(
            (0, 0, self.pw - 1, self.ph - 1), radius=radius, fill=255
        )
        self.alpha = np.asarray(mask, dtype=np.uint8)[..., None]

    def compose_base(self, background: np.ndarray) -> np.ndarray:
        """The background with the window's frame; inside the window a soft studio backdrop."""
        x, y, w, h = self.px0, self.py0, self.pw, self.ph
        studio = cv2.GaussianBlur(background[y : y + h, x : x + w], (0, 0), max(2.0, 0.03 * w))
        studio = (studio.astype(np.float32) * 0.75 + np.array([30, 34, 44]) * 0.25).astype(np.uint8)
        self._inner_base = self.inner.compose_base(studio)
        return _framed_base(background, (x, y, w, h))

    def frame(
        self, base: np.ndarray, mouth: tuple[int, ...], blink: int, motion: np.ndarray
    ) -> np.ndarray:
        """One frame (see :meth:`region`)."""
        return _paste(base, *self.region(base, mouth, blink, motion))

    def region(
        self, base: np.ndarray, mouth: tuple[int, ...], blink: int, motion: np.ndarray
    ) -> tuple[int, int, np.ndarray]:
        """The window rectangle of this frame: (x, y, RGB pixels)."""
        assert self._inner_base is not None, "compose_base must run first"
        inner = self.inner.frame(self._inner_base, mouth, blink, motion)
        x0, y0, x1, y1 = _even_box(self.px0, self.py0, self.pw, self.ph, base.shape)
        out = base[y0:y1, x0:x1].copy()
        ox, oy = self.px0 - x0, self.py0 - y0
        dst = out[oy : oy + self.ph, ox : ox + self.pw]
        a = self.alpha[: dst.shape[0], : dst.shape[1]].astype(np.uint16)
        dst[...] = (
            (
                inner[: dst.shape[0], : dst.shape[1]].astype(np.uint16) * a
                + dst.astype(np.uint16) * (255 - a)
                + 127
            )
            // 255
        ).astype(np.uint8)
        return x0, y0, out


def make_presenter(
    size: tuple[int, int],
    layout: str = "studio",
    portrait: np.ndarray | None = None,
    face: FaceLandmarks | None = None,
) -> Presenter | WindowedPresenter:
    """The presenter for a layout: ``studio`` (in front of the background), ``pip`` (a window
    in the corner, the background dominant) or ``full`` (the presenter fills the frame)."""
    if layout not in LAYOUTS:
        raise InputError(f"layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    if portrait is not None:
        marks = face if face is not None else locate_face(portrait)
        if layout == "pip":
            return PortraitPresenter(portrait, marks, size, rect=pip_rect(size))
        if layout == "full":
            return PortraitPresenter(portrait, marks, size, rect=(0, 0, *size), framed=False)
        return PortraitPresenter(portrait, marks, size)
    if layout == "pip":
        return WindowedPresenter(size, pip_rect(size))
    return IllustratedPresenter(size, zoom=1.6 if layout == "full" else 1.0)


# --- rendering -------------------------------------------------------------------------------

SILENT_PEAK = 1e-3  # −60 dBFS: nothing to lip-sync to


def _check_size(size: tuple[int, int], fps: int) -> tuple[int, int]:
    w, h = int(size[0]), int(size[1])
    if w < 64 or h < 64 or w % 2 or h % 2 or w > 4096 or h > 4096:
        raise InputError(
            f"video size {w}x{h}: use even width and height between 64 and 4096, e.g. 720x1280"
        )
    if not 1 <= fps <= 120:
        raise InputError(f"fps {fps}: use a frame rate between 1 and 120, e.g. 25")
    return w, h


@dataclass
class _Plan:
    presenter: Presenter | WindowedPresenter
    base: np.ndarray
    mouth: np.ndarray
    blink: np.ndarray
    motion: np.ndarray
    breath: np.ndarray | None = None  # per frame 0..1 (photo presenters breathe)

    def region(self, i: int) -> tuple[int, int, np.ndarray]:
        mouth, blink = _quantise_mouth(self.mouth[i]), _quantise_blink(self.blink[i])
        if isinstance(self.presenter, PortraitPresenter) and self.breath is not None:
            return self.presenter.region(
                self.base, mouth, blink, self.motion[i], _quantise_breath(self.breath[i])
            )
        return self.presenter.region(self.base, mouth, blink, self.motion[i])

    def body(self, i: int) -> tuple[int, int, np.ndarray] | None:
        """The body under the head at frame ``i`` (the same object while the breath holds),
        or None for a presenter that does not breathe."""
        if isinstance(self.presenter, PortraitPresenter) and self.breath is not None:
            return self.presenter.body_region(_quantise_breath(self.breath[i]))
        return None

    def paste_i420(
        self, planes: tuple[np.ndarray, np.ndarray, np.ndarray], i: int, last: object
    ) -> object:
        """Write frame ``i``'s changing parts into an I420 frame's planes; ``last`` is what
        the previous call returned (None after the frame was reset): the body and the head
        are written only when they changed."""
        p = self.presenter
        if not (isinstance(p, PortraitPresenter) and self.breath is not None):
            paste_rgb_i420(planes, *self.region(i))
            return None
        body, head = last if isinstance(last, tuple) else (None, None)
        level = _quantise_breath(self.breath[i])
        now = p.body_region_i420(level)
        face = p.region_i420(
            _quantise_mouth(self.mouth[i]), _quantise_blink(self.blink[i]), self.motion[i], level
        )
        parts = []
        if now is not body:
            parts.append(now)
        if face is not head or now is not body:
            parts.append(face)
        for x, y, (ys, us, vs) in parts:
            h, w = ys.shape
            planes[0][y : y + h, x : x + w] = ys
            planes[1][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = us
            planes[2][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = vs
        return now, face

    def paste(self, frame: np.ndarray, i: int) -> np.ndarray:
        """Frame ``i`` in RGB: the body, then the head, over a copy of ``frame``."""
        out = frame.copy()
        for part in (self.body(i), self.region(i)):
            if part is not None:
                x, y, rgb = part
                out[y : y + rgb.shape[0], x : x + rgb.shape[1]] = rgb
        return out


def _plan(
    background: Path,
    phonemes: Sequence[PhonemeTiming],
    duration_s: float,
    *,
    size: tuple[int, int],
    fps: int,
    portrait: Path | None,
    seed: int,
    audio_samples: np.ndarray | None,
    layout: str,
    face_index: int | None,
) -> _Plan:
    w, h = _check_size(size, fps)
    if layout not in LAYOUTS:
        raise InputError(f"layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    bg = _cover(_load_image(background, "background image", "use a PNG or JPEG image"), (w, h))
    img = marks = None
    if portrait is not None:
        img = np.asarray(load_portrait(portrait), dtype=np.uint8)
        marks = locate_face(img, str(portrait), face_index=face_index)
    presenter = make_presenter((w, h), layout, img, marks)
    n = max(1, round(duration_s * fps))
    rng = np.random.default_rng(seed)
    mouth = mouth_track(phonemes, n, fps, audio_samples)
    blink = blink_track(n, fps, rng)
    motion = head_motion(n, fps, rng, mouth[:, 0])
    breath = breath_track(mouth[:, 0], fps)
    return _Plan(presenter, presenter.compose_base(bg), mouth, blink, motion, breath)


def lite_frames(
    background: Path,
    phonemes: Sequence[PhonemeTiming],
    duration_s: float,
    *,
    size: tuple[int, int],
    fps: int = 25,
    portrait: Path | None = None,
    seed: int = 0,
    audio_samples: np.ndarray | None = None,
    layout: str = "studio",
    face_index: int | None = None,
) -> Iterator[np.ndarray]:
    """The presenter's frames (H×W×3 uint8 RGB), deterministic for a given ``seed``.

    Inputs are checked (and the portrait's face found) before this returns, not on first frame.
    """
    plan = _plan(
        background,
        phonemes,
        duration_s,
        size=size,
        fps=fps,
        portrait=portrait,
        seed=seed,
        audio_samples=audio_samples,
        layout=layout,
        face_index=face_index,
    )
    return (plan.paste(plan.base, i) for i in range(len(plan.mouth)))


def read_speech(audio: Path) -> tuple[np.ndarray, float]:
    """The samples of ``audio`` at AUDIO_RATE and its length in seconds; InputError unless it
    is speech of 0.1 s up to MAX_AUDIO_S (not silent)."""
    samples = read_audio(audio, AUDIO_RATE, max_seconds=MAX_AUDIO_S)
    duration = samples.size / AUDIO_RATE
    if duration < 0.1:
        raise InputError(
            f"audio {str(audio)!r} lasts {duration:.2f}s; the speech must last at least 0.1 s"
        )
    peak = float(np.max(np.abs(samples)))
    if peak < SILENT_PEAK:
        raise InputError(
            f"audio {str(audio)!r} is silent "
            f"(peak {20 * math.log10(max(peak, 1e-9)):.0f} dBFS); expected speech"
        )
    return samples, duration


def render_lite(
    background: Path,
    audio: Path,
    phonemes: Sequence[PhonemeTiming],
    out: Path,
    *,
    size: tuple[int, int],
    fps: int = 25,
    portrait: Path | None = None,
    seed: int = 0,
    crf: int = 23,
    preset: str = "veryfast",
    layout: str = "studio",
    face_index: int | None = None,
    mouth_track_out: Path | None = None,
    words: Sequence[WordTiming] | None = None,
    title: str = "",
    caption_style: str = "highlight",
    progress: Callable[[int, int], None] | None = None,
    scenes: Sequence[SceneBackground] | None = None,
    transition: str = "crossfade",
    brand: Brand | None = None,
    language: str | None = None,
) -> AvatarInfo:
    """Render the presenter over ``background``, lip-synced to ``phonemes``, with ``audio``
    muxed in.

    ``layout`` is ``studio``, ``pip`` or ``full``; ``face_index`` picks a face in a group photo;
    ``mouth_track_out`` receives the per-frame mouth opening (0..1) as a .npy file.
    With ``words`` (and/or ``title``) the captions are burnt in while rendering, in one encode:
    then ``compose_final(..., burn_captions=False)`` only adds the normalised speech.
    ``progress(done, total)`` is called about once a second of video.
    A ``brand`` (a resolved template) adds its logo and lower third and colours the captions.
    Whatever draws over the picture (captions, title, brand) draws the AI-generated label too,
    in ``language`` (English by default); a ``language`` alone draws just the label. Without
    any of them the picture is left for ``compose_final`` to label.
    With ``scenes`` (an explainer) the background changes at each scene's start with a
    ``transition`` (crossfade, wipe or cut) and each scene's title card shows; see
    :mod:`tasks.avatar.scenes`.
    The audio must be speech of 0.1 s up to MAX_AUDIO_S; nothing is written on bad input.
    """
    samples, duration = read_speech(audio)
    plan = _plan(
        background,
        phonemes,
        duration,
        size=size,
        fps=fps,
        portrait=portrait,
        seed=seed,
        audio_samples=samples,
        layout=layout,
        face_index=face_index,
    )
    w, h = _check_size(size, fps)
    overlay: Overlay | None = None
    if words is not None or title or brand is not None or language is not None:
        from tasks.compose.video import FrameOverlay

        overlay = FrameOverlay(
            words or (),
            w,
            h,
            title=title,
            caption_style=caption_style,
            brand=brand,
            language=language or "en",
        )
    track = None
    if scenes:
        from tasks.avatar.scenes import SceneTrack

        track = SceneTrack(plan, scenes, (w, h), fps, transition)
        if overlay is not None:
            overlay = track.with_titles(overlay, (w, h), brand)
    # Only the presenter's rectangle changes: keep the frame as I420 and convert just that part.
    frame = rgb_to_i420(plan.base)
    planes = i420_planes(frame, w, h)
    total = len(plan.mouth)
    # the pipe is fed from a thread: the next frame is drawn while ffmpeg takes this one; and
    # while ffmpeg keeps both cores busy OpenCV's own threads would only wait for each other
    # and the writer thread gets the GIL back soon after each pipe write
    threads, switch = cv2.getNumThreads(), sys.getswitchinterval()
    cv2.setNumThreads(1)
    sys.setswitchinterval(0.0005)
    try:
        with (
            FrameWriter(out, (w, h), fps, audio=audio, crf=crf, preset=preset) as writer,
            OverlappedWriter(writer) as feed,
        ):
            shown = np.empty_like(frame) if overlay is not None else frame
            last: object = None  # body and head are written only when they change
            for i in range(total):
                if progress is not None and i % fps == 0:
                    progress(i, total)
                if track is not None:  # a new scene or a transition frame: another base
                    track.enter(i, plan, frame)
                    last = None
                last = plan.paste_i420(planes, i, last)
                if overlay is not None:
                    np.copyto(shown, frame)
                    overlay.apply(shown, i / fps)
                feed.put(shown)
    finally:
        cv2.setNumThreads(threads)
        sys.setswitchinterval(switch)
    if progress is not None:
        progress(total, total)
    if mouth_track_out is not None:
        np.save(mouth_track_out, plan.mouth[:, 0].astype(np.float32))
    return AvatarInfo(
        width=w,
        height=h,
        fps=fps,
        duration_s=writer.frames / fps,
        frames=writer.frames,
        captions_burnt=overlay is not None,
    )
