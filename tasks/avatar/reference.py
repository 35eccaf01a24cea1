"""OmniAvatar's reference frame: the presenter placed on the background by the layout.

OmniAvatar is image-to-video: it animates the person in the picture it is given. So the
picture is the first frame of the video as the layout wants it (the presenter in the
studio, in the picture-in-picture window, or in a conversation panel), at the published
480p size, with the face at a size the model was trained on (a head-and-shoulders shot:
the face a quarter to half of the frame's short side). The presenter is the portrait
(uploaded, a template's, or ``PORTRAIT_PATH``) or, without one, the drawn presenter of the
lite renderer. A reference in which no face is found is refused (:class:`NoFaceInReference`):
the model would animate noise on a still background.

Face detection goes through :func:`find_face` only, so changing the detector is one line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from novaavatar.errors import InputError
from tasks.render.images import cover_array

if TYPE_CHECKING:
    from novaavatar.settings import Settings
    from novaavatar.store import ArtifactStore

# the published 480p sizes as (width, height); the long side is what the model was tuned at
REFERENCE_SIZES = ((400, 720), (720, 720), (720, 400))
# face width / the reference's short side that OmniAvatar animates well (head and shoulders)
FACE_SHARE = (0.15, 0.6)
FACE_TARGET = 0.35  # where a portrait's face is put when the photo allows
# the drawn presenter's scales, tried in order until the detector sees its face well
DRAWN_ZOOMS = (1.0, 1.2, 1.4, 1.1, 1.3, 0.9, 1.6, 1.5, 1.8)
REST_MOUTH = (0, 2, 0, 0)  # closed lips, neutral width (lite's quantised mouth state)

Box = tuple[float, float, float, float]


class NoFaceInReference(RuntimeError):
    """The reference frame shows no face the detector finds: OmniAvatar would animate none."""


@dataclass(frozen=True)
class Reference:
    """One picture for OmniAvatar to animate and where its video goes in the output frame."""

    image: np.ndarray  # H×W×3 uint8 RGB
    face: Box  # the detected face (x, y, w, h) in ``image``
    presenter: str  # "portrait" (a photo) or "drawn"
    window: tuple[int, int, int, int] | None = None  # (x, y, w, h) in the output; None: all of it


def find_face(image: np.ndarray) -> Box | None:
    """The dominant face box (x, y, w, h) in an RGB image, or None: the one call into a detector."""
    from tasks.render.landmarks import find_face as face_mesh

    try:
        return face_mesh(image, "reference frame").box
    except InputError:
        return None


def face_fits(image: np.ndarray, face: Box | None) -> bool:
    """A face was found and its width is a share of the short side the model handles."""
    if face is None:
        return False
    share = face[2] / min(image.shape[:2])
    return FACE_SHARE[0] <= share <= FACE_SHARE[1]


def reference_size(size: tuple[int, int]) -> tuple[int, int]:
    """The published (width, height) closest in aspect to ``size`` (width, height), chosen
    as :func:`tasks.avatar.omniavatar.generation_size` chooses the size it generates at."""
    aspect = size[0] / size[1]
    return min(REFERENCE_SIZES, key=lambda s: abs(s[0] / s[1] - aspect))


def _checked(
    image: np.ndarray, presenter: str, what: str, window: tuple[int, int, int, int] | None
) -> Reference:
    face = find_face(image)
    if face is None:
        raise NoFaceInReference(f"no face found in the reference frame for {what}")
    return Reference(image, face, presenter, window)


def _drawn(
    backdrop: np.ndarray, size: tuple[int, int], what: str, guest: bool, zooms: Sequence[float]
) -> Reference:
    """The drawn presenter at rest over ``backdrop``, at the first scale whose face the
    detector finds at a good size (a drawing's face is not equally face-like at every scale)."""
    from tasks.avatar.duo import GuestPresenter
    from tasks.avatar.lite import IllustratedPresenter

    cls = GuestPresenter if guest else IllustratedPresenter
    for zoom in zooms:
        presenter = cls(size, zoom=zoom)
        image = presenter.frame(presenter.compose_base(backdrop), REST_MOUTH, 0, np.zeros(3))
        face = find_face(image)
        if face_fits(image, face):
            assert face is not None
            return Reference(image, face, "drawn", None)
    raise NoFaceInReference(f"no face found in the drawn presenter's reference frame for {what}")


def photo_fill(portrait: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The portrait scaled to cover ``size`` (width, height) with its face centred, eyes 40 %
    down and the face about FACE_TARGET of the short side (larger when the photo is a close-up:
    the picture is never left uncovered, so no blurred fill can pass for a second face)."""
    from tasks.render.landmarks import find_face as face_mesh

    marks = face_mesh(portrait, "portrait")
    ih, iw = portrait.shape[:2]
    w, h = size
    scale = max(FACE_TARGET * min(w, h) / marks.box[2], w / iw, h / ih)
    eye_x = (marks.eyes[0][0] + marks.eyes[1][0]) / 2 * scale
    eye_y = (marks.eyes[0][1] + marks.eyes[1][1]) / 2 * scale
    x0 = min(max(0.0, eye_x - w / 2), iw * scale - w)
    y0 = min(max(0.0, eye_y - 0.4 * h), ih * scale - h)
    m = np.array([[scale, 0, -x0], [0, scale, -y0]], dtype=np.float64)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.warpAffine(portrait, m, size, flags=interp, borderMode=cv2.BORDER_REPLICATE)


def _in_studio_panel(picture: np.ndarray, backdrop: np.ndarray) -> np.ndarray:
    """``picture`` in the studio layout's framed panel over ``backdrop`` (lite's studio look)."""
    from PIL import Image, ImageDraw

    from tasks.render.photo import framed_base as _framed_base

    h, w = backdrop.shape[:2]
    tall = h / w > 1.2
    ph = int(h * (0.56 if tall else 0.7 if h / w > 0.85 else 0.8)) // 2 * 2
    pw = int(min(ph * 0.8, w * 0.86)) // 2 * 2
    x, y = (w - pw) // 2, int(h * (0.2 if tall else 0.08 if h / w > 0.85 else 0.06))
    inner = photo_fill(picture, (pw, ph))
    out = _framed_base(backdrop, (x, y, pw, ph))
    mask = Image.new("L", (pw, ph), 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (0, 0, pw - 1, ph - 1), radius=max(4, int(0.04 * pw)), fill=255
    )
    a = np.asarray(mask, dtype=np.float32)[..., None] / 255
    out[y : y + ph, x : x + pw] = (inner * a + out[y : y + ph, x : x + pw] * (1 - a) + 0.5).astype(
        np.uint8
    )
    return out


def studio_backdrop(background: np.ndarray) -> np.ndarray:
    """A soft studio behind a windowed presenter: the background blurred and toned down
    (as the lite renderer's picture-in-picture window)."""
    w = background.shape[1]
    blurred = cv2.GaussianBlur(background, (0, 0), max(2.0, 0.03 * w))
    return (blurred.astype(np.float32) * 0.75 + np.array([30, 34, 44]) * 0.25).astype(np.uint8)


def presenter_reference(
    background: np.ndarray, size: tuple[int, int], layout: str, portrait: np.ndarray | None
) -> Reference:
    """The reference for one presenter in ``layout`` over ``background`` (H×W×3, any size)
    for an output of ``size`` (width, height).

    ``studio`` and ``full``: the model animates the whole frame, the presenter placed as
    the lite renderer places it. ``pip``: the model animates only the window's content (the
    presenter over a soft studio), which then goes into the window; at the whole frame's
    scale the face would be too small to animate well.
    """
    from tasks.avatar.lite import LAYOUTS, pip_rect

    if layout not in LAYOUTS:
        raise InputError(f"layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    window = pip_rect(size) if layout == "pip" else None
    target = (window[2], window[3]) if window else size
    ref_size = reference_size(target)
    if window is not None:
        x, y, w, h = window
        crop = cover_array(background, size)[y : y + h, x : x + w]
        backdrop = studio_backdrop(cover_array(crop, ref_size))
    else:
        backdrop = cover_array(background, ref_size)
    what = f"the {layout} layout"
    if portrait is None:
        zooms = (1.6, *DRAWN_ZOOMS) if layout == "full" else DRAWN_ZOOMS
        drawn = _drawn(backdrop, ref_size, what, guest=False, zooms=zooms)
        return Reference(drawn.image, drawn.face, "drawn", window)
    if layout == "studio":
        image = _in_studio_panel(portrait, backdrop)
    else:  # full, and the content of the pip window: the photo fills the picture
        image = photo_fill(portrait, ref_size)
    return _checked(image, "portrait", what, window)


def panel_reference(
    background: np.ndarray,
    rect: tuple[int, int, int, int],
    size: tuple[int, int],
    portrait: np.ndarray | None,
    guest: bool,
) -> Reference:
    """The reference for one conversation panel ``rect`` (x, y, w, h) of an output of ``size``:
    the panel's part of the background with the presenter (photo or drawn) in front."""
    x, y, w, h = rect
    ref_size = reference_size((w, h))
    backdrop = cover_array(cover_array(background, size)[y : y + h, x : x + w], ref_size)
    what = "the guest's panel" if guest else "the host's panel"
    if portrait is None:
        drawn = _drawn(backdrop, ref_size, what, guest, (1.5, *DRAWN_ZOOMS))
        return Reference(drawn.image, drawn.face, "drawn", rect)
    return _checked(photo_fill(portrait, ref_size), "portrait", what, rect)


def speaking_prompt(scene: str, role: str = "a news presenter") -> str:
    """OmniAvatar's text prompt: a person speaking to the camera, in the video's scene (the
    background's description, less its "no people" wording, which would fight the presenter)."""
    scene = re.sub(r"[,;]?\s*\b(?:no|without)\s+(?:people|persons?)\b[^.;]*", "", scene, flags=re.I)
    scene = " ".join(scene.split()).strip(" ,;").rstrip(".")
    where = f" The setting: {scene}." if scene else ""
    return (
        f"{role.capitalize()} speaks to the camera with natural lip movements, "
        f"steady eye contact and small head and hand movements.{where}"
    )


def presenter_portrait(
    store: ArtifactStore, portrait_key: str | None, settings: Settings
) -> Path | None:
    """The presenter's photo: the run's portrait (uploaded, its template's, or PORTRAIT_PATH,
    which the options carry with its consent), else None (the drawn presenter)."""
    return store.materialize(portrait_key) if portrait_key else None
