"""What a viewer sees first: headlines that fit without a word cut in half, the thumbnail
(the presenter's face, eyes open, no caption, the headline drawn cleanly) and hashtags made
of the script's topic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from test_review_app_support import add_video

from novaavatar.domain import ReviewState
from novaavatar.languages import tokens
from novaavatar.media import FrameWriter
from novaavatar.store import ArtifactStore
from tasks.compose import text as T
from tasks.compose.video import fit_title, render_title
from tasks.publish.package import platform_metadata
from tasks.publish.thumbnail import CAPTION_BAND, choose_frame, draw_headline, presenter_face

HEADLINE = "Rainfall model gives flood warnings six hours earlier in trial"
SIZE = (360, 640)
FPS = 10
MAGENTA = (255, 0, 255)


def _whole_words(lines: list[str], title: str) -> bool:
    """Every word on the lines is a word of the title (a closing "…" aside), in order."""
    shown = [w.removesuffix("…") for line in lines for w in line.split()]
    words = [t for _, _, t in tokens(title)]
    return shown == words[: len(shown)] and all(shown)


def test_a_long_headline_wraps_or_shrinks_and_no_word_is_cut() -> None:
    size, max_w = 15, 260.0  # the title bar of a 360×640 video
    font, lines = fit_title(HEADLINE, size, max_w)
    assert len(lines) <= 2 and " ".join(lines) == HEADLINE  # all of it, smaller if need be
    assert all(T.text_width(font, line) <= max_w for line in lines)
    # longer than two lines at the smallest size: whole words go, for a "…"
    long = HEADLINE + " as forecasters compare radar and soil moisture readings across catchments"
    font, lines = fit_title(long, size, max_w, min_scale=0.72)
    assert len(lines) == 2 and lines[-1].endswith("…") and _whole_words(lines, long)
    assert all(T.text_width(font, line) <= max_w for line in lines)
    assert int(getattr(font, "size", 0)) < size  # it shrank before it cut
    # the title bar itself: the whole headline, inside the frame's margins
    bar = render_title(HEADLINE, *SIZE)
    assert bar is not None
    img, x, _ = bar
    assert x + img.shape[1] <= SIZE[0] - round(SIZE[0] * 0.06) + 1


def _presenter_video(path: Path) -> tuple[str, dict[str, tuple[float, float]]]:
    """4 s of the drawn presenter: eyes closed, open with a caption, half-closed, open without;
    the SRT of its one caption, and when each part shows."""
    from tasks.avatar.lite import _quantise_blink, make_presenter
    from tasks.background import procedural_background

    bg = np.asarray(procedural_background(7, SIZE).convert("RGB"))
    p = make_presenter(SIZE)
    base = p.compose_base(bg)
    parts = {"closed": (0.0, 1.0), "captioned": (1.0, 2.0), "half": (2.0, 3.0), "open": (3.0, 4.0)}
    closure = {"closed": 1.0, "captioned": 0.0, "half": 0.3, "open": 0.0}
    with FrameWriter(path, SIZE, FPS, preset="ultrafast") as writer:
        for name, (a, b) in parts.items():
            frame = p.frame(base, (0, 0, 0, 0), _quantise_blink(closure[name]), np.zeros(3))
            if name == "captioned":
                img = Image.fromarray(frame)
                ImageDraw.Draw(img).rectangle((60, 560, 300, 610), fill=MAGENTA)
                frame = np.asarray(img)
            for _ in range(round((b - a) * FPS)):
                writer.write(frame)
    srt = "1\n00:00:01,000 --> 00:00:02,000\nRainfall model gives\n"
    return srt, parts


def _magenta(img: np.ndarray) -> int:
    r, g, b = (img[..., i].astype(int) for i in range(3))
    return int(((r > 200) & (g < 80) & (b > 200)).sum())


def test_thumbnail_shows_the_face_with_open_eyes_no_caption_and_the_headline(
    tmp_path: Path,
) -> None:
    video = tmp_path / "presenter.mp4"
    srt, parts = _presenter_video(video)
    frame, choice = choose_frame(video, srt)
    a, b = parts["open"]
    assert a <= choice.t < b and not choice.captioned and choice.face is not None
    # where every open-eyed frame shows a caption, the open eyes still win over a blink
    covered = srt + "\n2\n00:00:03,000 --> 00:00:04,000\nsix hours earlier\n"
    frame2, choice2 = choose_frame(video, covered)
    assert any(p[0] <= choice2.t < p[1] for k, p in parts.items() if k in ("open", "captioned"))
    half = presenter_face(_frame_at(video, 2.5))
    assert half is not None and choice2.face is not None
    assert choice2.face.eye_openness > half.eye_openness
    # the headline panel covers the caption band: no caption shows, the face still does
    for f in (frame, frame2):
        thumb = np.asarray(draw_headline(f, HEADLINE))
        assert _magenta(thumb) == 0 and presenter_face(thumb) is not None
        band = thumb[round(SIZE[1] * CAPTION_BAND) :]
        assert (band.mean(axis=2) > 200).sum() > 0.02 * band.shape[0] * band.shape[1]  # text
    Image.fromarray(np.asarray(draw_headline(frame, HEADLINE))).save(tmp_path / "thumb.png")


def _frame_at(video: Path, t: float) -> np.ndarray:
    from novaavatar.media import extract_frame

    return extract_frame(video, t)


def test_thumbnail_headline_is_whole_in_any_length() -> None:
    frame = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
    long = HEADLINE + " and forecasters now plan a second season alongside the current system"
    # draw_headline's own fit: three lines at most, whole words
    _, lines = fit_title(
        long, round(min(SIZE) * 0.085), SIZE[0] * 0.88, max_lines=3, min_scale=0.55
    )
    assert len(lines) <= 3 and _whole_words(lines, long)
    img = np.asarray(draw_headline(frame, long))
    assert (img[: round(SIZE[1] * CAPTION_BAND)] == 90).all()  # only the band is drawn on


def test_hashtags_come_from_the_scripts_keywords(store: ArtifactStore, tmp_path: Path) -> None:
    m = add_video(store, 0, None, state=ReviewState.APPROVED)
    assert m.script is not None
    text = (
        f"{HEADLINE}. A rainfall model that combines radar data with soil moisture readings "
        "issued flood warnings six hours earlier than the current system."
    )
    m = m.model_copy(
        update={
            "item": m.item.model_copy(update={"title": HEADLINE, "tags": ("Climate",)}),
            "script": m.script.model_copy(
                update={
                    "title": HEADLINE,
                    "text": text,
                    "keywords": ("climate", "model", "rainfall", "flood", "warnings", "six"),
                }
            ),
        }
    )
    tags = platform_metadata(m, "private", "25")["youtube"]["hashtags"]
    assert tags == ["#Climate", "#RainfallModel", "#FloodWarnings"]


@pytest.mark.parametrize("headline", [HEADLINE, "Harbour bridge reopens"])
def test_the_title_bar_keeps_its_two_lines_and_size_for_short_headlines(headline: str) -> None:
    bar = render_title(headline, *SIZE)
    assert bar is not None and bar[0].shape[0] < 0.15 * SIZE[1]
