"""A photo that talks: the portrait presenter, animated through its 468-point face mesh.

Every mouth pose (jaw drop, lip opening, width/rounding, lips pressed on m/b/p, lower lip
tucked under the teeth on f/v) and every blink is a set of target positions for the mesh
points. A piecewise-affine warp carries the photo from the rest mesh to the targets over a
triangulation of the mesh plus a fixed ring around the face, so the chin, lower lip and
lower teeth ride with the jaw, the cheeks stretch smoothly, the neck drags a little and
nothing outside the ring moves. Inside the lips a mouth is drawn: a dark cavity, upper teeth
(the photo's own where it shows them, else synthesised in the colour of the eye whites),
lower teeth that come with the jaw, and a tongue that rises for l/th/n.

Poses are quantised and cached; per frame only the head's box is composed and gently moved
(nods, sway) with a weight that fades to nothing at the ring.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps, UnidentifiedImageError

from novaavatar.errors import InputError
from tasks.render.landmarks import (
    FACE_OVAL,
    LEFT_EYE_LOWER,
    LEFT_EYE_UPPER,
    LIPS_INNER_LOWER,
    LIPS_INNER_UPPER,
    LIPS_OUTER_LOWER,
    LIPS_OUTER_UPPER,
    LOWER_LIP_MID,
    PORTRAIT_HINT,
    RIGHT_EYE_LOWER,
    RIGHT_EYE_UPPER,
    UPPER_LIP_MID,
    FaceBox,
    FaceMesh,
    find_face,
    mesh_for,
)

MAX_PORTRAIT_SIDE = 1600  # bigger photos are shrunk first: the panel never needs more
MIN_PORTRAIT_SIDE = 96
BACKDROP = (128, 128, 128)  # what shows through transparent parts of a portrait
GAP_AT_FULL_OPEN = 0.18  # inner-lip distance at open = 1, as a share of the face height
CHIN_SHARE = 0.75  # the chin follows the lower lip this much (the lip also drops on the jaw)
# of an opening change, the lower lip (with the jaw) moves this much; the upper lip the rest
JAW_SHARE = 0.7
RING_SCALE = 1.4  # the fixed ring around the face oval: the warp fades to nothing there
RING_SCALE_DOWN = 1.65  # ... but this far under the chin: the jaw's warp needs room there
RING_POINTS = 28
N_MESH_AND_RING = 468 + RING_POINTS
# mouth poses and blinks are quantised to these many levels and cached
OPEN_LEVELS = 10
WIDTH_LEVELS = 5
BLINK_LEVELS = 4
# breathing in pauses: at a full breath the shoulders and chest rise this share of the face
# height, the head a little less; quantised to these many levels (the body's pixels cached)
BREATH_BODY = 0.014
BREATH_HEAD = 0.009
BREATH_LEVELS = 8

FaceLandmarks = FaceMesh  # what locate_face returns: box, eyes, mouth and the whole mesh


# where the upper teeth meet, across the mouth (-1..1 corner to corner): the midline, then the
# central incisors' (about 8.5 mm of a 50 mm mouth), the laterals' and the canines' far edges,
# narrower as the arch turns away from the camera
_TOOTH_GAPS = (0.0, -0.33, 0.33, -0.55, 0.55, -0.72, 0.72)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _rounded(x: np.ndarray, y: np.ndarray, per: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """The polyline through (x, y) (x increasing) as a Catmull-Rom curve sampled ``per`` times a
    segment: a lip line drawn through a mesh's few points would show their corners."""
    if len(x) < 3:
        return x, y
    p = np.stack([x, y], axis=1)
    p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    t = np.linspace(0, 1, per, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    out = []
    for k in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[k - 1], p[k], p[k + 1], p[k + 2]
        out.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                + (3 * p1 - p0 - 3 * p2 + p3) * t3
            )
        )
    out.append(p[-2][None])
    c = np.vstack(out)
    cx = np.maximum.accumulate(c[:, 0])  # np.interp needs x that never goes back
    return cx, c[:, 1]


def remap_xy(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """``image`` sampled (bilinear, edges repeated) at the h × w × 2 float32 positions ``xy``."""
    return cv2.remap(  # type: ignore[call-overload,no-any-return]
        image, xy, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def remap_rel(plane: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """A single-channel ``plane`` sampled at each output pixel's own position plus
    ``offsets`` (h × w × 2 float32)."""
    return cv2.remap(  # type: ignore[call-overload,no-any-return]
        plane,
        offsets,
        None,
        cv2.INTER_LINEAR | cv2.WARP_RELATIVE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


# --- loading ---------------------------------------------------------------------------------


def load_portrait(path: Path) -> Image.Image:
    """Open a portrait photo upright as RGB, shrunk to a workable size; InputError naming it
    if unusable.

    EXIF orientation is applied; grayscale, 16-bit, CMYK, palette and transparent images are
    accepted
    (transparency shows a neutral grey).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"portrait {str(p)!r} does not exist; {PORTRAIT_HINT}")
    try:
        with Image.open(p) as im:
            im.draft("RGB", (MAX_PORTRAIT_SIDE, MAX_PORTRAIT_SIDE))  # JPEG: decode at 1/2..1/8 size
            im.load()
            img = ImageOps.exif_transpose(im)
            if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
                arr = np.asarray(img, dtype=np.float64)
                img = Image.fromarray((255 * arr / max(float(arr.max()), 1.0)).astype(np.uint8))
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                flat = Image.new("RGBA", rgba.size, (*BACKDROP, 255))
                img = Image.alpha_composite(flat, rgba)
            img = img.convert("RGB")
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
    ) as e:
        raise InputError(
            f"portrait {str(p)!r} is not a readable image ({e}); {PORTRAIT_HINT}"
        ) from None
    if max(img.size) > MAX_PORTRAIT_SIDE:
        img.thumbnail((MAX_PORTRAIT_SIDE, MAX_PORTRAIT_SIDE), Image.Resampling.LANCZOS)
    if min(img.size) < MIN_PORTRAIT_SIDE:
        raise InputError(
            f"portrait {str(p)!r} is {img.size[0]}x{img.size[1]} px; {PORTRAIT_HINT}, "
            f"at least {MIN_PORTRAIT_SIDE} px on each side (256 or more looks better)"
        )
    return img


def locate_face(
    img: np.ndarray, name: str = "portrait", *, face_index: int | None = None
) -> FaceMesh:
    """The face mesh of the one presenter in a photo (see
    :func:`tasks.render.landmarks.find_face`).
    """
    return find_face(img, name, face_index=face_index)


def detect_face(
    img: np.ndarray, name: str = "portrait", *, face_index: int | None = None
) -> tuple[int, int, int, int]:
    """The presenter's face box (x, y, w, h) in an RGB image."""
    x, y, w, h = locate_face(img, name, face_index=face_index).box
    return (round(x), round(y), round(w), round(h))


def _mesh_from_box(img: np.ndarray, box: tuple[int, int, int, int]) -> FaceMesh:
    """The mesh inside a face box given by the caller (eyes assumed level)."""
    x, y, w, h = (float(v) for v in box)
    kp = np.array(
        [[x + 0.3 * w, y + 0.4 * h], [x + 0.7 * w, y + 0.4 * h]] + [[x + w / 2, y + h / 2]] * 4
    )
    return mesh_for(img, FaceBox((x, y, w, h), 1.0, kp))


# --- panel helpers ----------------------------------------------------------------------------


def framed_base(background: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray:
    """The background with a white rounded frame and soft drop shadow around ``rect``."""
    base = background.copy()
    h, w = base.shape[:2]
    x0, y0, pw, ph = rect
    pad = max(3, int(0.012 * pw))
    off = int(0.02 * pw)
    r = max(4, int(0.04 * pw))
    shadow = Image.new("L", (w, h), 0)
    ImageDraw.Draw(shadow).rounded_rectangle(
        (x0 - pad + off, y0 - pad + off, x0 + pw + pad + off, y0 + ph + pad + off),
        radius=r + pad,
        fill=110,
    )
    sh = np.asarray(shadow.filter(ImageFilter.GaussianBlur(radius=2 * off + 2)), dtype=np.uint16)[
        ..., None
    ]
    base[...] = (base.astype(np.uint16) * (255 - sh) // 255).astype(np.uint8)
    frame = Image.new("L", (w, h), 0)
    ImageDraw.Draw(frame).rounded_rectangle(
        (x0 - pad, y0 - pad, x0 + pw + pad - 1, y0 + ph + pad - 1), radius=r + pad, fill=255
    )
    fa = np.asarray(frame, dtype=np.uint16)[..., None]
    base[...] = ((base.astype(np.uint16) * (255 - fa) + 250 * fa) // 255).astype(np.uint8)
    return base


# --- poses -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MouthPose:
    """Targets for the mouth: open 0..1 (jaw and lips), width −1 (rounded) .. +1 (spread),
    teeth/tongue 0..1 (tongue raised to the teeth), press 0..1 (m/b/p), tuck 0..1 (f/v)."""

    open: float = 0.0
    width: float = 0.0
    teeth: float = 0.0
    tongue: float = 0.0
    press: float = 0.0
    tuck: float = 0.0


def _cols(idx: tuple[int, ...]) -> list[int]:
    return list(idx)


_UI, _LI = _cols(LIPS_INNER_UPPER), _cols(LIPS_INNER_LOWER)
_UO, _LO = _cols(LIPS_OUTER_UPPER), _cols(LIPS_OUTER_LOWER)
_LIP_POINTS = sorted(set(_UI + _LI + _UO + _LO))
_EYE_PAIRS = [
    (u, lo)
    for up, low in ((LEFT_EYE_UPPER, LEFT_EYE_LOWER), (RIGHT_EYE_UPPER, RIGHT_EYE_LOWER))
    for u, lo in zip(up[1:-1], low[1:-1], strict=True)
]


class FaceRig:
    """A face mesh turned into a warp: rest points, the ring, the triangles, and the targets
    of every pose, in the coordinates of the image the mesh was measured on."""

    def __init__(self, mesh: FaceMesh) -> None:
        self.mesh = mesh
        xy = mesh.xy.astype(np.float64)
        self.fh = fh = mesh.height
        (lx, ly), (rx, ry) = mesh.eyes
        u = np.array([rx - lx, ry - ly])
        self.u = u / max(np.linalg.norm(u), 1e-6)  # along the eyes
        self.v = np.array([-self.u[1], self.u[0]])  # down the face
        self.m = xy[[UPPER_LIP_MID, LOWER_LIP_MID]].mean(0)
        rel = xy - self.m
        self.a, self.b = rel @ self.u, rel @ self.v
        self.mouth_w = float(np.linalg.norm(xy[_UO[0]] - xy[_UO[-1]]))
        oval = xy[list(FACE_OVAL)]
        self.face_w = float(np.ptp(oval @ self.u))
        # the ring is centred on the oval's middle (its points crowd at the forehead) and
        # reaches further down than across: the jaw's warp needs room under the chin
        ou, ov = oval @ self.u, oval @ self.v
        # (its top RING_SCALE, its bottom RING_SCALE_DOWN times the oval's half-height away)
        down = (RING_SCALE_DOWN - RING_SCALE) / 2 * np.ptp(ov) / 2
        centre = ((ou.min() + ou.max()) / 2) * self.u + ((ov.min() + ov.max()) / 2 + down) * self.v
        ang = np.linspace(0, 2 * np.pi, RING_POINTS, endpoint=False)
        ring_r = np.array(
            [RING_SCALE * np.ptp(ou) / 2, (RING_SCALE + RING_SCALE_DOWN) * np.ptp(ov) / 4]
        )
        ring = (
            centre
            + np.outer(np.cos(ang) * ring_r[0], self.u)
            + np.outer(np.sin(ang) * ring_r[1], self.v)
        )
        self.centre, self.ring_r = centre, ring_r
        self.rest = np.vstack([xy, ring])
        self.n_mesh = len(xy)
        # rest lip geometry per column (corner to corner)
        self.gap0 = (xy[_LI] - xy[_UI]) @ self.v
        self.gap0 = np.maximum(self.gap0, 0.0)
        self.thick_u = np.maximum((xy[_UI] - xy[_UO]) @ self.v, 0.5)
        self.thick_l = np.maximum((xy[_LO] - xy[_LI]) @ self.v, 0.5)
        s = self.a[_UI] / max(self.mouth_w / 2, 1e-6)
        # a lens: the lips part most in the middle and taper into the corners
        self.profile = np.clip(1 - s**2, 0, 1)
        self.jaw_w = self._jaw_weights()
        # the warp is steered by the lip and lid contours; other mesh points close to them would
        # pin the skin a pixel away from a moving lip, so they do not steer
        lids = [i for pair in _EYE_PAIRS for i in pair]
        near = np.zeros(len(self.rest), dtype=bool)
        for group, reach in ((_LIP_POINTS, 0.07), (lids, 0.045)):
            d = np.linalg.norm(self.rest[:, None, :] - self.rest[None, group, :], axis=-1).min(1)
            near |= d < reach * fh
        near[_LIP_POINTS] = False
        near[lids] = False
        self.steers = ~near

    def _jaw_weights(self) -> np.ndarray:
        """How much each mesh point rides with the jaw: 1 at the chin, 0 above the mouth corners
        and towards the jaw's hinges under the ears."""
        fh = self.fh
        vert = _smoothstep((self.b + 0.02 * fh) / (0.14 * fh))
        horiz = 1 - _smoothstep((np.abs(self.a) / (0.5 * self.face_w) - 0.45) / 0.6)
        return vert * horiz

    def targets(self, pose: MouthPose | None, blink: float) -> np.ndarray:
        """Where every rest point goes for this mouth pose (None: as in the photo) and eyelid
        closure.
        """
        fh, v, u = self.fh, self.v, self.u
        t = self.rest.copy()
        n = self.n_mesh
        if pose is None:
            return self._blink(t, blink)
        g = float(np.clip(pose.open, 0, 1)) * GAP_AT_FULL_OPEN * fh
        tuck = float(np.clip(pose.tuck, 0, 1))
        press = float(np.clip(pose.press, 0, 1))
        g = g * (1 - tuck) + tuck * 0.03 * fh
        gap = np.maximum(g * self.profile, 0.3)
        gap[0] = gap[-1] = 0.0
        delta = gap - self.gap0
        jaw = JAW_SHARE * float(delta[len(delta) // 2])
        # the jaw carries the chin, the lower face and (below) the lower lip
        t[:n] += np.outer(self.jaw_w * jaw * CHIN_SHARE, v)
        up = -(1 - JAW_SHARE) * delta - tuck * 0.008 * fh
        low = JAW_SHARE * delta
        # upper lip: inner edge moves; the outer edge follows, thinner when pressed
        t[_UI] = self.rest[_UI] + np.outer(up, v)
        t[_UO] = self.rest[_UO] + np.outer(up * 0.8 + press * 0.3 * self.thick_u, v)
        t[_LI] = self.rest[_LI] + np.outer(low, v)
        t[_LO] = self.rest[_LO] + np.outer(
            low - press * 0.3 * self.thick_l - tuck * 0.35 * self.thick_l, v
        )
        # width: spread pulls the corners out, rounding pushes the lips together and forward
        # a dropping jaw draws the corners in a little; then spread or round the lips
        w = float(np.clip(pose.width, -1, 1)) - 0.35 * float(np.clip(pose.open, 0, 1))
        if w:
            d = np.hypot(self.a / (0.9 * self.mouth_w), self.b / (0.2 * fh))
            fall = np.exp(-(d**2))
            fall[fall < 0.05] = 0.0
            fall[_LIP_POINTS] = 1.0
            t[:n] += np.outer(0.14 * w * self.a * fall, u)
            if w < 0:
                pout = -w * 0.12
                t[_UO] -= np.outer(pout * self.thick_u, v)
                t[_LO] += np.outer(pout * self.thick_l, v)
        return self._blink(t, blink)

    def _blink(self, t: np.ndarray, blink: float) -> np.ndarray:
        if blink > 0:
            c = float(np.clip(blink, 0, 1))
            for up_i, lo_i in _EYE_PAIRS:
                meet = 0.8 * self.rest[lo_i] + 0.2 * self.rest[up_i]
                t[up_i] = self.rest[up_i] + c * (meet - self.rest[up_i])
                t[lo_i] = self.rest[lo_i] + c * 0.12 * (self.rest[up_i] - self.rest[lo_i])
        return t

    def region(
        self, poses: Sequence[tuple[MouthPose | None, float]], margin: float, shape: tuple[int, int]
    ) -> tuple[tuple[int, int, int, int], np.ndarray]:
        """The box the ``poses`` move (plus ``margin`` × face height), and the indices of the
        rest points inside it that steer its warp."""
        tgs = [self.targets(pose, blink) for pose, blink in poses]
        moved = np.zeros(len(self.rest), dtype=bool)
        for tg in tgs:
            moved |= np.abs(tg - self.rest).max(1) > 0.05
        allp = np.vstack([self.rest[moved], *(tg[moved] for tg in tgs)])
        pad = margin * self.fh
        x0, y0 = np.floor(allp.min(0) - pad).astype(int)
        x1, y1 = np.ceil(allp.max(0) + pad).astype(int)
        box = (max(0, int(x0)), max(0, int(y0)), min(shape[1], int(x1)), min(shape[0], int(y1)))
        inside = np.flatnonzero(
            self.steers
            & (self.rest[:, 0] > box[0] + 1)
            & (self.rest[:, 0] < box[2] - 1)
            & (self.rest[:, 1] > box[1] + 1)
            & (self.rest[:, 1] < box[3] - 1)
        )
        return box, inside

    def head_box(self, shape: tuple[int, int]) -> tuple[int, int, int, int]:
        """The ring's bounding box in an image of ``shape`` (h, w): where head motion ends."""
        ring = self.rest[self.n_mesh :]
        x0, y0 = np.floor(ring.min(0)).astype(int)
        x1, y1 = np.ceil(ring.max(0)).astype(int)
        return max(0, int(x0)), max(0, int(y0)), min(shape[1], int(x1)), min(shape[0], int(y1))

    def warp_boxes(
        self, shape: tuple[int, int], within: tuple[int, int, int, int] | None = None
    ) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int], np.ndarray]:
        """The eye box, the mouth box (the two never overlap) and the rest points steering
        the mouth's warp, in an image of ``shape`` (h, w), both inside ``within`` (default:
        the head's box): every pose stays inside its box."""
        hx0, hy0, hx1, hy1 = within if within is not None else self.head_box(shape)
        extremes = [
            (MouthPose(open=1.0, width=-1.0), 0.0),
            (MouthPose(open=1.0, width=1.0), 0.0),
            (MouthPose(press=1.0, width=1.0), 0.0),
            (MouthPose(tuck=1.0, width=-1.0), 0.0),
            (MouthPose(), 0.0),
        ]
        eye_box, _ = self.region([(None, 1.0)], 0.06, shape)
        mouth_box, ctrl = self.region(extremes, 0.28, shape)
        eye_box, mouth_box = (
            (max(x0, hx0), max(y0, hy0), min(x1, hx1), min(y1, hy1))
            for x0, y0, x1, y1 in (eye_box, mouth_box)
        )
        ctrl = ctrl[
            (self.rest[ctrl, 0] > mouth_box[0] + 1)
            & (self.rest[ctrl, 0] < mouth_box[2] - 1)
            & (self.rest[ctrl, 1] < mouth_box[3] - 1)
        ]
        if mouth_box[1] < eye_box[3]:  # the mouth's box starts under the eyes'
            mouth_box = (mouth_box[0], eye_box[3], mouth_box[2], mouth_box[3])
            ctrl = ctrl[self.rest[ctrl, 1] > eye_box[3] + 1]
        return eye_box, mouth_box, ctrl

    def warp_outlines(self, shape: tuple[int, int], spacing: float = 3.0) -> list[np.ndarray]:
        """Every edge where a warp of this face ends, as closed polylines sampled every
        ``spacing`` px (image coordinates): the ring where head motion fades out, and the
        head's, eye and mouth boxes. The quality check looks for seams along them."""
        ring = self.rest[self.n_mesh :]
        outlines = [np.vstack([ring, ring[:1]])]
        for x0, y0, x1, y1 in (self.head_box(shape), *self.warp_boxes(shape)[:2]):
            outlines.append(
                np.array([[x0, y0], [x1 - 1, y0], [x1 - 1, y1 - 1], [x0, y1 - 1], [x0, y0]], float)
            )
        dense = []
        for line in outlines:
            seg = np.diff(line, axis=0)
            n = np.maximum(1, np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / spacing)).astype(int)
            dense.append(
                np.vstack(
                    [
                        a + np.outer(np.arange(k) / k, b - a)
                        for a, b, k in zip(line[:-1], line[1:], n, strict=True)
                    ]
                )
            )
        return dense


def border_points(box: tuple[int, int, int, int], spacing: float) -> np.ndarray:
    """Points along a box's edge: fixed, so the warp is exactly still where the box ends."""
    x0, y0, x1, y1 = box
    nx = max(2, math.ceil((x1 - x0) / spacing) + 1)
    ny = max(2, math.ceil((y1 - y0) / spacing) + 1)
    xs, ys = np.linspace(x0, x1 - 1, nx), np.linspace(y0, y1 - 1, ny)
    return np.vstack(
        [
            np.column_stack([xs, np.full(nx, y0)]),
            np.column_stack([xs, np.full(nx, y1 - 1)]),
            np.column_stack([np.full(ny - 2, x0), ys[1:-1]]),
            np.column_stack([np.full(ny - 2, x1 - 1), ys[1:-1]]),
        ]
    )


def _tps_kernel(d2: np.ndarray) -> np.ndarray:
    return np.where(d2 > 0, d2 * np.log(np.maximum(d2, 1e-12)), 0.0)


class CoarseGrid:
    """A box sampled every ``step`` pixels or so, for smooth displacement fields: computed at
    the samples, brought to every pixel by one ``cv2.resize`` (the samples sit where resize
    expects them, so a linear field comes back exact) and added to the pixels' own positions.
    """

    def __init__(self, box: tuple[int, int, int, int], step: float) -> None:
        x0, y0, x1, y1 = box
        self.w, self.h = w, h = x1 - x0, y1 - y0
        self.gw, self.gh = gw, gh = max(2, math.ceil(w / step) + 1), max(2, math.ceil(h / step) + 1)
        self.cell = np.array([w / gw, h / gh], dtype=np.float32)  # pixels per sample
        # resize reads pixel x from sample (x + 0.5)·gw/w − 0.5, so sample j sits at pixel
        # (j + 0.5)·w/gw − 0.5
        sx = (np.arange(gw) + 0.5) * w / gw - 0.5 + x0
        sy = (np.arange(gh) + 0.5) * h / gh - 0.5 + y0
        gx, gy = np.meshgrid(sx, sy)
        self.points = np.dstack([gx, gy]).astype(np.float32)  # (gh, gw, 2), image coordinates
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        self.pixels = np.dstack([xs, ys])  # (h, w, 2): every pixel's own position

    def offsets(self, disp: np.ndarray) -> np.ndarray:
        """``disp`` (gh × gw × 2, pixels) brought up to every pixel: a relative remap map."""
        return cv2.resize(disp, (self.w, self.h), interpolation=cv2.INTER_LINEAR)

    def map(self, disp: np.ndarray) -> np.ndarray:
        """The cv2.remap map (h × w × 2 float32): each pixel's position plus ``disp`` (gh × gw ×
        2, pixels) brought up from the samples."""
        up = cv2.resize(disp, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        return cv2.add(self.pixels, up)


class SplineWarp:
    """A thin-plate spline over fixed rest points: give it where those points go, and it warps
    a box of the photo to match, bending as little as possible in between (no folds, smooth
    cheeks). The spline's system and its values on a coarse grid of the box are prepared
    once, so each new pose costs one back-substitution and one matrix product; the backward
    map the picture needs is then found by a few fixed-point steps on the forward one.
    """

    def __init__(self, rest: np.ndarray, box: tuple[int, int, int, int], step: int = 3) -> None:
        from scipy.linalg import lu_factor, lu_solve

        self.box, self.step = box, step
        self.scale = max(float(np.ptp(rest, axis=0).max()), 1.0)
        self.origin = rest.mean(0)
        self.rest = rest
        c = (rest - self.origin) / self.scale
        n = self.n = len(c)
        lhs = np.zeros((n + 3, n + 3))
        lhs[:n, :n] = _tps_kernel(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1)) + 1e-9 * np.eye(n)
        lhs[:n, n] = lhs[n, :n] = 1
        lhs[:n, n + 1 :] = c
        lhs[n + 1 :, :n] = c.T
        self.grid = CoarseGrid(box, step)
        self.grid_shape = (self.grid.gh, self.grid.gw)
        g = (self.grid.points.reshape(-1, 2).astype(np.float64) - self.origin) / self.scale
        basis = np.hstack(
            [_tps_kernel(((g[:, None, :] - c[None, :, :]) ** 2).sum(-1)), np.ones((len(g), 1)), g]
        )
        # grid displacement = basis @ lhs⁻¹ @ [point displacements; 0]: fold it into one matrix,
        # one row per rest point (the warp is linear in the points' displacements)
        self.weights = np.ascontiguousarray(
            lu_solve(lu_factor(lhs), basis.T, trans=1)[:n], dtype=np.float32
        )
        gh, gw = self.grid_shape
        qy, qx = np.mgrid[0:gh, 0:gw].astype(np.float32)
        self._q = np.dstack([qx, qy])  # the coarse grid, in samples

    def backward(self, moved: np.ndarray, iterations: int = 4) -> np.ndarray:
        """The map for cv2.remap (h × w × 2, float32): where each pixel of the box comes from,
        in image coordinates, when the rest points have moved to ``moved``."""
        d = np.ascontiguousarray(moved - self.rest, dtype=np.float32)
        gh, gw = self.grid_shape
        # OpenCV's product: numpy's BLAS threads only wait for each other on a busy machine
        disp = cv2.gemm(self.weights, d, 1.0, None, 0.0, flags=cv2.GEMM_1_T)  # type: ignore[call-overload]
        cell = self.grid.cell
        f = disp.reshape(gh, gw, 2) / cell  # in samples
        # solve p + d(p) = q for p on the coarse grid: p ← q − d(p) (each half's d is gentle)
        q = self._q
        p = q.copy()
        for _ in range(iterations):
            p = q - remap_xy(f, p)
        return self.grid.map((p - q) * cell)

    def warp(self, image: np.ndarray, moved: np.ndarray) -> np.ndarray:
        """The box of ``image`` with the rest points moved to ``moved``."""
        return remap_xy(image, self.backward(moved))


class MouthPainter:
    """The inside of the mouth for a pose: cavity, teeth and tongue, in the photo's colours."""

    def __init__(self, image: np.ndarray, rig: FaceRig) -> None:
        self.rig = rig
        xy = rig.rest
        fh = rig.fh
        h, w = image.shape[:2]

        def polygon_pixels(poly: np.ndarray) -> np.ndarray:
            mask = np.zeros((h, w), np.uint8)
            cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 255, shift=4)
            return image[mask > 0].reshape(-1, 3).astype(np.float64)

        lips = np.vstack(
            [
                polygon_pixels(np.vstack([xy[_UO], xy[_UI][::-1]])),
                polygon_pixels(np.vstack([xy[_LO], xy[_LI][::-1]])),
            ]
        )
        self.lip = np.median(lips, axis=0) if len(lips) else np.array([150.0, 90.0, 90.0])
        whites = np.vstack(
            [
                polygon_pixels(np.vstack([xy[list(up)], xy[list(lo)][::-1]]))
                for up, lo in ((LEFT_EYE_UPPER, LEFT_EYE_LOWER), (RIGHT_EYE_UPPER, RIGHT_EYE_LOWER))
            ]
        )
        # ivory in the photo's exposure: a little under the face's brightest skin and eye
        # whites (not their tint, which glasses and light colour)
        face = polygon_pixels(xy[list(FACE_OVAL)])
        bright = (
            float(np.percentile(np.vstack([face, whites]).mean(axis=1), 98)) if len(face) else 200.0
        )
        skin_hue = (
            np.median(face, axis=0) / max(float(np.median(face, axis=0).max()), 1.0)
            if len(face)
            else np.ones(3)
        )
        # ivory, lit like the photo (a dim photo: dimmer teeth), barely tinted by the skin:
        # a skin-coloured mix reads as grey-brown teeth
        exposure = float(np.clip(bright / 215.0, 0.72, 1.0))
        teeth = exposure * (0.88 * np.array([246.0, 242.0, 230.0]) + 0.12 * 240.0 * skin_hue)
        self.teeth_col = np.clip(teeth, 0, 255)
        # does the photo show teeth? then its own teeth are used (upper fixed, lower with the jaw)
        inner = polygon_pixels(np.vstack([xy[_UI], xy[_LI][::-1]]))
        toothy = (
            (np.ptp(inner, axis=1) < 60) & (inner.mean(axis=1) > 1.15 * float(self.lip.mean()))
            if len(inner)
            else np.zeros(0, bool)
        )
        gap_mid = float(rig.gap0[len(rig.gap0) // 2])
        self.photo_teeth = gap_mid > 0.02 * fh and len(inner) > 8 and float(toothy.mean()) > 0.3
        if self.photo_teeth:
            self.teeth_col = np.median(inner[toothy], axis=0)
        self.image = image
        # a mouth's inside is nearly black with the lips' red in it; the tongue a muted pink
        self.cavity = np.clip(self.lip * 0.18 + np.array([10.0, 2.0, 4.0]), 0, 255)
        self.tongue_col = np.clip(self.lip * np.array([0.95, 0.6, 0.62]) * 0.62 + 6, 0, 255)
        self.soft = max(1.0, 0.005 * fh)  # edge softness inside the mouth, in pixels
        self.upper_teeth_h = 0.026 * fh
        self.lower_teeth_h = 0.022 * fh

    def _line(self, pts: np.ndarray, a: np.ndarray) -> np.ndarray:
        """The lip line through ``pts`` (face coordinates along v) at positions ``a``."""
        return self.line_at(pts, a, self.rig.m)

    def line_at(self, pts: np.ndarray, a: np.ndarray, origin: np.ndarray) -> np.ndarray:
        """The curve through ``pts`` as a distance down the face at positions ``a`` across it,
        both measured from ``origin``."""
        rel = pts - origin
        pa, pb = rel @ self.rig.u, rel @ self.rig.v
        order = np.argsort(pa)
        pa, pb = _rounded(pa[order], pb[order])
        return np.interp(a, pa, pb)

    def paint(
        self,
        patch: np.ndarray,
        box: tuple[int, int, int, int],
        targets: np.ndarray,
        pose: MouthPose,
    ) -> np.ndarray:
        """Draw the mouth's inside into ``patch`` (the warped box) where the lips part."""
        rig = self.rig
        inner = np.vstack([targets[_UI], targets[_LI]])
        bx0, by0, bx1, by1 = box
        x0, y0 = np.floor(inner.min(0)).astype(int) - 1
        x1, y1 = np.ceil(inner.max(0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, bx0), max(y0, by0), min(x1, bx1), min(y1, by1)
        if x1 <= x0 or y1 <= y0:
            return patch
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        rel_x, rel_y = xs - rig.m[0], ys - rig.m[1]
        a = rel_x * rig.u[0] + rel_y * rig.u[1]
        b = rel_x * rig.v[0] + rel_y * rig.v[1]
        top = self._line(targets[_UI], a)
        bottom = self._line(targets[_LI], a)
        gap = bottom - top
        a_lo = float((targets[_UI[0]] - rig.m) @ rig.u)
        a_hi = float((targets[_UI[-1]] - rig.m) @ rig.u)
        inside_x = np.clip(np.minimum(a - a_lo, a_hi - a), 0, 1)
        # soft edges, and a slit thinner than a pixel stays lips (no drawn-looking line)
        mask = np.clip(b - top + 0.5, 0, 1) * np.clip(bottom - b + 0.5, 0, 1) * inside_x
        if gap.max() > 3:  # an opening gets rounder corners; a closed crease stays a hairline
            mask = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.7).astype(np.float64)
        if mask.max() <= 0.02:
            return patch
        opened = _smoothstep((gap - 1.0) / 2.5)[..., None]  # a slit is the lips' crease
        half = max((a_hi - a_lo) / 2, 1e-6)
        s = np.clip((a - (a_lo + a_hi) / 2) / half, -1.2, 1.2)
        depth = np.clip((b - top) / np.maximum(gap, 1.0), 0, 1)
        # the cavity: in the upper teeth's shadow at the top and the cheeks' towards the corners,
        # a little light reaching the floor of the mouth
        shade = (0.65 + 0.7 * depth) * (1 - 0.5 * s**2)
        col = self.cavity[None, None, :] * shade[..., None]
        jaw_shift = float((targets[LOWER_LIP_MID] - rig.rest[LOWER_LIP_MID]) @ rig.v)
        rest_up = self._line(rig.rest[_UI], a)
        rest_low = self._line(rig.rest[_LI], a)
        rest_mid = (rest_up + rest_low) / 2
        # tongue: a dome low in the mouth, highest in the middle, its tip raised to the teeth for
        # l/th/n; lit at the front, its top edge (further back) in shadow
        gmax = max(float(gap.max()), 1.0)
        dome = np.sqrt(np.clip(1 - (s / 0.85) ** 2, 0, 1))
        tongue_top = bottom - gmax * dome * (0.22 + 0.55 * pose.tongue)
        t_mask = _smoothstep((b - tongue_top) / (0.12 * gmax + self.soft))
        t_light = (0.65 + 0.25 * dome) * (
            0.55 + 0.45 * _smoothstep((b - tongue_top) / (0.3 * gmax))
        )
        tongue = self.tongue_col * t_light[..., None]
        col = col * (1 - t_mask[..., None]) + tongue * t_mask[..., None]
        # lower teeth ride with the jaw, just above the lower lip; the tongue hides them for l/th/n
        low_edge = rest_low + jaw_shift - self.lower_teeth_h * np.clip(1 - s**2, 0.2, 1) ** 0.4
        lt = _smoothstep((b - low_edge) / (1.2 * self.soft)) * np.clip(
            (0.6 - np.abs(s)) / 0.3, 0, 1
        )
        lt *= 1 - 0.7 * pose.tongue
        lower = np.broadcast_to(self.teeth_col * 0.78, col.shape)
        if self.photo_teeth:
            src = self._photo(xs - jaw_shift * rig.v[0], ys - jaw_shift * rig.v[1])
            lower = np.where((b - jaw_shift > rest_mid)[..., None], src * 0.92, lower)
        col = col * (1 - lt[..., None]) + lower * lt[..., None]
        # upper teeth hang from the upper jaw (the rest upper lip): they never move; each tooth's
        # biting edge is rounded into the gaps beside it (a straight edge reads as a strip)
        up_edge = rest_up + self.upper_teeth_h * np.clip(1 - s**2, 0.2, 1) ** 0.4
        if not self.photo_teeth:
            notch = np.zeros_like(a)
            for k in _TOOTH_GAPS:
                notch = np.maximum(notch, np.exp(-((((s - k) * half) / (0.008 * rig.fh)) ** 2)))
            up_edge = up_edge - 0.15 * self.upper_teeth_h * notch
        if self.photo_teeth:
            up_edge = np.maximum(up_edge, rest_mid)
        ut = _smoothstep((up_edge - b) / (1.2 * self.soft)) * np.clip(
            (0.72 - np.abs(s)) / 0.3, 0, 1
        )
        # incisors: faint gaps between teeth, darker towards the corners and the biting edge
        gaps = np.ones_like(a)
        for k in _TOOTH_GAPS:
            gaps -= 0.06 * np.exp(-(((s - k) * half / 0.6) ** 2))
        fade = (1 - 0.45 * s**2) * (1 - 0.1 * _smoothstep((b - (up_edge - 2.0)) / 2.0)) * gaps
        upper = self.teeth_col * fade[..., None]
        if self.photo_teeth:
            upper = np.where(
                ((b > rest_up + 1) & (b < rest_mid))[..., None], self._photo(xs, ys), upper
            )
        col = col * (1 - ut[..., None]) + upper * ut[..., None]
        # the upper lip shades the top of the mouth a little; both lips' wet inner edges show
        # their own (darker) red over a pixel or two, not a black rim
        col *= (1 - 0.15 * np.exp(-(b - top) / (0.012 * rig.fh + 0.8)))[..., None]
        rim = 0.35 * np.exp(-np.minimum(b - top, bottom - b).clip(0) / (0.004 * rig.fh + 0.5))
        col = col * (1 - rim[..., None]) + self.lip * 0.6 * rim[..., None]
        col = col * opened + self.lip * 0.75 * (1 - opened)
        m = mask[..., None]
        out = self._soften_corners(patch, box, targets, float(gap.max()), a_lo, a_hi)
        sub = out[y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0].astype(np.float64)
        out[y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0] = (
            (sub * (1 - m) + col * m).clip(0, 255).astype(np.uint8)
        )
        return out

    def _soften_corners(
        self,
        patch: np.ndarray,
        box: tuple[int, int, int, int],
        targets: np.ndarray,
        gap: float,
        a_lo: float,
        a_hi: float,
    ) -> np.ndarray:
        """A copy of ``patch`` with the photo's lip line beyond the mouth's corners smoothed
        away as the mouth opens: left there, it reads as a crease running out of the corners."""
        rig = self.rig
        out = patch.copy()
        amount = float(np.clip((gap - 2.0) / (0.04 * rig.fh), 0, 1))
        if amount <= 0.02:
            return out
        reach = 0.1 * rig.fh
        bx0, by0, bx1, by1 = box
        ends = np.vstack([targets[_UI[0]], targets[_UI[-1]]])
        x0, y0 = np.floor(ends.min(0) - reach).astype(int)
        x1, y1 = np.ceil(ends.max(0) + reach).astype(int)
        x0, y0, x1, y1 = max(x0, bx0), max(y0, by0), min(x1, bx1), min(y1, by1)
        if x1 <= x0 or y1 <= y0:
            return out
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        rel_x, rel_y = xs - rig.m[0], ys - rig.m[1]
        a = rel_x * rig.u[0] + rel_y * rig.u[1]
        b = rel_x * rig.v[0] + rel_y * rig.v[1]
        mid = (self._line(rig.rest[_UI], a) + self._line(rig.rest[_LI], a)) / 2
        past = np.maximum(a_lo - a, a - a_hi)  # > 0 beyond a corner
        along = np.where(past > 0, 1 - _smoothstep(past / reach), 0.0)
        near = np.exp(-(((b - mid) / (0.025 * rig.fh + 2.0)) ** 2))
        w = (amount * along * near)[..., None]
        region = out[y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
        soft = cv2.GaussianBlur(region, (0, 0), sigmaX=1.0, sigmaY=0.012 * rig.fh + 1.5)
        out[y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0] = (region * (1 - w) + soft * w).astype(
            np.uint8
        )
        return out

    def _photo(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        return cv2.remap(
            self.image,
            xs.astype(np.float32),
            ys.astype(np.float32),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        ).astype(np.float64)


# --- the presenter ---------------------------------------------------------------------------


def pose_from_key(key: tuple[int, ...], open_levels: int, width_levels: int) -> MouthPose:
    """A quantised mouth key (open, width, teeth, tongue[, press, tuck]) as a pose."""
    k = tuple(key) + (0,) * (6 - len(key))
    return MouthPose(
        open=k[0] / (open_levels - 1),
        width=k[1] / (width_levels - 1) * 2 - 1,
        teeth=float(k[2]),
        tongue=float(k[3]),
        press=float(k[4]),
        tuck=float(k[5]),
    )


class PortraitPresenter:
    """A user's photo in a panel, talking through its face mesh (see the module docstring).

    ``rect`` (x, y, w, h) places the panel in the frame (default: the studio layout); ``framed``
    draws a white frame, rounded corners and a shadow around it.
    """

    open_levels = OPEN_LEVELS
    width_levels = WIDTH_LEVELS

    def __init__(
        self,
        image: np.ndarray,
        face: tuple[int, int, int, int] | FaceMesh,
        size: tuple[int, int],
        *,
        rect: tuple[int, int, int, int] | None = None,
        framed: bool = True,
    ) -> None:
        w, h = size
        self.size = size
        self.framed = framed
        if rect is None:
            aspect = h / w
            ph = h * (0.56 if aspect > 1.2 else 0.7 if aspect > 0.85 else 0.8)
            pw = min(ph * 0.8, w * 0.86)
            rect = (
                (w - int(pw) // 2 * 2) // 2,
                int(h * (0.2 if aspect > 1.2 else 0.08 if aspect > 0.85 else 0.06)),
                int(pw),
                int(ph),
            )
        self.px0, self.py0 = int(rect[0]), int(rect[1])
        self.pw, self.ph = int(rect[2]) // 2 * 2, int(rect[3]) // 2 * 2
        mesh = face if isinstance(face, FaceMesh) else _mesh_from_box(image, face)
        self.panel, self.marks = self._crop_panel(image, mesh)
        self.face = self.marks.box
        self.mouth_c = self.marks.mouth
        self.eye_cs = list(self.marks.eyes)
        self.iod = self.eye_cs[1][0] - self.eye_cs[0][0]
        self.rig = FaceRig(self.marks)
        self.painter = MouthPainter(self.panel, self.rig)
        # the head: everything inside the ring may move (nods, sway); clipped to the panel
        ring = self.rig.rest[self.rig.n_mesh :]
        hx0, hy0 = np.floor(ring.min(0)).astype(int)
        hx1, hy1 = np.ceil(ring.max(0)).astype(int)
        inset = max(4, int(0.04 * self.pw)) if framed else 0
        # on the frame's even 2×2 grid (I420 chroma) and inside the frame
        fx0 = -(-max(self.px0 + max(inset, int(hx0)), 0) // 2) * 2
        fy0 = -(-max(self.py0 + max(inset, int(hy0)), 0) // 2) * 2
        fx1 = min(self.px0 + min(self.pw - inset, int(hx1)), w) // 2 * 2
        fy1 = min(self.py0 + min(self.ph - inset, int(hy1)), h) // 2 * 2
        self.head_box = (
            fx0 - self.px0,
            fy0 - self.py0,
            max(fx1, fx0 + 2) - self.px0,
            max(fy1, fy0 + 2) - self.py0,
        )
        # the eye and mouth warps stay inside the head's box: all of a warp is pasted
        self.eye_box, self.mouth_box, self._mouth_ctrl = self.rig.warp_boxes(
            (self.ph, self.pw), self.head_box
        )
        spacing = max(8.0, 0.08 * self.rig.fh)
        self._mouth_fixed = border_points(self.mouth_box, spacing)
        self._halves = self._mouth_halves()
        ys, xs = np.mgrid[
            self.mouth_box[1] : self.mouth_box[3], self.mouth_box[0] : self.mouth_box[2]
        ].astype(np.float64)
        rx, ry = xs - self.rig.m[0], ys - self.rig.m[1]
        self._mouth_ab = (
            (rx * self.rig.u[0] + ry * self.rig.u[1]).astype(np.float32),
            (rx * self.rig.v[0] + ry * self.rig.v[1]).astype(np.float32),
        )
        self._mouth_soft = (
            0.6 + np.clip(np.abs(self._mouth_ab[0]) - self.rig.mouth_w / 2, 0, None) * 1.5
        ).astype(np.float32)
        self._head_weight = self._motion_weight()
        pad = (math.ceil(BREATH_BODY * self.rig.fh) + 3) // 2 * 2
        hb = self.head_box
        # on the frame's even grid too (its I420 form is cached): an odd panel edge rounds in
        ex0, ey0 = self.px0 % 2, self.py0 % 2
        self.head_src = (
            max(ex0, hb[0] - pad),
            max(ey0, hb[1] - pad),
            min(self.pw - (self.pw - ex0) % 2, hb[2] + pad),
            min(self.ph - (self.ph - ey0) % 2, hb[3] + pad),
        )
        # the body: from the chin down to the panel's bottom, across the panel (inside its
        # frame), on the even grid; it rises a little as the presenter breathes in
        chin = float(self.rig.rest[list(FACE_OVAL), 1].max())
        bx0 = -(-max(self.px0 + inset, 0) // 2) * 2
        by0 = -(-max(self.py0 + int(chin), 0) // 2) * 2
        bx1 = min(self.px0 + self.pw - inset, w) // 2 * 2
        by1 = min(self.py0 + self.ph - inset, h) // 2 * 2
        self.body_box = (
            bx0 - self.px0,
            min(by0, by1 - 2) - self.py0,
            max(bx1, bx0 + 2) - self.px0,
            by1 - self.py0,
        )
        self.pivot = (self.mouth_c[0], min(self.ph - 1.0, self.mouth_c[1] + 0.9 * self.iod))
        if framed:
            radius = max(4, int(0.04 * self.pw))
            mask = Image.new("L", (self.pw, self.ph), 0)
            ImageDraw.Draw(mask).rounded_rectangle(
                (0, 0, self.pw - 1, self.ph - 1), radius=radius, fill=255
            )
            self.alpha: np.ndarray | None = np.asarray(mask, dtype=np.uint8)[..., None]
        else:
            self.alpha = None
        self._mouths: dict[tuple[int, ...], np.ndarray] = {}
        self._eyes: dict[int, np.ndarray] = {}
        self._bodies: dict[int, tuple[int, int, np.ndarray]] = {}
        Planes = tuple[np.ndarray, np.ndarray, np.ndarray]
        self._heads_i420: dict[tuple[tuple[int, ...], int], Planes] = {}
        self._bodies_i420: dict[int, tuple[int, int, Planes]] = {}
        self._grid_pair: tuple[CoarseGrid, CoarseGrid] | None = None
        self._last_i420: tuple[object, tuple[int, int, Planes]] | None = None
        self._fields: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None

    def _motion_weight(self) -> np.ndarray:
        """1 on the face, fading to 0 at the ring: how much of the head motion each pixel takes."""
        x0, y0, x1, y1 = self.head_box
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        rel = np.stack([xs - self.rig.centre[0], ys - self.rig.centre[1]], -1)
        ru = (rel @ self.rig.u) / self.rig.ring_r[0]
        rv = (rel @ self.rig.v) / self.rig.ring_r[1]
        r = np.hypot(ru, rv) * RING_SCALE  # 1 on the face oval, RING_SCALE at the ring
        # and still at the box's edges too, where the panel's edge cut the ring
        edge = np.minimum(np.minimum(xs - x0, x1 - 1 - xs), np.minimum(ys - y0, y1 - 1 - ys))
        fade = _smoothstep(edge / max(2.0, 0.04 * self.rig.fh))
        return (_smoothstep((RING_SCALE - r) / (RING_SCALE - 1.0)) * fade).astype(np.float32)

    def _crop_panel(self, image: np.ndarray, marks: FaceMesh) -> tuple[np.ndarray, FaceMesh]:
        """The photo scaled so the face is ~42 % of the panel width, eyes 40 % down.

        Where the photo does not reach the panel's edges at that scale, a blurred, darkened
        enlargement of it fills the rest (as vertical-video editors do), never a smear.
        """
        ih, iw = image.shape[:2]
        fw = marks.box[2]
        scale = min(0.42 * self.pw, 0.36 * self.ph) / fw
        (lx, ly), (rx, ry) = marks.eyes
        eye_x, eye_y = (lx + rx) / 2, (ly + ry) / 2
        cw, ch = self.pw / scale, self.ph / scale
        x0, y0 = eye_x - cw / 2, eye_y - 0.4 * ch
        if x0 >= 0 and y0 >= 0 and x0 + cw <= iw and y0 + ch <= ih:
            backdrop = None
        else:
            cover = max(self.pw / iw, self.ph / ih)
            if cover <= scale * 1.15:  # nearly covers: shift the crop inside the photo instead
                scale = max(scale, cover)
                cw, ch = self.pw / scale, self.ph / scale
                x0 = min(max(0.0, eye_x - cw / 2), iw - cw)
                y0 = min(max(0.0, eye_y - 0.4 * ch), ih - ch)
                backdrop = None
            else:
                fill = cv2.resize(
                    image,
                    (max(1, round(iw * cover)), max(1, round(ih * cover))),
                    interpolation=cv2.INTER_AREA,
                )
                fy0 = (fill.shape[0] - self.ph) // 2
                fx0 = (fill.shape[1] - self.pw) // 2
                fill = fill[fy0 : fy0 + self.ph, fx0 : fx0 + self.pw]
                fill = cv2.GaussianBlur(fill, (0, 0), max(2.0, 0.04 * self.pw))
                backdrop = (fill.astype(np.float32) * 0.6).astype(np.uint8)
        m = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], dtype=np.float64)
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        panel = cv2.warpAffine(
            image, m, (self.pw, self.ph), flags=interp, borderMode=cv2.BORDER_REPLICATE
        )
        if backdrop is not None:
            inside = cv2.warpAffine(
                np.full((ih, iw), 255, np.uint8), m, (self.pw, self.ph), flags=cv2.INTER_LINEAR
            )
            feather = max(3, int(0.03 * self.pw) | 1)
            inside = cv2.GaussianBlur(
                cv2.erode(inside, np.ones((feather, feather), np.uint8)),
                (feather * 2 + 1, feather * 2 + 1),
                0,
            )
            a = inside[..., None].astype(np.uint16)
            panel = (
                (panel.astype(np.uint16) * a + backdrop.astype(np.uint16) * (255 - a) + 127) // 255
            ).astype(np.uint8)
        return panel, marks.scaled(scale, x0, y0)

    def compose_base(self, background: np.ndarray) -> np.ndarray:
        """Background with the panel (and its frame and shadow) drawn once; frames then only
        replace the head's box."""
        x, y = self.px0, self.py0
        base = (
            framed_base(background, (x, y, self.pw, self.ph)) if self.framed else background.copy()
        )
        dst = base[y : y + self.ph, x : x + self.pw]
        h, w = dst.shape[:2]
        if self.alpha is None:
            dst[...] = self.panel[:h, :w]
        else:
            a = self.alpha[:h, :w].astype(np.uint16)
            dst[...] = (
                (self.panel[:h, :w].astype(np.uint16) * a + dst.astype(np.uint16) * (255 - a) + 127)
                // 255
            ).astype(np.uint8)
        return base

    # poses
    def _mouth_halves(self) -> list[tuple[np.ndarray, np.ndarray, SplineWarp]]:
        """Per half of the face (above the lips, below them): the rest points that steer it,
        as (mesh indices, (line, fraction) blends of lip contours) and its prepared spline."""
        rig, rest = self.rig, self.rig.rest
        ctrl = self._mouth_ctrl
        rel = rest[ctrl] - rig.m
        ca, cb = rel @ rig.u, rel @ rig.v
        beside = (np.abs(ca) > 0.55 * rig.mouth_w) & (np.abs(cb) < 0.06 * rig.fh)
        lip_set = set(_LIP_POINTS)
        halves = []
        for lines, side in (((_UI, _UO), cb < 0), ((_LI, _LO), cb >= 0)):
            own = {i for line in lines for i in line}
            keep = np.array(
                [
                    i
                    for i, ok in zip(ctrl, side | beside, strict=True)
                    if ok and (i not in lip_set or i in own)
                ],
                dtype=int,
            )
            blend = self._lip_blend(lines)
            pts = np.vstack([rest[keep], blend @ rest, self._mouth_fixed])
            halves.append(
                (keep, blend, SplineWarp(pts, self.mouth_box, step=max(3, round(rig.fh / 50))))
            )
        return halves

    @staticmethod
    def _lip_blend(lines: tuple[tuple[int, ...], ...] | tuple[list[int], ...]) -> np.ndarray:
        """Rows that blend neighbouring contour points: the lips between their mesh points."""
        rows = []
        for line in lines:
            for i in range(len(line) - 1):
                for f in (0.25, 0.5, 0.75):
                    r = np.zeros(N_MESH_AND_RING)
                    r[line[i]] += 1 - f
                    r[line[i + 1]] += f
                    rows.append(r)
        return np.array(rows)

    def _warp_mouth(self, tg: np.ndarray) -> np.ndarray:
        """The mouth box in the pose ``tg``: the face above the lips and the face below them
        are warped each on its own (each smooth), then joined along the new line of the lips,
        so the lips can part or close within a pixel without the spline rippling. The two
        maps are joined (not two pictures), so the photo is sampled once."""
        rig = self.rig
        maps = []
        for keep, blend, spline in self._halves:
            moved = np.vstack([tg[keep], blend @ tg, self._mouth_fixed])
            maps.append(spline.backward(moved))
        a, b = self._mouth_ab
        split = (
            self.painter.line_at(tg[_UI], a, rig.m) + self.painter.line_at(tg[_LI], a, rig.m)
        ) / 2
        w = _smoothstep((b - split) / self._mouth_soft + 0.5).astype(np.float32)[..., None]
        joined = maps[0] + (maps[1] - maps[0]) * w
        return remap_xy(self.panel, joined)

    def pose_patch(self, pose: MouthPose) -> np.ndarray:
        """The mouth box warped to ``pose``, the mouth's inside drawn."""
        tg = self.rig.targets(pose, 0.0)
        patch = self._warp_mouth(tg)
        return self.painter.paint(patch, self.mouth_box, tg, pose)

    def mouth_state(self, open_: float, width: float) -> np.ndarray:
        """The mouth box with the jaw dropped by ``open_`` (0..1), lips spread (+) or rounded
        (−).
        """
        return self.pose_patch(MouthPose(open=open_, width=width))

    def eye_state(self, closure: float) -> np.ndarray:
        """The eye box with the upper lids lowered by ``closure`` (0..1): the lid's skin is
        stretched down over the eye, which is pressed together under it."""
        x0, y0, x1, y1 = self.eye_box
        region = self.panel[y0:y1, x0:x1]
        if closure <= 0:
            return region.copy()
        rig = self.rig
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        map_x, map_y = xs.copy(), ys.copy()
        lash = np.zeros(xs.shape)
        lid = np.zeros(xs.shape)  # how much smooth lid skin covers each pixel
        shade = np.zeros(xs.shape)  # how much darker that skin is (near the lash line)
        opening = np.zeros(xs.shape)  # the open eyes themselves: not skin
        c = float(np.clip(closure, 0, 1))
        for upper, lower in ((LEFT_EYE_UPPER, LEFT_EYE_LOWER), (RIGHT_EYE_UPPER, RIGHT_EYE_LOWER)):
            centre = rig.rest[list(upper + lower)].mean(0)
            rel_x, rel_y = xs - centre[0], ys - centre[1]
            a = rel_x * rig.u[0] + rel_y * rig.u[1]
            b = rel_x * rig.v[0] + rel_y * rig.v[1]
            up = self.painter.line_at(rig.rest[list(upper)], a, centre)
            lo = self.painter.line_at(rig.rest[list(lower)], a, centre)
            height = np.maximum(lo - up, 0.0)
            # only between the eye's corners (np.interp carries the lids on beyond them)
            span = (rig.rest[list(upper)] - centre) @ rig.u
            inside = _smoothstep((a - span.min()) / 2.0) * _smoothstep((span.max() - a) / 2.0)
            new = up + c * 0.88 * height
            crease = up - 0.6 * height - 0.01 * rig.fh
            lash_h = 0.02 * rig.fh
            src_b = b.copy()
            above = (b >= crease) & (b < new)
            # the lid's skin is stretched down, not its lashes (a stretched lash is a smear):
            # the lash line is drawn at the new edge instead
            skin = up - c * lash_h
            src_b[above] = (
                crease + (b - crease) * (skin - crease) / np.maximum(new - crease, 1e-3)
            )[above]
            below = (b >= new) & (b < lo)
            src_b[below] = (up + (b - new) * (lo - up) / np.maximum(lo - new, 1e-3))[below]
            shift = (src_b - b) * inside
            map_x += shift * rig.v[0]
            map_y += shift * rig.v[1]
            # over the eye the lid is smooth skin: a thin strip stretched that far would streak
            soft = max(1.0, 0.004 * rig.fh)
            fade = np.maximum(0.5 * height, soft)  # blends in from the lid's old edge down
            cover = _smoothstep((b - crease) / (up - crease + fade)) * _smoothstep((new - b) / soft)
            # the lid meets the skin at the eye's corners gradually, not along a cut
            reach = 0.18 * (span.max() - span.min()) + soft
            cover *= _smoothstep((a - span.min()) / reach) * _smoothstep((span.max() - a) / reach)
            lid = np.maximum(lid, cover * float(_smoothstep(np.asarray((c - 0.15) / 0.35))))
            near_lash = np.exp(-(((new - b) / (0.35 * height + soft)) ** 2)) * (b <= new)
            shade = np.maximum(shade, cover * near_lash)
            opening = np.maximum(
                opening, ((b > up - 0.4 * height - soft) & (b < lo + 0.2 * height + soft)) * inside
            )
            lash = np.maximum(
                lash,
                np.exp(-(((b - new) / max(0.7, 0.004 * rig.fh)) ** 2))
                * (height > 0.5)
                * inside
                * c,
            )
        out = cv2.remap(
            self.panel,
            map_x.astype(np.float32),
            map_y.astype(np.float32),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        if lid.max() > 0:
            # the closed lid is the colour of the skin around the eye, smooth: a blur of the eye
            # box that leaves the open eyes out (each pixel the weighted mean of the skin near
            # it), darker towards the lash line. Stretching the lid's own pixels down instead
            # draws every column as a streak.
            sigma = max(2.0, 0.02 * rig.fh)
            px = region.astype(np.float32)
            keep = (1 - opening).astype(np.float32)
            # lashes, brows and glasses frames are not the lid's colour: only skin-bright pixels
            luma = px.mean(axis=2)
            ref = float(np.median(luma[keep > 0.5])) if (keep > 0.5).any() else float(luma.mean())
            keep *= np.clip((luma - 0.5 * ref) / (0.15 * ref + 1), 0, 1)
            keep *= np.clip((1.35 * ref - luma) / (0.15 * ref + 1), 0, 1)
            num = cv2.GaussianBlur(px * keep[..., None], (0, 0), sigma)
            den = cv2.GaussianBlur(keep, (0, 0), sigma)[..., None]
            skin_px = num / np.maximum(den, 1e-3)
            skin_px *= (1 - 0.12 * shade)[..., None]
            # with the skin's own grain, so the lid is not a plastic patch
            fine = px - cv2.GaussianBlur(px, (0, 0), 1.5)
            grain = float(np.sqrt(np.average(fine.mean(axis=2) ** 2, weights=keep + 1e-6)))
            noise = cv2.GaussianBlur(
                np.random.default_rng(7).standard_normal(luma.shape).astype(np.float32),
                (0, 0),
                0.8,
            )
            skin_px += (0.5 * grain / max(float(noise.std()), 1e-6) * noise)[..., None]
            w = lid[..., None].astype(np.float32)
            out = np.clip(out.astype(np.float32) * (1 - w) + skin_px * w, 0, 255).astype(np.uint8)
        dark = (0.4 * lash)[..., None]
        return (out.astype(np.float32) * (1 - dark) + 30 * dark).astype(np.uint8)

    def _mouth(self, key: tuple[int, ...]) -> np.ndarray:
        if key not in self._mouths:
            self._mouths[key] = self.pose_patch(
                pose_from_key(key, self.open_levels, self.width_levels)
            )
        return self._mouths[key]

    def _eye(self, blink: int, levels: int) -> np.ndarray:
        if blink not in self._eyes:
            self._eyes[blink] = self.eye_state(blink / max(levels - 1, 1))
        return self._eyes[blink]

    def head(
        self, mouth: tuple[int, ...], blink: int, blink_levels: int = BLINK_LEVELS
    ) -> np.ndarray:
        """The head box (panel pixels) in this pose, before head motion, with the panel's
        pixels around it (``self.head_pad``: what breathing lifts into the box)."""
        hx0, hy0, hx1, hy1 = self.head_src
        out = self.panel[hy0:hy1, hx0:hx1].copy()
        for (bx0, by0, bx1, by1), patch in (
            (self.mouth_box, self._mouth(tuple(mouth))),
            (self.eye_box, self._eye(blink, blink_levels)),
        ):
            cx0, cy0 = max(bx0, hx0), max(by0, hy0)
            cx1, cy1 = min(bx1, hx1), min(by1, hy1)
            if cx1 <= cx0 or cy1 <= cy0:
                continue
            src = patch[cy0 - by0 : cy1 - by0, cx0 - bx0 : cx1 - bx0]
            out[cy0 - hy0 : cy1 - hy0, cx0 - hx0 : cx1 - hx0] = src
        return out

    def region(
        self,
        base: np.ndarray,
        mouth: tuple[int, ...],
        blink: int,
        motion: np.ndarray,
        breath: int = 0,
    ) -> tuple[int, int, np.ndarray]:
        """The head's rectangle of this frame: (x, y, RGB pixels), on the even 2×2 grid;
        ``breath`` (0..BREATH_LEVELS − 1) lifts the head, and the body under it as
        :meth:`body_region` does."""
        hx0, hy0, hx1, hy1 = self.head_box
        head = self.head(mouth, blink)
        dx, dy, angle = (float(v) * 0.6 for v in motion)
        scale = self.rig.fh / 300.0  # motion is given for a ~300 px face
        if abs(dx) + abs(dy) + abs(angle) > 1e-3 or breath:
            head = self._move(head, dx * scale, dy * scale, angle, breath)
        else:
            ox, oy = hx0 - self.head_src[0], hy0 - self.head_src[1]
            head = head[oy : oy + hy1 - hy0, ox : ox + hx1 - hx0]
        return self.px0 + hx0, self.py0 + hy0, head

    # breathing
    def _breath_field(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """How much of a full breath's lift each panel point takes (0..1): nothing down to the
        chin, all of it on the shoulders and upper chest, fading out towards the panel's
        bottom and sides (the body's box), so nothing tears."""
        x0, y0, x1, y1 = self.body_box
        fh = self.rig.fh
        down = _smoothstep((ys - y0) / (0.3 * fh)) * _smoothstep((y1 - 1 - ys) / (0.5 * fh))
        across = _smoothstep((xs - x0) / (0.1 * fh)) * _smoothstep((x1 - 1 - xs) / (0.1 * fh))
        return np.asarray(down * across, dtype=np.float32)

    def _breath_px(self, breath: int) -> tuple[float, float]:
        """(body, head) lift in pixels at this breath level."""
        b = breath / max(BREATH_LEVELS - 1, 1)
        return BREATH_BODY * self.rig.fh * b, BREATH_HEAD * self.rig.fh * b

    def body_region(self, breath: int) -> tuple[int, int, np.ndarray]:
        """The shoulders and chest at this breath level (0: as in the photo): (x, y, RGB), on
        the frame's even grid; cached per level. The head's region is pasted over it."""
        if breath not in self._bodies:
            x0, y0, x1, y1 = self.body_box
            region = self.panel[y0:y1, x0:x1]
            if breath:
                ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
                lift = self._breath_px(breath)[0] * self._breath_field(xs, ys)
                region = remap_xy(self.panel, np.dstack([xs, ys + lift]))
            self._bodies[breath] = (self.px0 + x0, self.py0 + y0, np.ascontiguousarray(region))
        return self._bodies[breath]

    def region_i420(
        self, mouth: tuple[int, ...], blink: int, motion: np.ndarray, breath: int = 0
    ) -> tuple[int, int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """:meth:`region` as I420 planes (Y, U, V) at an even (x, y): the head of each pose is
        converted once and cached, and each frame's motion moves the planes themselves (the
        chroma at half resolution), half the pixels of RGB and no conversion per frame."""
        key = (tuple(mouth), blink)
        planes = self._heads_i420.get(key)
        if planes is None:
            rgb = self.head(mouth, blink)
            h, w = rgb.shape[:2]
            flat = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).reshape(-1)
            q = (h // 2) * (w // 2)
            planes = (
                flat[: h * w].reshape(h, w),
                flat[h * w : h * w + q].reshape(h // 2, w // 2),
                flat[h * w + q :].reshape(h // 2, w // 2),
            )
            if len(self._heads_i420) < 400:
                self._heads_i420[key] = planes
        hx0, hy0 = self.head_box[:2]
        dx, dy, angle = (float(v) * 0.6 for v in motion)
        scale = self.rig.fh / 300.0
        # a head that moved less than a tenth of a pixel since the last frame, in the same
        # pose, is the same picture: the last one is returned (the caller may skip it)
        moved = (round(dx * scale * 10), round(dy * scale * 10), round(angle * 30))
        same = (key, breath, moved)
        if self._last_i420 is not None and self._last_i420[0] == same:
            return self._last_i420[1]
        disp, disp_c = self._displacement(dx * scale, dy * scale, angle, breath)
        yp, up, vp = planes
        grid, grid_c = self._grids()
        # maps relative to each pixel: no grid of positions to add per frame
        chroma = grid_c.offsets(disp_c)
        out = (
            remap_rel(yp, grid.offsets(disp)),
            remap_rel(up, chroma),
            remap_rel(vp, chroma),
        )
        result = (self.px0 + hx0, self.py0 + hy0, out)
        self._last_i420 = (same, result)
        return result

    def body_region_i420(
        self, breath: int
    ) -> tuple[int, int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """:meth:`body_region` as I420 planes, cached per breath level."""
        if breath not in self._bodies_i420:
            x, y, rgb = self.body_region(breath)
            h, w = rgb.shape[:2]
            flat = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).reshape(-1)
            q = (h // 2) * (w // 2)
            self._bodies_i420[breath] = (
                x,
                y,
                (
                    flat[: h * w].reshape(h, w),
                    flat[h * w : h * w + q].reshape(h // 2, w // 2),
                    flat[h * w + q :].reshape(h // 2, w // 2),
                ),
            )
        return self._bodies_i420[breath]

    def _grids(self) -> tuple[CoarseGrid, CoarseGrid]:
        """The head box's coarse grids: full resolution (luma, RGB) and half (chroma)."""
        if self._grid_pair is None:
            hx0, hy0, hx1, hy1 = self.head_box
            w, h = hx1 - hx0, hy1 - hy0
            self._grid_pair = (CoarseGrid((0, 0, w, h), 8), CoarseGrid((0, 0, w // 2, h // 2), 4))
        return self._grid_pair

    def _displacement(
        self, dx: float, dy: float, angle: float, breath: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Where each coarse sample of the head box comes from, less itself, in the padded
        head's pixels: for full resolution, and for the half-resolution chroma planes."""
        hx0, hy0, hx1, hy1 = self.head_box
        h, w = hy1 - hy0, hx1 - hx0
        grid, grid_c = self._grids()
        if self._fields is None:
            fields = []
            for g, f in ((grid, 1.0), (grid_c, 2.0)):
                full = g.points * f + (f - 1) / 2  # the samples' full-resolution positions
                pts = full.reshape(-1, 2).round().astype(int)
                wgt = self._head_weight[pts[:, 1].clip(0, h - 1), pts[:, 0].clip(0, w - 1)]
                body = self._breath_field(full[..., 0] + hx0, full[..., 1] + hy0)
                fields.append((full, wgt.reshape(g.gh, g.gw, 1), body))
            self._fields = fields
        lift_body, lift_head = self._breath_px(breath)
        dy -= lift_head
        px, py = self.pivot[0] - hx0, self.pivot[1] - hy0
        m = cv2.invertAffineTransform(
            cv2.getRotationMatrix2D((px, py), angle, 1.0) + np.array([[0, 0, dx], [0, 0, dy]])
        )
        m[0, 0] -= 1
        m[1, 1] -= 1
        ox, oy = hx0 - self.head_src[0], hy0 - self.head_src[1]  # the padding
        out = []
        for (full, wgt, body), f in zip(self._fields, (1.0, 2.0), strict=True):
            disp = cv2.transform(full, m) * wgt
            if lift_body:
                disp[..., 1] += lift_body * body
            disp[..., 0] += ox
            disp[..., 1] += oy
            out.append(disp / f)
        return out[0], out[1]

    def _move(
        self, head: np.ndarray, dx: float, dy: float, angle: float, breath: int = 0
    ) -> np.ndarray:
        """Turn and shift the face about the neck, fading to still at the ring; lift the head
        and the body under it by ``breath``. ``head`` is the padded head (``head_src``)."""
        disp, _ = self._displacement(dx, dy, angle, breath)
        return remap_xy(head, self._grids()[0].map(disp))

    def frame(
        self, base: np.ndarray, mouth: tuple[int, ...], blink: int, motion: np.ndarray
    ) -> np.ndarray:
        """One whole frame: ``base`` with this frame's head pasted."""
        x, y, region = self.region(base, mouth, blink, motion)
        out = base.copy()
        out[y : y + region.shape[0], x : x + region.shape[1]] = region
        return out
