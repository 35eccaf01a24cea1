"""Scenes for the lite renderer: a background per scene, transitions between them, title cards.

``render_lite(..., scenes=[SceneBackground(...), ...])`` renders an explainer in the same
single pass as a one-background video. Each scene's base frame (background with the
presenter's static parts) is composed once, in RGB and I420. A frame that is not in a
transition costs what it costs without scenes: the renderer pastes the presenter into the
current scene's I420 base. Only the few frames of a transition blend two bases (crossfade,
or a soft-edged wipe) and convert that blend; a cut switches bases on one frame.

A title card (the scene's number and title) shows for a few seconds after each scene after
the first starts; the intro's title is the video's own, already in the title bar.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from novaavatar.errors import InputError
from novaavatar.media import I420Overlay, i420_planes, rgb_to_i420

if TYPE_CHECKING:
    from novaavatar.domain import GeneratedAudio, GeneratedImage, VideoScript
    from novaavatar.store import ArtifactStore
    from novaavatar.templates import Brand
    from tasks.compose.text import CaptionLook

TRANSITIONS = ("crossfade", "wipe", "cut")
TRANSITION_S = 0.5  # long enough to read as a transition, short enough not to blur a sentence
SCENE_TITLE_S = 2.5  # how long a scene's title card stays up
WIPE_EDGE = 0.06  # the wipe's soft edge, as a share of the frame width


@dataclass(frozen=True)
class SceneBackground:
    """One scene of an explainer: its background image, when it starts, and its title."""

    background: Path
    start_s: float
    title: str = ""


class Overlay(Protocol):
    def apply(self, frame_i420: np.ndarray, t: float) -> None: ...


def check_transition(transition: str) -> str:
    if transition not in TRANSITIONS:
        raise InputError(f"transition {transition!r}: choose one of {', '.join(TRANSITIONS)}")
    return transition


def blend_bases(a: np.ndarray, b: np.ndarray, alpha: float, transition: str) -> np.ndarray:
    """The frame ``alpha`` (0..1) of the way from base ``a`` to base ``b`` (both H×W×3 RGB)."""
    if transition == "wipe":  # b enters from the left behind a soft vertical edge
        w = a.shape[1]
        edge = max(2.0, WIPE_EDGE * w)
        x_edge = -edge / 2 + alpha * (w + edge)
        m = np.clip((x_edge - np.arange(w, dtype=np.float32)) / edge + 0.5, 0, 1)[None, :, None]
        return (a * (1 - m) + b * m + 0.5).astype(np.uint8)
    return cv2.addWeighted(a, 1.0 - alpha, b, alpha, 0.0)


class SceneTrack:
    """Which scene's base each frame uses, and the blended bases of transition frames."""

    def __init__(
        self,
        plan: Any,  # the lite renderer's frame plan (its base is swapped per scene)
        scenes: Sequence[SceneBackground],
        size: tuple[int, int],
        fps: int,
        transition: str = "crossfade",
        transition_s: float = TRANSITION_S,
    ) -> None:
        from tasks.render.images import cover as _cover
        from tasks.render.images import load_image as _load_image

        self.transition = check_transition(transition)
        if not scenes:
            raise InputError("scenes: give at least one scene (a background and its start time)")
        starts = [float(s.start_s) for s in scenes]
        if starts[0] < 0 or any(b <= a for a, b in itertools.pairwise(starts)):
            raise InputError(
                f"scene start times {[round(s, 3) for s in starts]}: they must be >= 0 and "
                "strictly increasing"
            )
        presenter = plan.presenter
        # a windowed presenter keeps the first scene's studio inside its window in every scene
        inner = getattr(presenter, "_inner_base", None)
        hint = "use a PNG or JPEG image"
        self.bases = [
            presenter.compose_base(
                _cover(_load_image(s.background, f"scene {i} background", hint), size)
            )
            for i, s in enumerate(scenes)
        ]
        if inner is not None:
            presenter._inner_base = inner  # type: ignore[union-attr]
        self.i420 = [rgb_to_i420(b) for b in self.bases]
        self.scenes = list(scenes)
        self.fps = fps
        # frame → (scene a, scene b, alpha) during transitions; frame → scene where one settles
        self._mix: dict[int, tuple[int, int, float]] = {}
        self._settle: dict[int, int] = {0: 0}
        self.card_times: list[float] = [0.0]  # when each scene is fully on screen
        for k in range(1, len(scenes)):
            before = starts[k] - starts[k - 1]
            after = (starts[k + 1] if k + 1 < len(starts) else math.inf) - starts[k]
            dur = 0.0 if transition == "cut" else min(transition_s, 0.5 * before, 0.5 * after)
            t0, t1 = starts[k] - dur / 2, starts[k] + dur / 2
            f0, f1 = math.ceil(t0 * fps - 1e-9), math.ceil(t1 * fps - 1e-9)
            for f in range(f0, f1):
                self._mix[f] = (k - 1, k, min(max((f / fps - t0) / dur, 0.0), 1.0))
            self._settle[f1] = k
            self.card_times.append(f1 / fps)

    def enter(self, i: int, plan: Any, frame_i420: np.ndarray) -> None:
        """Before frame ``i`` is drawn: point ``plan`` at its base and reset the frame buffer
        where the base changes (a new scene, or every frame of a transition)."""
        mix = self._mix.get(i)
        if mix is not None:
            a, b, alpha = mix
            plan.base = blend_bases(self.bases[a], self.bases[b], alpha, self.transition)
            frame_i420[...] = rgb_to_i420(plan.base)
            return
        k = self._settle.get(i)
        if k is not None:
            plan.base = self.bases[k]
            frame_i420[...] = self.i420[k]

    def with_titles(
        self, overlay: Overlay, size: tuple[int, int], brand: Brand | None = None
    ) -> Overlay:
        """``overlay`` plus each scene's title card (the intro's title is the video's own),
        in the brand's title-bar colours when there is one."""
        look = None
        if brand is not None:
            from tasks.compose.brand import caption_look

            look = caption_look(brand.template, size[0])
        cards = []
        n = len(self.scenes)
        for k, scene in enumerate(self.scenes):
            if k == 0 or not scene.title.strip():
                continue
            img = render_scene_card(scene.title, k + 1, n, *size, look=look)
            t = self.card_times[k]
            cards.append((t, t + SCENE_TITLE_S, I420Overlay(*img)))
        return SceneTitles(overlay, cards, size)


class SceneTitles:
    """An overlay that adds the scene title cards shown at ``t`` to another overlay."""

    def __init__(
        self,
        inner: Overlay,
        cards: list[tuple[float, float, I420Overlay]],
        size: tuple[int, int],
    ) -> None:
        self.inner = inner
        self.cards = cards
        self.size = size

    def apply(self, frame_i420: np.ndarray, t: float) -> None:
        self.inner.apply(frame_i420, t)
        for start, end, card in self.cards:
            if start <= t < end:
                card.blend(i420_planes(frame_i420, *self.size))


def render_scene_card(
    title: str, number: int, count: int, width: int, height: int, look: CaptionLook | None = None
) -> tuple[np.ndarray, int, int]:
    """A premultiplied RGBA card "2/5 | Title" below the title bar, in the look's colours; at
    most two lines, kept to a third of the width in landscape and square frames so it stays
    clear of a centred presenter's face; right-aligned for a right-to-left title."""
    from tasks.compose.text import (
        CaptionLook,
        caption_font,
        draw_text,
        fit_title,
        mostly_rtl,
        premultiplied,
        text_width,
    )

    look = look or CaptionLook()
    title = " ".join(title.split())
    size = max(10, round(min(width, height) * 0.036))
    chip_font = caption_font(size, "0123456789/", look.family)
    pad = round(size * 0.45)
    chip = f"{number}/{count}"
    chip_w = round(text_width(chip_font, chip)) + 2 * pad
    max_w = max((0.30 if width >= height else 0.86) * width - chip_w - 2 * pad, 4 * size)
    font, texts = fit_title(title, size, max_w, family=look.family, min_scale=0.75)
    texts = texts or [""]
    ascent, descent = (
        font.getmetrics() if isinstance(font, ImageFont.FreeTypeFont) else (size, size // 4)
    )
    line_h = ascent + descent
    text_w = round(max(text_width(font, t) for t in texts))
    box_w, box_h = chip_w + text_w + 2 * pad, line_h * len(texts) + 2 * pad
    rtl = mostly_rtl(title)
    img = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    radius = round(size * 0.25)
    d.rounded_rectangle((0, 0, box_w - 1, box_h - 1), radius=radius, fill=look.title_box)
    chip_x = box_w - chip_w if rtl else 0  # the chip leads the line in its reading direction
    d.rounded_rectangle(
        (chip_x, 0, chip_x + chip_w - 1, box_h - 1), radius=radius, fill=(*look.title_stripe, 255)
    )
    dark = sum(look.title_stripe) > 3 * 140  # dark digits on a light chip, light on a dark one
    draw_text(
        d,
        (chip_x + pad, (box_h - line_h) // 2),
        chip,
        chip_font,
        (20, 20, 24) if dark else (250, 250, 250),
    )
    for row, text in enumerate(texts):
        x = box_w - chip_w - pad - text_width(font, text) if rtl else chip_w + pad
        draw_text(d, (x, pad + row * line_h), text, font, look.title_text)
    margin = round(width * 0.06)
    x0 = width - margin - box_w if rtl else margin
    # below a two-line title bar (compose.render_title: 4.5 % down, ~14 % of the short side)
    y = round(0.045 * height + 0.14 * min(width, height) + 0.01 * height)
    return premultiplied(img), max(x0, 0), y


def explainer_scenes(
    store: ArtifactStore,
    image: GeneratedImage,
    audio: GeneratedAudio,
    video_script: VideoScript | None,
) -> list[SceneBackground] | None:
    """The scenes to render for an explainer (backgrounds, starts from the speech segments,
    titles), or None for a video of one background."""
    if video_script is None or not video_script.scenes or len(image.scene_keys) < 2:
        return None
    starts = {s.scene: s.start for s in audio.segments}
    if len(image.scene_keys) != len(video_script.scenes) or len(starts) < len(image.scene_keys):
        raise InputError(
            f"explainer with {len(video_script.scenes)} scenes has {len(image.scene_keys)} "
            f"backgrounds and {len(starts)} speech segments: regenerate the background and speech"
        )
    return [
        SceneBackground(store.materialize(key), 0.0 if i == 0 else starts[i], scene.title)
        for i, (key, scene) in enumerate(zip(image.scene_keys, video_script.scenes, strict=True))
    ]
