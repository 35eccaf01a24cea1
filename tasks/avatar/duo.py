"""Two presenters on screen: a host and a guest, each lip-synced to their own turns only.

Built from the lite renderer's parts (:mod:`tasks.avatar.lite`): its mouth, blink and head
tracks, its presenters and its one-pass I420 loop with burnt-in captions. Each presenter
gets a mouth track from its own speaker's phonemes, so the listener's mouth stays closed
while it still blinks, sways and leans a little towards whoever talks; a name tag under
each one lights up while that presenter speaks.

Layouts: the drawn presenters stand side by side in the studio (any aspect); with a
portrait for either speaker, both sit in framed panels side by side. The guest drawn
presenter is the host's drawing in other colours (hair, skin, jacket, blouse).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image, ImageDraw

from novaavatar.domain import PhonemeTiming, Speaker, SpeechSegment, WordTiming
from novaavatar.errors import InputError
from novaavatar.media import (
    MAX_AUDIO_S,
    FrameWriter,
    I420Overlay,
    i420_planes,
    paste_rgb_i420,
    read_audio,
    rgb_to_i420,
)
from tasks.avatar.lite import (
    AUDIO_RATE,
    BLOUSE,
    BLOUSE_SHADE,
    HAIR,
    HAIR_SHINE,
    SILENT_PEAK,
    SKIN,
    SKIN_SHADE,
    SUIT,
    SUIT_SHADE,
    AvatarInfo,
    IllustratedPresenter,
    WindowedPresenter,
    _blend_premultiplied,
    _check_size,
    _cover,
    _gaussian_smooth,
    _load_image,
    _premultiply,
    _quantise_blink,
    _quantise_breath,
    _quantise_mouth,
    blink_track,
    breath_track,
    head_motion,
    mouth_track,
    read_speech,
)
from tasks.render.photo import PortraitPresenter, load_portrait, locate_face

if TYPE_CHECKING:
    from tasks.compose.video import FrameOverlay

SPEAKERS: tuple[Speaker, Speaker] = ("host", "guest")
# The guest's colours for the drawn presenter: (host colour → guest colour) pairs.
GUEST_LOOK: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...] = (
    (HAIR, (150, 92, 46)),
    (HAIR_SHINE, (196, 136, 78)),
    (SKIN, (196, 142, 106)),
    (SKIN_SHADE, (170, 116, 86)),
    ((196, 140, 112), (156, 104, 78)),  # inner ear
    ((180, 120, 100), (142, 94, 72)),  # nostrils
    (SUIT, (112, 36, 50)),
    (SUIT_SHADE, (84, 24, 38)),
    (BLOUSE, (236, 242, 250)),
    (BLOUSE_SHADE, (200, 212, 230)),
)
# Face centres across the frame, and the drawn presenter's size, per aspect (w/h).
FACE_X = (0.27, 0.73)
ZOOM_BY_ASPECT = ((1.5, 1.0), (0.9, 0.65), (0.0, 0.82))  # (min w/h, zoom)
LEAN_DEG = 2.0  # the listener's head turns this far towards the speaker
LEAN_PX = 3.0
TAG_LEVELS = 6  # name-tag brightness steps (a ~0.25 s fade)
TAG_ACTIVE = (255, 201, 40, 235)
TAG_IDLE = (20, 22, 30, 150)


def recolour(
    rgba: np.ndarray,
    pairs: Sequence[tuple[tuple[int, int, int], tuple[int, int, int]]] = GUEST_LOOK,
    sigma: float = 16.0,
) -> np.ndarray:
    """Move colours near each ``old`` towards its ``new`` (soft weights: anti-aliased edges
    between two colours move part of the way), in a straight-alpha RGB(A) uint8 image."""
    rgb = rgba[..., :3].astype(np.float32)
    shift = np.zeros_like(rgb)
    total = np.zeros((*rgb.shape[:-1], 1), np.float32)
    for old, new in pairs:
        d2 = ((rgb - np.asarray(old, np.float32)) ** 2).sum(axis=-1, keepdims=True)
        w = np.exp(-d2 / (2 * sigma**2))
        shift += w * (np.asarray(new, np.float32) - np.asarray(old, np.float32))
        total += w
    out = rgba.copy()
    out[..., :3] = np.clip(rgb + shift / np.maximum(total, 1.0), 0, 255).round().astype(np.uint8)
    return out


class GuestPresenter(IllustratedPresenter):
    """The drawn presenter in the guest's colours: every drawn layer is recoloured once,
    before it is cached, so a frame costs what the host's does."""

    def _draw_head_base(self) -> Image.Image:
        head = np.asarray(super()._draw_head_base())
        return Image.fromarray(recolour(head))

    def _eye_patch(self, blink_q: int) -> np.ndarray:
        fresh = blink_q not in self._eyes
        patch = super()._eye_patch(blink_q)
        if fresh:  # the closing lid is drawn in the host's skin colours: only those move
            patch = self._eyes[blink_q] = recolour(patch, GUEST_LOOK[2:4], sigma=5.0)
        return patch

    def compose_base(self, background: np.ndarray) -> np.ndarray:
        """The body layer recovered from two flat backgrounds, recoloured, then blended."""
        dark = super().compose_base(np.zeros_like(background))
        light = super().compose_base(np.full_like(background, 255))
        alpha = 255 - (light.astype(np.int16) - dark.astype(np.int16)).max(axis=-1)
        alpha = np.clip(alpha, 0, 255).astype(np.uint8)
        a = np.maximum(alpha, 1)[..., None].astype(np.float32)
        straight = np.clip(dark.astype(np.float32) * 255 / a, 0, 255).astype(np.uint8)
        layer = np.dstack([recolour(straight), alpha])
        base = background.copy()
        _blend_premultiplied(base, _premultiply(layer), 0, 0)
        return base


# --- layout ----------------------------------------------------------------------------------


@dataclass
class Seat:
    """One presenter and where its canvas sits in the frame (x may be negative)."""

    speaker: Speaker
    presenter: Any  # IllustratedPresenter | PortraitPresenter | WindowedPresenter
    x: int
    y: int
    w: int
    h: int
    face: tuple[float, float]  # face centre in frame pixels (for the name tag)
    tag_xy: tuple[int, int] = (0, 0)
    base: np.ndarray | None = None  # the final base under this canvas

    def region(
        self, mouth: np.ndarray, blink: float, motion: np.ndarray, breath: int = 0
    ) -> tuple[int, int, np.ndarray]:
        assert self.base is not None, "compose the base first"
        args = (self.base, _quantise_mouth(mouth), _quantise_blink(blink), motion)
        if isinstance(self.presenter, PortraitPresenter):
            x, y, rgb = self.presenter.region(*args, breath)
        else:
            x, y, rgb = self.presenter.region(*args)
        return self.x + x, self.y + y, rgb

    def body(self, breath: int) -> tuple[int, int, np.ndarray] | None:
        """The shoulders and chest at breath level ``breath``, or None for a presenter that
        does not breathe (the drawn ones)."""
        if not isinstance(self.presenter, PortraitPresenter):
            return None
        x, y, rgb = self.presenter.body_region(breath)
        return self.x + x, self.y + y, rgb


def _zoom(size: tuple[int, int]) -> float:
    ratio = size[0] / size[1]
    return next(z for lo, z in ZOOM_BY_ASPECT if ratio >= lo)


def _canvas(frame: np.ndarray, x: int, y: int, w: int, h: int) -> np.ndarray:
    """The (x, y, w, h) rectangle of ``frame``, mirrored at the frame's edges it passes."""
    fh, fw = frame.shape[:2]
    left, right, top, bottom = max(0, -x), max(0, x + w - fw), max(0, -y), max(0, y + h - fh)
    crop = frame[max(0, y) : min(fh, y + h), max(0, x) : min(fw, x + w)]
    if left or right or top or bottom:
        crop = cv2.copyMakeBorder(crop, top, bottom, left, right, cv2.BORDER_REFLECT)
    return np.ascontiguousarray(crop)


def panel_rects(size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Two framed panels between the title bar and the captions: side by side, or one
    above the other in a tall frame (as in a video call)."""
    w, h = size
    title_bottom = int(0.045 * h + 0.14 * min(w, h) + 0.01 * h)
    if h / w > 1.2:
        gap = int(0.015 * h) // 2 * 2
        pw = int(0.78 * w) // 2 * 2
        ph = int((0.8 * h - title_bottom - gap) / 2) // 2 * 2
        x = (w - pw) // 4 * 2
        y = (title_bottom + 2) // 2 * 2
        return [(x, y, pw, ph), (x, y + ph + gap, pw, ph)]
    pw = int(0.42 * w) // 2 * 2
    ph = int(min(pw * 1.3, 0.62 * h)) // 2 * 2
    y = max(title_bottom, int((0.72 * h - ph) / 2)) // 2 * 2
    gap = w - 2 * pw
    x0 = int(gap / 3) // 2 * 2
    return [(x0, y, pw, ph), (w - x0 - pw, y, pw, ph)]


def make_seats(
    size: tuple[int, int],
    portraits: Sequence[np.ndarray | None] = (None, None),
    faces: Sequence[Any] = (None, None),
) -> list[Seat]:
    """Host left, guest right: drawn presenters in the studio, or framed panels when a
    portrait is given for either (the other is then drawn in its own panel)."""
    w, h = size
    seats: list[Seat] = []
    if any(p is not None for p in portraits):
        for speaker, rect, img, face in zip(
            SPEAKERS, panel_rects(size), portraits, faces, strict=True
        ):
            px, py, pw, ph = rect
            if img is not None:
                pres: Any = PortraitPresenter(img, face, size, rect=rect)
                fx, fy = px + pres.mouth_c[0], py + pres.eye_cs[0][1]
            else:
                pres = WindowedPresenter(size, rect)
                if speaker == "guest":
                    pres.inner = GuestPresenter((pw, ph), zoom=1.5)
                fx, fy = px + pres.inner.cx, py + pres.inner.cy
            seat = Seat(speaker, pres, 0, 0, w, h, (fx, fy))
            seat.tag_xy = (px + int(0.04 * pw), py + ph - int(0.04 * pw))
            seats.append(seat)
        return seats
    zoom = _zoom(size)
    # a tall frame: a canvas reaching above the frame puts the faces at 40 % of its height
    top = -(int(0.25 * h) // 2 * 2) if h / w > 1.2 else 0
    for speaker, fx in zip(SPEAKERS, FACE_X, strict=True):
        cls = GuestPresenter if speaker == "guest" else IllustratedPresenter
        pres = cls((w, h - top), zoom=zoom)
        x = round(fx * w - w / 2) // 2 * 2
        seat = Seat(speaker, pres, x, top, w, h - top, (x + pres.cx, top + pres.cy))
        seat.tag_xy = (round(x + pres.cx), round(top + pres.cy + 1.95 * pres.a))
        seats.append(seat)
    return seats


def compose_seats(background: np.ndarray, seats: list[Seat]) -> np.ndarray:
    """The frame's static base: each presenter's body drawn in turn (the guest's over the
    host's where they meet); each seat keeps the final base under its canvas."""
    base = background.copy()
    fh, fw = base.shape[:2]
    for seat in seats:
        drawn = seat.presenter.compose_base(_canvas(base, seat.x, seat.y, seat.w, seat.h))
        a, b = max(0, seat.x), min(fw, seat.x + seat.w)
        c, d = max(0, seat.y), min(fh, seat.y + seat.h)
        base[c:d, a:b] = drawn[c - seat.y : d - seat.y, a - seat.x : b - seat.x]
    for seat in seats:
        seat.base = _canvas(base, seat.x, seat.y, seat.w, seat.h)
    return base


# --- tracks ----------------------------------------------------------------------------------


def speaking_mask(
    segments: Sequence[SpeechSegment], speaker: Speaker, times: np.ndarray
) -> np.ndarray:
    """True where ``speaker`` holds the floor at each time (between turns: the last speaker)."""
    mask = np.zeros(times.shape, dtype=bool)
    ordered = sorted(segments, key=lambda s: s.start)
    for k, seg in enumerate(ordered):
        end = ordered[k + 1].start if k + 1 < len(ordered) else math.inf
        if seg.speaker == speaker:
            mask |= (times >= seg.start) & (times < end)
    return mask


def speaker_phonemes(
    phonemes: Sequence[PhonemeTiming], segments: Sequence[SpeechSegment], speaker: Speaker
) -> list[PhonemeTiming]:
    """The phonemes said during ``speaker``'s turns (by their midpoint)."""
    mids = np.array([(p.start + p.end) / 2 for p in phonemes])
    keep = speaking_mask(segments, speaker, mids) if len(phonemes) else np.zeros(0, bool)
    return [p for p, k in zip(phonemes, keep, strict=True) if k]


@dataclass
class DuoPlan:
    seats: list[Seat]
    base: np.ndarray
    mouths: list[np.ndarray]  # per seat: n × 4
    blinks: list[np.ndarray]
    motions: list[np.ndarray]
    active: list[np.ndarray]  # per seat: n floats 0..1 (the name tag's brightness)
    breaths: list[np.ndarray]  # per seat: n breath levels (0 .. BREATH_LEVELS - 1)


def plan_duo(
    background: Path,
    phonemes: Sequence[PhonemeTiming],
    segments: Sequence[SpeechSegment],
    duration_s: float,
    *,
    size: tuple[int, int],
    fps: int,
    seed: int,
    audio_samples: np.ndarray | None = None,
    portraits: Sequence[Path | None] = (None, None),
) -> DuoPlan:
    """Everything a duo render needs, checked before any frame is drawn."""
    w, h = _check_size(size, fps)
    if not segments or {s.speaker for s in segments} - set(SPEAKERS):
        raise InputError("a two-presenter render needs speech segments of 'host' and 'guest'")
    bg = _cover(_load_image(background, "background image", "use a PNG or JPEG image"), (w, h))
    imgs: list[np.ndarray | None] = []
    faces: list[Any] = []
    for p in portraits:
        img = np.asarray(load_portrait(p), dtype=np.uint8) if p is not None else None
        imgs.append(img)
        faces.append(locate_face(img, str(p)) if img is not None else None)
    seats = make_seats((w, h), imgs, faces)
    base = compose_seats(bg, seats)
    n = max(1, round(duration_s * fps))
    times = (np.arange(n) + 0.5) / fps
    mouths, blinks, motions, active, breaths = [], [], [], [], []
    for k, seat in enumerate(seats):
        rng = np.random.default_rng(seed + 7907 * k)
        own = speaker_phonemes(phonemes, segments, seat.speaker)
        talking = speaking_mask(segments, seat.speaker, times)
        audio = None
        if not phonemes and audio_samples is not None:  # no timings: this speaker's loudness
            t = np.arange(audio_samples.size) / AUDIO_RATE
            audio = audio_samples * speaking_mask(segments, seat.speaker, t)
        mouth = mouth_track(own, n, fps, audio)
        if not phonemes and audio is None:
            mouth[:] = 0.0
        motion = head_motion(n, fps, rng, mouth[:, 0])
        # listening: lean a little towards the other presenter (host left, guest right)
        towards = 1.0 if seat.speaker == "host" else -1.0
        listen = _gaussian_smooth((~talking).astype(np.float64), 0.2 * fps)
        motion[:, 0] += LEAN_PX * towards * listen
        motion[:, 2] -= LEAN_DEG * towards * listen
        mouths.append(mouth)
        blinks.append(blink_track(n, fps, rng))
        motions.append(motion)
        active.append(np.clip(_gaussian_smooth(talking.astype(np.float64), 0.08 * fps), 0, 1))
        # a photo presenter breathes in its pauses, and slowly while the other one speaks
        breath = breath_track(mouth[:, 0], fps)
        breaths.append(np.array([_quantise_breath(b) for b in breath], dtype=np.int64))
    return DuoPlan(seats, base, mouths, blinks, motions, active, breaths)


# --- name tags -------------------------------------------------------------------------------


def _tag_images(label: str, size: tuple[int, int]) -> list[np.ndarray]:
    """The tag from idle to lit in TAG_LEVELS steps (premultiplied RGBA)."""
    from tasks.compose.video import caption_font

    w, h = size
    font = caption_font(max(10, round(min(w, h) * 0.03)))
    pad = max(4, round(min(w, h) * 0.012))
    tw = math.ceil(font.getlength(label))
    box = (tw + 2 * pad, round(min(w, h) * 0.03 * 1.25) + 2 * pad // 2 * 2)
    out = []
    for level in range(TAG_LEVELS):
        t = level / (TAG_LEVELS - 1)
        fill = tuple(round(a + (b - a) * t) for a, b in zip(TAG_IDLE, TAG_ACTIVE, strict=True))
        ink = (235, 235, 240) if t < 0.5 else (16, 16, 22)
        img = Image.new("RGBA", box, (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        d.rounded_rectangle((0, 0, box[0] - 1, box[1] - 1), radius=box[1] // 3, fill=fill)
        d.text((box[0] / 2, box[1] / 2), label, font=font, fill=ink, anchor="mm")
        out.append(_premultiply(np.asarray(img, dtype=np.uint8)))
    return out


def name_tags(
    seats: list[Seat],
    size: tuple[int, int],
    labels: Sequence[str],
    avoid: tuple[int, int, int, int] | None = None,
) -> list[list[I420Overlay]]:
    """Per seat, its tag at each brightness, centred under the face (panels: bottom-left).

    A tag that would lie under ``avoid`` (x, y, w, h: the brand's lower third, drawn over
    the presenters) moves just below it, or above it where below would leave the panel or
    reach the captions' band.
    """
    placed = []
    for seat, label in zip(seats, labels, strict=True):
        imgs = _tag_images(label, size)
        th, tw = imgs[0].shape[:2]
        x, y = seat.tag_xy
        panel = seat.w == size[0] and seat.x == 0
        if panel and not isinstance(seat.presenter, IllustratedPresenter):
            y -= th  # a panel: the tag sits inside its lower-left corner
            bottom = seat.tag_xy[1]
        else:
            x -= tw // 2
            bottom = round(size[1] * 0.8)
        row = y
        if avoid is not None:
            ax, ay, aw, ah = avoid
            if x < ax + aw and ax < x + tw and y < ay + ah and ay < y + th:
                gap = max(2, th // 5)
                y = ay + ah + gap if ay + ah + gap + th <= bottom else ay - th - gap
        placed.append((imgs, x, y, row))
    # side by side, the tags stay level: one moved for the lower third takes the other along
    rows = [row for _, _, _, row in placed]
    level = max(rows) - min(rows) < placed[0][0][0].shape[0]
    low = max(y for _, _, y, _ in placed)
    return [[I420Overlay(img, x, low if level else y) for img in imgs] for imgs, x, y, _ in placed]


def _lower_third(overlay: FrameOverlay | None) -> tuple[int, int, int, int] | None:
    """Where the overlay's brand draws its lower third, if it has one."""
    brand = overlay.brand if overlay is not None else None
    return brand.lt_box if brand is not None else None


# --- render ----------------------------------------------------------------------------------


def _captions(
    words: Sequence[WordTiming] | None,
    size: tuple[int, int],
    title: str,
    caption_style: str,
    overlay_options: dict[str, Any] | None,
) -> FrameOverlay | None:
    """The captions and title burnt in as :func:`tasks.avatar.lite.render_lite` burns them;
    None when there is nothing to show."""
    if words is None and not title and not overlay_options:
        return None
    from tasks.compose.video import FrameOverlay

    w, h = size
    return FrameOverlay(
        words or (), w, h, title=title, caption_style=caption_style, **(overlay_options or {})
    )


def _put_frame(
    writer: FrameWriter,
    shown: np.ndarray,
    size: tuple[int, int],
    tags: list[list[I420Overlay]],
    levels: Sequence[float],
    overlay: FrameOverlay | None,
    t: float,
) -> None:
    """Write one I420 frame: each name tag lit as much as its speaker speaks (0..1 in
    ``levels``), the captions at ``t`` seconds on top."""
    planes = i420_planes(shown, *size)
    for k, level in enumerate(levels):
        tags[k][round(float(level) * (TAG_LEVELS - 1))].blend(planes)
    if overlay is not None:
        overlay.apply(shown, t)
    writer.write_i420(shown)


def render_duo(
    background: Path,
    audio: Path,
    phonemes: Sequence[PhonemeTiming],
    segments: Sequence[SpeechSegment],
    out: Path,
    *,
    size: tuple[int, int],
    fps: int = 25,
    seed: int = 0,
    crf: int = 23,
    preset: str = "veryfast",
    portraits: Sequence[Path | None] = (None, None),
    labels: Sequence[str] = ("Host", "Guest"),
    words: Sequence[WordTiming] | None = None,
    title: str = "",
    caption_style: str = "highlight",
    progress: Callable[[int, int], None] | None = None,
    overlay_options: dict[str, Any] | None = None,
) -> AvatarInfo:
    """Render host (left) and guest (right) over ``background`` with ``audio`` muxed in;
    each one's mouth follows only its own ``segments``. Captions and the title are burnt in
    as :func:`tasks.avatar.lite.render_lite` does (``overlay_options``: more FrameOverlay
    settings, e.g. a brand)."""
    samples, duration = read_speech(audio)
    plan = plan_duo(
        background,
        phonemes,
        segments,
        duration,
        size=size,
        fps=fps,
        seed=seed,
        audio_samples=samples,
        portraits=portraits,
    )
    w, h = size
    overlay = _captions(words, size, title, caption_style, overlay_options)
    tags = name_tags(plan.seats, (w, h), labels, _lower_third(overlay))
    frame = rgb_to_i420(plan.base)
    planes = i420_planes(frame, w, h)
    total = len(plan.mouths[0])
    bodies: list[int | None] = [None] * len(plan.seats)  # the breath level each body shows
    with FrameWriter(out, (w, h), fps, audio=audio, crf=crf, preset=preset) as writer:
        for i in range(total):
            if progress is not None and i % fps == 0:
                progress(i, total)
            for k, seat in enumerate(plan.seats):
                level = int(plan.breaths[k][i])
                if level != bodies[k]:  # the body changes only when the breath does
                    body = seat.body(level)
                    if body is not None:
                        paste_rgb_i420(planes, *body)
                    bodies[k] = level
                motion = plan.motions[k][i]
                region = seat.region(plan.mouths[k][i], plan.blinks[k][i], motion, level)
                paste_rgb_i420(planes, *region)
            levels = [plan.active[k][i] for k in range(len(plan.seats))]
            _put_frame(writer, frame.copy(), size, tags, levels, overlay, i / fps)
    if progress is not None:
        progress(total, total)
    return AvatarInfo(
        width=w,
        height=h,
        fps=fps,
        duration_s=writer.frames / fps,
        frames=writer.frames,
        captions_burnt=overlay is not None,
    )


def mouth_rect(seat: Seat) -> tuple[int, int, int, int]:
    """Where ``seat``'s mouth is drawn, in frame pixels (x0, y0, x1, y1), at rest."""
    p = seat.presenter
    if isinstance(p, WindowedPresenter):
        ox, oy, p = p.px0, p.py0, p.inner
    else:
        ox, oy = 0, 0
    lx, t, r, b = p.mouth_box
    return (
        seat.x + ox + p.px0 + lx,
        seat.y + oy + p.py0 + t,
        seat.x + ox + p.px0 + r,
        seat.y + oy + p.py0 + b,
    )


# --- a model per speaker (OmniAvatar) --------------------------------------------------------

RenderOne = Callable[[Path, Path, Path, tuple[int, int]], AvatarInfo]


def speaker_track(
    samples: np.ndarray, segments: Sequence[SpeechSegment], speaker: Speaker, fade_s: float = 0.03
) -> np.ndarray:
    """The speech with everyone else's turns silenced (short fades at the cuts)."""
    t = np.arange(samples.size) / AUDIO_RATE
    gate = speaking_mask(segments, speaker, t).astype(np.float64)
    gate = _gaussian_smooth(gate, fade_s * AUDIO_RATE / 3)
    return (samples * gate).astype(np.float32)


def presenter_still(speaker: Speaker, panel: np.ndarray) -> np.ndarray:
    """The drawn presenter (mouth closed, eyes open) over ``panel``: a reference picture for
    a model that animates a photo, when the user gave none."""
    h, w = panel.shape[:2]
    cls = GuestPresenter if speaker == "guest" else IllustratedPresenter
    pres = cls((w, h), zoom=1.5)
    return pres.frame(pres.compose_base(panel), (0, 2, 0, 0), 0, np.zeros(3))


def render_pair(
    render_one: RenderOne,
    background: Path,
    audio: Path,
    segments: Sequence[SpeechSegment],
    out: Path,
    *,
    size: tuple[int, int],
    portraits: Sequence[Path | None] = (None, None),
    labels: Sequence[str] = ("Host", "Guest"),
    words: Sequence[WordTiming] | None = None,
    title: str = "",
    caption_style: str = "highlight",
    crf: int = 23,
    preset: str = "veryfast",
    progress: Callable[[int, int], None] | None = None,
    overlay_options: dict[str, Any] | None = None,
) -> AvatarInfo:
    """Each presenter rendered on its own by ``render_one(picture, speech, out, panel_size)``
    (e.g. OmniAvatar) from the speech with the other's turns silenced, then both panels
    composited with name tags and captions over the background, with the full speech."""
    import tempfile

    import soundfile as sf

    from novaavatar.media import iter_frames, probe
    from tasks.render.photo import framed_base as _framed_base

    samples = read_audio(audio, AUDIO_RATE, max_seconds=MAX_AUDIO_S)
    if float(np.max(np.abs(samples), initial=0.0)) < SILENT_PEAK:
        raise InputError(f"audio {str(audio)!r} is silent; expected speech")
    w, h = _check_size(size, 25)
    bg = _cover(_load_image(background, "background image", "use a PNG or JPEG image"), (w, h))
    rects = panel_rects((w, h))
    with tempfile.TemporaryDirectory(prefix="duo-") as tmp:
        videos = []
        for speaker, (x, y, pw, ph), portrait in zip(SPEAKERS, rects, portraits, strict=True):
            picture = portrait
            if picture is None:
                picture = Path(tmp) / f"{speaker}.png"
                Image.fromarray(presenter_still(speaker, bg[y : y + ph, x : x + pw].copy())).save(
                    picture
                )
            speech = Path(tmp) / f"{speaker}.wav"
            sf.write(
                speech, speaker_track(samples, segments, speaker), AUDIO_RATE, subtype="PCM_16"
            )
            video = Path(tmp) / f"{speaker}.mp4"
            render_one(picture, speech, video, (pw, ph))
            videos.append(video)
        fps = round(probe(videos[0]).fps) or 25
        base = bg
        masks = []
        for x, y, pw, ph in rects:
            base = _framed_base(base, (x, y, pw, ph))
            shape = Image.new("L", (pw, ph), 0)
            ImageDraw.Draw(shape).rounded_rectangle(
                (0, 0, pw - 1, ph - 1), radius=max(4, int(0.04 * pw)), fill=255
            )
            masks.append(np.asarray(shape, dtype=np.float32)[..., None] / 255)
        seats = []
        for speaker, (x, y, pw, ph) in zip(SPEAKERS, rects, strict=True):
            seat = Seat(speaker, None, 0, 0, w, h, (x + pw / 2, y + ph / 2))
            seat.tag_xy = (x + int(0.04 * pw), y + ph - int(0.04 * pw))
            seats.append(seat)
        overlay = _captions(words, (w, h), title, caption_style, overlay_options)
        tags = name_tags(seats, (w, h), labels, _lower_third(overlay))
        total = round(samples.size / AUDIO_RATE * fps)
        times = (np.arange(total) + 0.5) / fps
        active = [
            np.clip(
                _gaussian_smooth(speaking_mask(segments, s, times).astype(np.float64), 0.08 * fps),
                0,
                1,
            )
            for s in SPEAKERS
        ]
        streams = [iter_frames(v) for v in videos]
        with FrameWriter(out, (w, h), fps, audio=audio, crf=crf, preset=preset) as writer:
            for i, pair in enumerate(zip(*streams, strict=False)):
                if i >= total:
                    break
                if progress is not None and i % fps == 0:
                    progress(i, total)
                frame = base.copy()
                for (x, y, pw, ph), mask, img in zip(rects, masks, pair, strict=True):
                    panel = _cover(Image.fromarray(img), (pw, ph)).astype(np.float32)
                    under = frame[y : y + ph, x : x + pw].astype(np.float32)
                    frame[y : y + ph, x : x + pw] = (panel * mask + under * (1 - mask)).astype(
                        np.uint8
                    )
                levels = [active[k][min(i, total - 1)] for k in range(2)]
                _put_frame(writer, rgb_to_i420(frame), (w, h), tags, levels, overlay, i / fps)
    if progress is not None:
        progress(total, total)
    return AvatarInfo(
        width=w,
        height=h,
        fps=fps,
        duration_s=writer.frames / fps,
        frames=writer.frames,
        captions_burnt=overlay is not None,
    )
