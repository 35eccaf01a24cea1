"""The photo presenter speaks: measured with the face mesh on the rendered frames.

Photos come from wheels already installed: scikit-image's astronaut (an open smile, NASA,
public domain) and matplotlib's Grace Hopper (closed lips, glasses). The 128 px photo is
Grace Hopper shrunk; the darker skin is the astronaut with a skin-tone shift (no wheel
ships a dark-skinned portrait).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from novaavatar.errors import InputError
from novaavatar.media import iter_frames, read_audio
from tasks.avatar.lite import render_lite
from tasks.quality import speech_envelope
from tasks.render.landmarks import FaceMesh, check_yaw, find_face
from tasks.render.lipsync import (
    CLOSED_OPENING,
    MAX_SEAM,
    MIN_CLOSED_IN_PAUSES,
    MIN_CORRELATION,
    MIN_OPENING_RANGE,
    lip_track,
    measure,
)
from tasks.render.photo import MouthPose, PortraitPresenter, locate_face
from tasks.speech import EspeakProvider

FPS = 25
SIZE = (288, 512)
TEXT = "Good evening. Markets rose sharply today, and five big banks reported profits."


def astronaut() -> np.ndarray:
    return pytest.importorskip("skimage.data").astronaut()


def hopper() -> np.ndarray:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return np.asarray(Image.open(path).convert("RGB"))


def small_hopper() -> np.ndarray:
    img = Image.fromarray(hopper())
    return np.asarray(
        img.resize((128, round(128 * img.height / img.width)), Image.Resampling.LANCZOS)
    )


def darker_astronaut() -> np.ndarray:
    """The astronaut with a deep-brown skin tone: every pixel scaled towards (0.45, 0.33, 0.27)."""
    return (astronaut().astype(np.float64) * np.array([0.45, 0.33, 0.27])).astype(np.uint8)


PHOTOS = {
    "open-smile": astronaut,
    "closed-mouth-glasses": hopper,
    "128px": small_hopper,
    "skin-tone-shift": darker_astronaut,
}


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple, Path]:
    d = tmp_path_factory.mktemp("photo")
    out = EspeakProvider().speak(TEXT, "en-us", 175, d / "speech.wav")
    bg = d / "bg.png"
    Image.new("RGB", (320, 240), (40, 60, 90)).save(bg)
    return d / "speech.wav", out.phonemes, bg


@pytest.mark.parametrize("photo", sorted(PHOTOS))
def test_photo_presenter_lips_follow_the_speech(photo: str, speech: tuple, tmp_path: Path) -> None:
    wav, phonemes, bg = speech
    path = tmp_path / f"{photo}.png"
    Image.fromarray(PHOTOS[photo]()).save(path)
    out = tmp_path / "talk.mp4"
    render_lite(bg, wav, phonemes, out, size=SIZE, fps=FPS, portrait=path, preset="ultrafast")
    openings, seam = lip_track(iter_frames(out))
    env = speech_envelope(read_audio(wav, 16000), 16000, len(openings), FPS)
    m = measure(openings, env, FPS, seam)
    assert m.face_share == 1.0, m.describe()
    assert m.correlation >= MIN_CORRELATION and abs(m.lag_frames) <= 1, m.describe()
    assert m.opening_range >= MIN_OPENING_RANGE, m.describe()
    assert m.closed_in_pauses >= MIN_CLOSED_IN_PAUSES, m.describe()
    assert m.seam <= MAX_SEAM and m.passed, m.describe()


def test_an_open_smile_closes_and_a_closed_mouth_opens() -> None:
    for img, rest in ((astronaut(), "open"), (hopper(), "closed")):
        p = PortraitPresenter(img, locate_face(img), (360, 640))
        photo_gap = p.rig.gap0[5] / p.rig.fh
        assert (photo_gap > 0.04) == (rest == "open")
        x0, y0 = p.px0 + p.mouth_box[0], p.py0 + p.mouth_box[1]
        # closed as the quality check counts it (the mesh reads a closed smile at ~0.02)
        for pose, lo, hi in ((MouthPose(), 0.0, CLOSED_OPENING), (MouthPose(open=0.8), 0.08, 0.2)):
            frame = np.full((640, 360, 3), 50, np.uint8)
            frame[p.py0 : p.py0 + p.ph, p.px0 : p.px0 + p.pw] = p.panel
            patch = p.pose_patch(pose)
            frame[y0 : y0 + patch.shape[0], x0 : x0 + patch.shape[1]] = patch
            opening = find_face(frame).lip_opening()
            assert lo <= opening <= hi, (rest, pose, opening)


def test_pressed_and_tucked_lips_differ_from_rest() -> None:
    img = hopper()
    p = PortraitPresenter(img, locate_face(img), (360, 640))
    rest = p.pose_patch(MouthPose()).astype(int)
    pressed = p.pose_patch(MouthPose(press=1.0)).astype(int)
    tucked = p.pose_patch(MouthPose(tuck=1.0)).astype(int)
    assert np.abs(pressed - rest).max() > 30  # lips pressed thinner
    assert np.abs(pressed - rest).mean() < np.abs(tucked - rest).mean()
    # f/v shows the upper teeth's edge over the lower lip: something light between the lips
    mx, my = (round(v) for v in p.mouth_c)
    x0, y0 = p.mouth_box[:2]
    assert (
        tucked[my - y0 - 2 : my - y0 + 3, mx - x0 - 3 : mx - x0 + 4].mean()
        > rest[my - y0 - 2 : my - y0 + 3, mx - x0 - 3 : mx - x0 + 4].mean()
    )


def test_blink_closes_the_lids_and_leaves_the_mouth() -> None:
    img = astronaut()
    p = PortraitPresenter(img, locate_face(img), (360, 640))
    opened, shut = p.eye_state(0.0).astype(int), p.eye_state(1.0).astype(int)
    assert np.abs(opened - shut).mean() > 3
    assert p.eye_box[3] <= p.mouth_box[1]  # the two never overlap


def test_a_face_turned_too_far_is_refused() -> None:
    mesh = find_face(astronaut(), "astronaut.png")
    assert abs(mesh.yaw_deg()) < 10
    turn = math.radians(45)
    c, s = math.cos(turn), math.sin(turn)
    centre = mesh.points.mean(0)
    p = mesh.points - centre
    turned = (
        np.column_stack([c * p[:, 0] + s * p[:, 2], p[:, 1], -s * p[:, 0] + c * p[:, 2]]) + centre
    )
    with pytest.raises(InputError, match=r"astronaut\.png.*turned about 4[4-6]°.*at most 30°"):
        check_yaw(FaceMesh(turned, 1.0), "astronaut.png")


def test_a_hard_edged_paste_is_a_seam() -> None:
    img = astronaut()[:400, 60:460]
    frames = []
    for i in range(20):
        f = img.copy()
        if i % 2:  # the face region jumps 3 px with a hard edge, the rest stays
            f[40:330, 110:300] = img[43:333, 110:300]
        frames.append(f)
    _, seam = lip_track(frames)
    assert seam > MAX_SEAM
    _, still = lip_track([img] * 6)
    assert still < 0.5


def test_a_hard_edge_inside_the_face_is_a_seam() -> None:
    """The seam check covers every edge where a warp ends, not only rings around the face:
    here the eyes' box jumps 3 px with a hard edge, well inside the face's ellipses."""
    from tasks.render.photo import FaceRig

    img = astronaut()[:400, 60:460]
    x0, y0, x1, y1 = FaceRig(find_face(img)).warp_boxes(img.shape[:2])[0]
    frames = []
    for i in range(12):
        f = img.copy()
        if i % 2:
            f[y0:y1, x0:x1] = img[y0 + 3 : y1 + 3, x0:x1]
        frames.append(f)
    _, seam = lip_track(frames)
    assert seam > MAX_SEAM


def test_breathing_lifts_the_shoulders_in_pauses_without_a_seam() -> None:
    from tasks.avatar.lite import breath_track
    from tasks.render.photo import BREATH_LEVELS

    fps = 25
    talk = np.r_[np.full(50, 0.5), np.zeros(40), np.full(60, 0.5)]  # 2 s, a 1.6 s pause, 2.4 s
    b = breath_track(talk, fps)
    assert b[:50].max() < 0.01 and b[75:90].min() > 0.4  # breathes in during the pause only
    assert b[90] > b[100] > b[130] and b[-1] < 0.1  # and out again, slowly, once speaking
    img = hopper()
    p = PortraitPresenter(img, locate_face(img), (360, 640))
    top = BREATH_LEVELS - 1
    (x, y, still), (_, _, lifted) = p.body_region(0), p.body_region(top)
    diff = np.abs(still.astype(int) - lifted.astype(int)).mean(axis=2)
    assert diff.max() > 20  # the shoulders' edge rises visibly...
    assert diff.mean() < 8  # ...by a few pixels only
    assert diff[-1].max() < 1 and diff[:, 0].max() < 1 and diff[:, -1].max() < 1  # no tear
    # the head (pasted over the body) meets the lifted body without a step at its bottom
    hx, hy, head = p.region(
        p.compose_base(np.zeros((640, 360, 3), np.uint8)), (0,) * 6, 0, np.zeros(3), top
    )
    row = hy + head.shape[0] - 1 - y
    cols = slice(hx - x, hx - x + head.shape[1])
    step = np.abs(head[-1].astype(int) - lifted[row, cols].astype(int)).mean()
    assert step < 4, step


def test_the_i420_head_matches_the_rgb_head() -> None:
    """The encoder gets the head as cached I420 planes moved per frame; it must be the same
    picture as the RGB head (rounding aside)."""
    import cv2

    img = astronaut()
    p = PortraitPresenter(img, locate_face(img), (360, 640))
    base = p.compose_base(np.zeros((640, 360, 3), np.uint8))
    motion = np.array([1.5, -1.0, 0.8])
    x, y, rgb = p.region(base, (6, 2, 0, 0, 0, 0), 1, motion, 5)
    xi, yi, (ys, us, vs) = p.region_i420((6, 2, 0, 0, 0, 0), 1, motion, 5)
    assert (x, y) == (xi, yi) and x % 2 == 0 and y % 2 == 0
    ref = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    got = np.concatenate([ys.ravel(), us.ravel(), vs.ravel()])
    assert np.percentile(np.abs(ref.ravel().astype(int) - got.astype(int)), 99.9) <= 3


@pytest.mark.parametrize("kind", ["4k", "grayscale", "cmyk", "exif-rotated"])
def test_odd_photo_files_give_the_same_face(kind: str, tmp_path: Path) -> None:
    """A real photo (not the drawn test face) as a 4K JPEG, grayscale, CMYK or a phone's
    EXIF-rotated file: loaded upright, the same face found, and its mouth opens."""
    from tasks.render.photo import load_portrait

    photo = Image.fromarray(hopper())
    path = tmp_path / "portrait.jpg"
    if kind == "4k":
        photo.resize((3840, 3840 * photo.height // photo.width)).save(path, quality=90)
    elif kind == "grayscale":
        photo.convert("L").save(path.with_suffix(".png"))
        path = path.with_suffix(".png")
    elif kind == "cmyk":
        photo.convert("CMYK").save(path, quality=95)
    else:
        exif = Image.Exif()
        exif[0x0112] = 6  # the camera was turned: the file is stored on its side
        photo.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif, quality=95)
    loaded = np.asarray(load_portrait(path))
    assert loaded.shape[0] > loaded.shape[1]  # upright, as the original
    want = find_face(hopper())
    got = locate_face(loaded, path.name)
    f = loaded.shape[1] / hopper().shape[1]
    assert np.allclose(np.array(got.eyes) / f, want.eyes, atol=0.04 * want.height)
    p = PortraitPresenter(loaded, got, (360, 640))
    opened = p.pose_patch(MouthPose(open=0.8)).astype(int)
    assert np.abs(opened - p.pose_patch(MouthPose()).astype(int)).mean() > 2


@pytest.mark.parametrize("photo", [astronaut, hopper, small_hopper, darker_astronaut])
def test_a_closed_lid_is_smooth_skin_not_streaks(photo: Callable[[], np.ndarray]) -> None:
    """A closed eye's lid is skin, the colour of the skin round it: stretching the lid's own
    pixels down over the eye draws every column as a vertical streak (each row's detail
    then repeats in the row below) and greys the lid."""
    import cv2

    p = PortraitPresenter(photo(), locate_face(photo()), (720, 1280), rect=(0, 0, 720, 1280))
    opened, shut = p.eye_state(0.0).astype(np.float32), p.eye_state(1.0).astype(np.float32)
    changed = (np.abs(opened - shut).mean(2) > 10).astype(np.uint8)
    lid = cv2.erode(changed, np.ones((5, 5), np.uint8)) > 0
    grey = shut.mean(2)
    detail = grey - cv2.GaussianBlur(grey, (0, 0), sigmaX=3, sigmaY=0.01)  # along the rows
    both = lid[:-3] & lid[3:]
    assert both.sum() > 200
    streaks = float(np.corrcoef(detail[:-3][both], detail[3:][both])[0, 1])
    assert streaks < 0.85  # the stretched lid: 0.90-0.93 on these photos
    around = (cv2.dilate(changed, np.ones((15, 15), np.uint8)) > 0) & ~(
        cv2.dilate(changed, np.ones((5, 5), np.uint8)) > 0
    )
    assert grey[lid].mean() >= 0.85 * np.median(opened.mean(2)[around])
