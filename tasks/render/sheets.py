"""Contact sheets of the photo presenter: one photo in the poses a viewer judges it by.

``python -m tasks.render.sheets docs/frames`` writes one sheet per test photo (the photos
that ship in installed wheels, see tests/test_render_photo.py): rest (closed lips),
open ("ah"), rounded ("oo"), m/b/p (pressed), f/v (lower lip under the teeth), l/th/n
(tongue up) and a blink, each tile the face as the video shows it, enlarged.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tasks.render.photo import MouthPose, PortraitPresenter, locate_face

POSES: tuple[tuple[str, MouthPose, float], ...] = (
    ("closed", MouthPose(), 0.0),
    ("open (ah)", MouthPose(open=0.85, width=0.25), 0.0),
    ("rounded (oo)", MouthPose(open=0.3, width=-0.9), 0.0),
    ("m/b/p", MouthPose(press=1.0, width=0.1), 0.0),
    ("f/v", MouthPose(open=0.08, width=0.2, teeth=1.0, tuck=1.0), 0.0),
    ("l/th/n", MouthPose(open=0.3, width=0.15, tongue=1.0), 0.0),
    ("blink", MouthPose(), 1.0),
)
TILE = 240


def pose_frame(p: PortraitPresenter, pose: MouthPose, blink: float) -> np.ndarray:
    """The presenter's panel in one pose."""
    panel = p.panel.copy()
    x0, y0, x1, y1 = p.mouth_box
    panel[y0:y1, x0:x1] = p.pose_patch(pose)
    if blink:
        x0, y0, x1, y1 = p.eye_box
        panel[y0:y1, x0:x1] = p.eye_state(blink)
    return panel


def contact_sheet(img: np.ndarray, title: str, size: tuple[int, int] = (720, 1280)) -> Image.Image:
    """A row of face tiles, one per pose, as the ``full`` layout at ``size`` renders them."""
    p = PortraitPresenter(img, locate_face(img, title), size, rect=(0, 0, *size), framed=False)
    fx, fy, fw, fh = p.face
    cx, cy = fx + fw / 2, fy + fh * 0.55
    half = 0.75 * max(fw, fh)
    box = (int(cx - half), int(cy - half), int(cx + half), int(cy + half))
    label_h = 26
    sheet = Image.new("RGB", (TILE * len(POSES), TILE + label_h + 30), (24, 26, 32))
    draw = ImageDraw.Draw(sheet)
    draw.text((8, 6), title, fill=(235, 235, 235))
    for k, (name, pose, blink) in enumerate(POSES):
        tile = (
            Image.fromarray(pose_frame(p, pose, blink))
            .crop(box)
            .resize((TILE, TILE), Image.Resampling.LANCZOS)
        )
        sheet.paste(tile, (k * TILE, 30))
        draw.text((k * TILE + 8, 30 + TILE + 6), name, fill=(235, 235, 235))
    return sheet


def _photos() -> dict[str, Callable[[], np.ndarray]]:
    import matplotlib
    from skimage import data

    def hopper() -> np.ndarray:
        path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
        return np.asarray(Image.open(path).convert("RGB"))

    def small() -> np.ndarray:
        img = Image.fromarray(hopper())
        return np.asarray(
            img.resize((128, round(128 * img.height / img.width)), Image.Resampling.LANCZOS)
        )

    def darker() -> np.ndarray:
        return (data.astronaut().astype(np.float64) * np.array([0.45, 0.33, 0.27])).astype(np.uint8)

    return {
        "astronaut-open-smile": data.astronaut,
        "hopper-closed-mouth-glasses": hopper,
        "hopper-128px": small,
        "astronaut-skin-tone-shift": darker,
    }


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, load in _photos().items():
        path = out / f"sheet-{name}.png"
        contact_sheet(load(), name).save(path, optimize=True)
        print(path)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/frames")
