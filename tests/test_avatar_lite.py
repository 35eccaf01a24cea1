"""The lite presenter renderer: real MP4s, lip movement, blinks, determinism, portrait errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image, ImageDraw, ImageFilter

from novaavatar.domain import PhonemeTiming, WordTiming
from novaavatar.errors import InputError
from novaavatar.media import extract_frame, probe
from tasks.avatar.lite import (
    BLINK_LEVELS,
    LAYOUTS,
    OPEN_LEVELS,
    IllustratedPresenter,
    _quantise_mouth,
    blink_track,
    lite_frames,
    make_presenter,
    mouth_track,
    render_lite,
    viseme_for,
)
from tasks.render.photo import PortraitPresenter, detect_face, load_portrait, locate_face

SR = 16000
SIZE = (360, 640)
FPS = 25
# closed lips for the first half second, a wide-open vowel for the next
PHONEMES = [
    PhonemeTiming(phoneme="_:", start=0.0, end=0.2),
    PhonemeTiming(phoneme="m", start=0.2, end=0.5),
    PhonemeTiming(phoneme="A:", start=0.5, end=1.0),
    PhonemeTiming(phoneme="oU", start=1.0, end=1.4),
    PhonemeTiming(phoneme="s", start=1.4, end=1.6),
    PhonemeTiming(phoneme="'i:", start=1.6, end=2.0),
]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("lite")
    t = np.arange(int(2.0 * SR)) / SR
    sf.write(d / "speech.wav", (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), SR)
    bg = Image.new("RGB", (300, 200))
    ImageDraw.Draw(bg).rectangle((0, 100, 300, 200), fill=(40, 90, 60))
    bg.save(d / "bg.png")
    return {"dir": d, "audio": d / "speech.wav", "bg": d / "bg.png"}


def synthetic_face(
    size: tuple[int, int] = (320, 400), cx: float = 0.5, scale: float = 1.0
) -> Image.Image:
    """A soft, shaded drawn face that the face detector finds."""
    w, h = size
    img = Image.new("RGB", size, (70, 90, 120))
    d = ImageDraw.Draw(img)
    x, y = w * cx, h * 0.45
    fw, fh = w * 0.36 * scale, h * 0.34 * scale
    d.ellipse((x - fw * 1.15, y - fh * 1.25, x + fw * 1.15, y + fh * 0.3), fill=(50, 35, 30))
    d.ellipse((x - fw, y - fh, x + fw, y + fh), fill=(205, 160, 130))
    for sx in (-1, 1):
        ex, ey = x + sx * fw * 0.42, y - fh * 0.18
        d.ellipse(
            (ex - fw * 0.3, ey - fh * 0.2, ex + fw * 0.3, ey + fh * 0.12), fill=(150, 110, 90)
        )
        d.rectangle(
            (ex - fw * 0.3, ey - fh * 0.34, ex + fw * 0.3, ey - fh * 0.26), fill=(60, 40, 30)
        )
        d.ellipse(
            (ex - fw * 0.2, ey - fh * 0.07, ex + fw * 0.2, ey + fh * 0.07), fill=(240, 240, 240)
        )
        d.ellipse(
            (ex - fw * 0.08, ey - fh * 0.07, ex + fw * 0.08, ey + fh * 0.07), fill=(40, 30, 25)
        )
    d.polygon(
        [
            (x - fw * 0.1, y - fh * 0.1),
            (x + fw * 0.1, y - fh * 0.1),
            (x + fw * 0.16, y + fh * 0.3),
            (x - fw * 0.16, y + fh * 0.3),
        ],
        fill=(225, 185, 155),
    )
    d.ellipse((x - fw * 0.16, y + fh * 0.24, x + fw * 0.16, y + fh * 0.34), fill=(150, 100, 85))
    d.ellipse((x - fw * 0.4, y + fh * 0.48, x + fw * 0.4, y + fh * 0.62), fill=(150, 70, 70))
    d.rectangle((x - fw * 0.35, y + fh * 0.9, x + fw * 0.35, h), fill=(190, 145, 118))
    return img.filter(ImageFilter.GaussianBlur(2))


def _mouth_and_eye_rows(p: IllustratedPresenter) -> tuple[slice, slice, slice]:
    cols = slice(int(p.cx - 0.6 * p.a), int(p.cx + 0.6 * p.a))
    mouth = slice(int(p.cy + 0.35 * p.a), int(p.cy + 1.0 * p.a))
    eyes = slice(int(p.cy - 0.4 * p.a), int(p.cy + 0.02 * p.a))
    return mouth, eyes, cols


def test_render_lite_writes_mp4_with_audio(media: dict[str, Path]) -> None:
    out = media["dir"] / "avatar.mp4"
    info = render_lite(
        media["bg"], media["audio"], PHONEMES, out, size=SIZE, fps=FPS, preset="ultrafast"
    )
    assert (info.width, info.height, info.fps, info.frames) == (360, 640, 25, 50)
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    probed = probe(out)
    assert probed.video_codec == "h264" and probed.audio_codec == "aac"
    assert (probed.width, probed.height) == SIZE
    assert probed.duration_s == pytest.approx(2.0, abs=0.1)
    # the mouth in the file moves: closed "m" vs open "A:"
    p = IllustratedPresenter(SIZE)
    rows, _, cols = _mouth_and_eye_rows(p)
    closed = extract_frame(out, 0.36)[rows, cols].astype(int)
    opened = extract_frame(out, 0.80)[rows, cols].astype(int)
    assert np.abs(closed - opened).mean() > 3


def test_open_vowel_opens_the_mouth_and_only_the_mouth() -> None:
    track = mouth_track(PHONEMES, 50, FPS)
    closed_key, open_key = _quantise_mouth(track[9]), _quantise_mouth(track[20])  # "m", "A:"
    assert closed_key[0] == 0 and open_key[0] >= 5
    p = IllustratedPresenter(SIZE)
    base = p.compose_base(np.full((640, 360, 3), 90, np.uint8))
    closed = p.frame(base, closed_key, 0, np.zeros(3)).astype(int)
    opened = p.frame(base, open_key, 0, np.zeros(3)).astype(int)
    mouth, eyes, cols = _mouth_and_eye_rows(p)
    assert np.abs(closed[mouth, cols] - opened[mouth, cols]).mean() > 5
    assert np.array_equal(closed[eyes, cols], opened[eyes, cols])


def test_blink_closes_the_eyes_only() -> None:
    p = IllustratedPresenter(SIZE)
    base = p.compose_base(np.full((640, 360, 3), 90, np.uint8))
    still = np.zeros(3)
    rest = (0, 2, 0, 0)
    open_eyes = p.frame(base, rest, 0, still).astype(int)
    shut = p.frame(base, rest, BLINK_LEVELS - 1, still).astype(int)
    mouth, eyes, cols = _mouth_and_eye_rows(p)
    assert np.abs(open_eyes[eyes, cols] - shut[eyes, cols]).mean() > 3
    assert np.array_equal(open_eyes[mouth, cols], shut[mouth, cols])


def test_blinks_are_natural_and_seeded() -> None:
    rng = np.random.default_rng(7)
    track = blink_track(25 * 30, 25, rng)
    closed = np.flatnonzero(track > 0.99)
    assert 5 <= len(closed) <= 15  # one fully closed frame per blink over 30 s
    gaps = np.diff(closed) / 25
    assert gaps.min() >= 2.0 and gaps.max() <= 6.2
    assert np.count_nonzero(track > 0) <= 3 * len(closed)  # ~120 ms each
    assert np.array_equal(track, blink_track(25 * 30, 25, np.random.default_rng(7)))


def test_same_seed_same_frames(media: dict[str, Path]) -> None:
    a = list(lite_frames(media["bg"], PHONEMES, 1.0, size=SIZE, seed=5))
    b = list(lite_frames(media["bg"], PHONEMES, 1.0, size=SIZE, seed=5))
    c = list(lite_frames(media["bg"], PHONEMES, 1.0, size=SIZE, seed=6))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_visemes_map_espeak_phonemes_gracefully() -> None:
    assert viseme_for("m")[0].open == 0
    assert viseme_for("_:")[0].open == 0
    assert viseme_for("A:")[0].open > 0.7
    assert viseme_for("u:")[0].width < -0.5 and viseme_for("i:")[0].width > 0.5
    assert len(viseme_for("aI")) == 2 and len(viseme_for("oU")) == 2
    for odd in ("'a:", ",e", "@#", "Q", "", "zz9", "ɐ"):
        assert len(viseme_for(odd)) >= 1


def test_mouth_track_is_smooth() -> None:
    # alternating 40 ms open/closed phonemes must not make the mouth flicker
    flicker = [
        PhonemeTiming(phoneme="a" if i % 2 else "m", start=i * 0.04, end=(i + 1) * 0.04)
        for i in range(50)
    ]
    track = mouth_track(flicker, 50, 25)
    assert np.abs(np.diff(track[:, 0])).max() < 0.25
    assert mouth_track([], 10, 25)[:, 0].max() == 0  # no phonemes, no audio: lips stay closed
    loud = np.tile(np.r_[np.zeros(1600), 0.5 * np.ones(1600)], 5).astype(np.float32)
    assert mouth_track([], 25, 25, loud)[:, 0].max() > 0.3  # loudness drives the jaw instead


@pytest.mark.parametrize("size", [(720, 1280), (1280, 720), (1080, 1080)])
def test_layout_keeps_mouth_above_captions(size: tuple[int, int]) -> None:
    p = IllustratedPresenter(size)
    w, h = size
    assert p.py0 >= 0 and p.px0 >= 0 and p.px0 + p.pw <= w
    assert p.cy + 0.9 * p.a < 0.78 * h  # lower lip above the caption band
    if h > w:
        assert h / 3 <= p.cy <= 2 * h / 3  # head in the middle third for 9:16


def test_portrait_not_an_image(media: dict[str, Path]) -> None:
    bad = media["dir"] / "my_portrait.png"
    bad.write_text("not really a png")
    with pytest.raises(InputError, match=r"my_portrait\.png.*not a readable image"):
        lite_frames(media["bg"], PHONEMES, 1.0, size=SIZE, portrait=bad)


def test_portrait_without_face(media: dict[str, Path]) -> None:
    blank = media["dir"] / "landscape.jpg"
    Image.new("RGB", (400, 300), (120, 160, 200)).save(blank)
    with pytest.raises(InputError, match=r"no face found in portrait .*landscape\.jpg"):
        render_lite(
            media["bg"], media["audio"], PHONEMES, media["dir"] / "x.mp4", size=SIZE, portrait=blank
        )
    assert not (media["dir"] / "x.mp4").exists()


def test_portrait_with_two_similar_faces() -> None:
    two = Image.new("RGB", (640, 400))
    two.paste(synthetic_face((320, 400)), (0, 0))
    two.paste(synthetic_face((320, 400)), (320, 0))
    with pytest.raises(InputError, match="2 faces"):
        detect_face(np.asarray(two), "group.jpg")


def test_portrait_face_is_animated(media: dict[str, Path]) -> None:
    path = media["dir"] / "face.png"
    synthetic_face().save(path)
    frames = list(
        lite_frames(media["bg"], PHONEMES, 2.0, size=SIZE, fps=FPS, portrait=path, seed=2)
    )
    img = np.asarray(Image.open(path).convert("RGB"))
    p = PortraitPresenter(img, detect_face(img), SIZE)
    fx, fy, fw, fh = p.face
    y0, x0 = p.py0, p.px0
    mouth = (
        slice(int(y0 + fy + 0.65 * fh), int(y0 + fy + 1.0 * fh)),
        slice(int(x0 + fx + 0.2 * fw), int(x0 + fx + 0.8 * fw)),
    )
    diff = np.abs(frames[9].astype(int)[mouth] - frames[20].astype(int)[mouth]).mean()
    assert diff > 3


def test_portrait_warp_with_given_face_box() -> None:
    img = np.asarray(synthetic_face((320, 400)))
    p = PortraitPresenter(img, (40, 60, 240, 240), SIZE)
    shut, wide = p.mouth_state(0.0, 0.0), p.mouth_state(1.0, 0.0)
    assert shut.shape == wide.shape
    assert np.abs(shut.astype(int) - wide.astype(int)).mean() > 2
    assert np.abs(p.eye_state(1.0).astype(int) - p.eye_state(0.0).astype(int)).mean() > 2


# --- mouth follows the audio -------------------------------------------------------------------


def test_mouth_track_side_file_follows_phonemes(media: dict[str, Path]) -> None:
    track_file = media["dir"] / "mouth.npy"
    seen: list[tuple[int, int]] = []
    render_lite(
        media["bg"],
        media["audio"],
        PHONEMES,
        media["dir"] / "t.mp4",
        size=(128, 128),
        preset="ultrafast",
        mouth_track_out=track_file,
        progress=lambda *a: seen.append(a),
    )
    assert seen[0] == (0, 50) and seen[-1] == (50, 50)
    track = np.load(track_file)
    assert track.shape == (50,)
    assert track[:3].max() < 0.05  # silence at the start: closed
    assert track[9] < 0.1  # the "m": lips together
    assert track[18:23].min() > 0.6  # "A:": wide open
    assert track[36:39].max() < track[20]  # "s": teeth nearly closed


def test_mouth_follows_loudness_without_timings() -> None:
    # 0.2 s bursts of sound with 0.2 s of silence between them, no phoneme timings
    burst = np.r_[np.zeros(3200), 0.4 * np.sin(np.arange(3200) / 3)].astype(np.float32)
    track = mouth_track([], 50, 25, np.tile(burst, 5))[:, 0]
    quiet = [i for i in range(50) if (i // 5) % 2 == 0 and i % 5 == 2]
    loud = [i for i in range(50) if (i // 5) % 2 == 1 and i % 5 == 2]
    assert max(track[quiet]) < 0.15 and min(track[loud]) > 0.4


# --- layouts -----------------------------------------------------------------------------------

LAYOUT_SIZES = [(180, 320), (320, 180), (240, 240)]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("size", LAYOUT_SIZES)
def test_every_layout_moves_the_mouth_above_the_captions(
    layout: str, size: tuple[int, int], media: dict[str, Path]
) -> None:
    w, h = size
    presenter = make_presenter(size, layout)
    base = presenter.compose_base(np.full((h, w, 3), 60, np.uint8))
    closed = presenter.frame(base, (0, 2, 0, 0), 0, np.zeros(3)).astype(int)
    opened = presenter.frame(base, (OPEN_LEVELS - 1, 2, 0, 0), 0, np.zeros(3)).astype(int)
    diff = np.abs(closed - opened).sum(axis=2)
    ys, xs = np.nonzero(diff > 30)
    assert len(ys) > 5, "the mouth must visibly open"
    assert ys.max() < 0.7 * h  # the mouth stays above the caption band
    if layout == "pip":  # a small window on the right; the background dominates
        assert xs.min() > w / 2 - 0.1 * w


@pytest.mark.parametrize("layout", LAYOUTS)
def test_portrait_layouts(layout: str, media: dict[str, Path]) -> None:
    path = media["dir"] / "face.png"
    synthetic_face().save(path)
    frames = list(
        lite_frames(media["bg"], PHONEMES, 1.0, size=(180, 320), portrait=path, layout=layout)
    )
    assert len(frames) == 25 and frames[0].shape == (320, 180, 3)
    img = np.asarray(load_portrait(path))
    presenter = make_presenter((180, 320), layout, img)
    base = presenter.compose_base(np.full((320, 180, 3), 60, np.uint8))
    closed = presenter.frame(base, (0, 2, 0, 0), 0, np.zeros(3)).astype(int)
    opened = presenter.frame(base, (OPEN_LEVELS - 1, 2, 0, 0), 0, np.zeros(3)).astype(int)
    ys, _xs = np.nonzero(np.abs(closed - opened).sum(axis=2) > 30)
    assert len(ys) > 5 and ys.max() < 0.7 * 320
    background_left = (closed == 60).all(axis=2).mean()
    assert background_left < 0.01 if layout == "full" else background_left > 0.2


def test_unknown_layout_is_refused(media: dict[str, Path]) -> None:
    with pytest.raises(InputError, match="layout 'sideways'.*studio, pip, full"):
        lite_frames(media["bg"], PHONEMES, 1.0, size=SIZE, layout="sideways")


def test_render_burns_captions_in_one_pass(media: dict[str, Path]) -> None:
    words = [
        WordTiming(word="Hello", start=0.1, end=0.6),
        WordTiming(word="world", start=0.7, end=1.2),
    ]
    out = media["dir"] / "captioned.mp4"
    info = render_lite(
        media["bg"],
        media["audio"],
        PHONEMES,
        out,
        size=SIZE,
        preset="ultrafast",
        words=words,
        title="News",
    )
    assert info.captions_burnt
    plain = media["dir"] / "plain.mp4"
    render_lite(media["bg"], media["audio"], PHONEMES, plain, size=SIZE, preset="ultrafast")
    a, b = extract_frame(out, 0.5).astype(int), extract_frame(plain, 0.5).astype(int)
    h = SIZE[1]
    assert np.abs(a[int(0.75 * h) :] - b[int(0.75 * h) :]).max() > 100  # caption
    assert np.abs(a[: int(0.12 * h)] - b[: int(0.12 * h)]).max() > 100  # title


# --- portrait preparation ------------------------------------------------------------------------


def _face_file(path: Path, img: Image.Image, **save: object) -> Path:
    img.save(path, **save)
    return path


@pytest.mark.parametrize("mode", ["L", "CMYK", "P", "RGBA", "LA", "I;16"])
def test_portrait_modes_are_accepted(mode: str, tmp_path: Path) -> None:
    face = synthetic_face()
    if mode == "RGBA":
        img = face.convert("RGBA")
        img.putalpha(Image.new("L", face.size, 255).point(lambda v: v))
        a = np.asarray(img).copy()
        a[:40, :, 3] = 0  # a transparent strip at the top
        img = Image.fromarray(a)
    elif mode == "I;16":
        img = Image.fromarray(np.asarray(face.convert("L"), np.uint16) * 257)
    else:
        img = face.convert(mode)
    ext = "jpg" if mode == "CMYK" else "png"
    path = _face_file(tmp_path / f"face.{ext}", img)
    loaded = load_portrait(path)
    assert loaded.mode == "RGB" and loaded.size == face.size
    locate_face(np.asarray(loaded), path.name)
    if mode == "RGBA":
        assert np.asarray(loaded)[5, 5].tolist() == [128, 128, 128]  # transparency shows grey


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_exif_rotated_photo_is_turned_upright(orientation: int, tmp_path: Path) -> None:
    face = synthetic_face()
    turn = {
        6: Image.Transpose.ROTATE_90,
        8: Image.Transpose.ROTATE_270,
        3: Image.Transpose.ROTATE_180,
    }
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = _face_file(
        tmp_path / "phone.jpg", face.transpose(turn[orientation]), exif=exif, quality=95
    )
    loaded = load_portrait(path)
    assert loaded.size == face.size
    locate_face(np.asarray(loaded), path.name)


@pytest.mark.parametrize("side", [128, 3840])
def test_small_and_4k_portraits(side: int, tmp_path: Path) -> None:
    face = synthetic_face((320, 400)).resize((side, side * 5 // 4), Image.Resampling.LANCZOS)
    path = _face_file(tmp_path / "face.jpg", face, quality=92)
    loaded = load_portrait(path)
    assert max(loaded.size) <= 1600  # big photos are shrunk before anything else
    marks = locate_face(np.asarray(loaded), path.name)
    _fx, _fy, fw, _fh = marks.box
    assert fw > 0.3 * loaded.size[0]
    p = PortraitPresenter(np.asarray(loaded), marks, (180, 320))
    assert p.mouth_state(1.0, 0.0).shape == p.mouth_state(0.0, 0.0).shape


def test_tiny_corrupt_and_empty_portraits_are_refused(tmp_path: Path) -> None:
    tiny = _face_file(tmp_path / "tiny.png", synthetic_face((60, 75)))
    with pytest.raises(InputError, match=r"tiny\.png.*60x75.*at least 96"):
        load_portrait(tiny)
    whole = tmp_path / "whole.jpg"
    synthetic_face().save(whole, quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[:300])
    with pytest.raises(InputError, match=r"cut\.jpg.*not a readable image"):
        load_portrait(cut)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.png"):
        load_portrait(empty)


def test_group_photo_names_the_count_and_face_index_chooses() -> None:
    two = Image.new("RGB", (640, 400))
    two.paste(synthetic_face((320, 400)), (0, 0))
    two.paste(synthetic_face((320, 400)), (320, 0))
    img = np.asarray(two)
    with pytest.raises(InputError, match=r"group\.jpg.*2 faces.*face_index"):
        locate_face(img, "group.jpg")
    left, right = locate_face(img, face_index=0), locate_face(img, face_index=1)
    assert left.box[0] < 320 <= right.box[0]
    with pytest.raises(InputError, match="face_index 2 is out of range 0..1"):
        locate_face(img, face_index=2)


def test_real_photo_landmarks() -> None:
    data = pytest.importorskip("skimage.data")
    img = data.astronaut()  # NASA portrait, public domain
    marks = locate_face(img, "astronaut")
    x, y, w, h = marks.box
    (lx, ly), (rx, ry) = marks.eyes
    mx, my = marks.mouth
    assert x < lx < x + w / 2 < rx < x + w  # one eye each side of the face
    assert y + 0.2 * h < ly < y + 0.55 * h and abs(ly - ry) < 0.1 * h
    assert y + 0.65 * h < my < y + 1.05 * h and abs(mx - (lx + rx) / 2) < 0.1 * w
    # the face in the video: the mouth opens there, and only there
    p = PortraitPresenter(img, marks, (360, 640))
    lx0, t, r, b = p.mouth_box
    assert (
        np.abs(p.mouth_state(1.0, 0.0).astype(int) - p.mouth_state(0.0, 0.0).astype(int)).max() > 60
    )
    pmx, pmy = p.mouth_c
    assert lx0 < pmx < r and t < pmy < b


# --- bad audio -----------------------------------------------------------------------------------


def _long_wav(path: Path, seconds: int, rate: int = 8000) -> Path:
    """A valid 8-bit wav header claiming ``seconds`` of audio, stored sparse (no disk used)."""
    n = seconds * rate
    header = b"RIFF" + (36 + n).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    header += (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + rate.to_bytes(4, "little")
    header += rate.to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
    header += b"data" + n.to_bytes(4, "little")
    with path.open("wb") as f:
        f.write(header)
        f.truncate(len(header) + n)
    return path


def test_bad_audio_is_refused_and_nothing_is_written(
    media: dict[str, Path], tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SR), SR)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 10)
    two_hours = _long_wav(tmp_path / "two_hours.wav", 2 * 3600)
    cases = {
        empty: r"empty\.wav.*0 bytes",
        silent: r"silent\.wav.*is silent",
        corrupt: r"corrupt\.wav",
        two_hours: r"two_hours\.wav.*7200 s; the limit is 600 s \(10 min\)",
    }
    for audio, message in cases.items():
        with pytest.raises(InputError, match=message):
            render_lite(media["bg"], audio, PHONEMES, out_dir / "v.mp4", size=(128, 128))
    assert list(out_dir.iterdir()) == []
