"""The final video: avatar frames with burnt-in captions and a title bar,
loudness-normalised speech.

Caption images are rendered once per (caption, highlighted word) and cached, so a frame costs one
alpha blend of a small region; the title bar is rendered once.
"""

from __future__ import annotations

import itertools
import math
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
import soundfile as sf
from PIL import Image, ImageDraw, ImageFont

from novaavatar.domain import WordTiming
from novaavatar.errors import InputError
from novaavatar.media import (
    MAX_AUDIO_S,
    FrameWriter,
    I420Overlay,
    ffmpeg_quiet,
    gain_curve,
    i420_planes,
    normalise_loudness,
    probe,
    read_audio,
    remux_with_audio,
    true_peak,
)
from tasks.compose.captions import Caption, build_captions
from tasks.compose.label import render_ai_label
from tasks.compose.text import (
    CaptionLook,
    Font,
    caption_font,
    draw_text,
    fit_title,
    line_layout,
    mostly_rtl,
    premultiplied,
    text_width,
    wrap_words,
)

if TYPE_CHECKING:
    from novaavatar.templates import Brand
    from tasks.compose.brand import CardRenderer

TARGET_LUFS = -16.0
# The limiter's ceiling; AAC can overshoot it, so the encoded file is measured and re-levelled
# until it reads at most MAX_TRUE_PEAK_DBTP.
TRUE_PEAK_CEILING_DBTP = -1.8
MAX_TRUE_PEAK_DBTP = -1.0
SPEECH_RATE = 16000  # the speech stage's rate; loudness is set at it, the AAC encoder resamples
SILENT_PEAK = 1e-3  # −60 dBFS: no speech there
CAPTION_STYLES = ("highlight", "plain", "none")
HIGHLIGHT_LEAD_S = 0.04  # light the word up a touch before it is heard, as viewers expect


@dataclass(frozen=True)
class ComposeInfo:
    """What :func:`compose_final` wrote."""

    width: int
    height: int
    fps: float
    duration_s: float
    size_bytes: int
    intro_s: float = 0.0  # a brand's intro card before the speech starts
    outro_s: float = 0.0


def _blend(dst: np.ndarray, src: np.ndarray, x: int, y: int) -> None:
    """Blend a premultiplied RGBA ``src`` into RGB ``dst`` at (x, y); ``src`` lies inside
    ``dst``.
    """
    h, w = src.shape[:2]
    d = dst[y : y + h, x : x + w]
    inv = 255 - src[..., 3:4].astype(np.uint16)
    mixed = d.astype(np.uint16) * inv + 128
    d[...] = ((mixed + (mixed >> 8)) >> 8) + src[..., :3]


class CaptionPainter:
    """Draws caption boxes for one frame size, inside safe margins in the lower fifth."""

    def __init__(self, width: int, height: int, look: CaptionLook | None = None) -> None:
        self.width, self.height = width, height
        self.look = look or CaptionLook()
        self.base_size = max(12, round(min(width, height) * 0.058 * self.look.size))
        self.margin = round(width * 0.07)
        self.max_text_w = width - 2 * self.margin - 2 * self._pad(self.base_size)
        self._cache: dict[tuple[int, int], tuple[np.ndarray, int, int]] = {}
        self._layouts: dict[int, tuple[Font, list[list[tuple[int, str]]]]] = {}
        # the script's direction (FrameOverlay sets it from all the words); None: per caption
        self.rtl: bool | None = None

    @staticmethod
    def _pad(size: int) -> int:
        return round(size * 0.4)

    def layout(self, caption: Caption) -> tuple[Font, list[list[tuple[int, str]]]]:
        """The font and wrapped lines for ``caption``: at most 3 lines, shrinking the font if
        needed.
        """
        if caption.index not in self._layouts:
            words = [w.word for w in caption.words]
            size = self.base_size
            while True:
                font = caption_font(size, caption.text, self.look.family)
                lines = wrap_words(words, font, self.max_text_w)
                if len(lines) <= 3 or size <= self.base_size * 0.6:
                    break
                size = max(8, int(size * 0.9))
            self._layouts[caption.index] = (font, lines)
        return self._layouts[caption.index]

    def render(self, caption: Caption, highlight: int) -> tuple[np.ndarray, int, int]:
        """Premultiplied RGBA image of the caption with word ``highlight`` in the accent colour."""
        key = (caption.index, highlight)
        if key in self._cache:
            return self._cache[key]
        font, lines = self.layout(caption)
        size = int(getattr(font, "size", self.base_size))
        pad = self._pad(size)
        stroke = max(2, size // 12)
        ascent, descent = (
            font.getmetrics() if isinstance(font, ImageFont.FreeTypeFont) else (size, size // 4)
        )
        line_h = ascent + descent + size // 8
        rtl = mostly_rtl(caption.text) if self.rtl is None else self.rtl
        placed = [line_layout(ln, font, rtl) for ln in lines]
        widths = [w for _, w in placed]
        box_w = min(self.width - 2 * self.margin, math.ceil(max(widths)) + 2 * pad + 2 * stroke)
        box_h = line_h * len(lines) + 2 * pad
        img = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        look = self.look
        d.rounded_rectangle((0, 0, box_w - 1, box_h - 1), radius=round(size * 0.35), fill=look.box)
        for row, (words, lw) in enumerate(placed):
            # right-to-left lines sit flush right, as they are read; others are centred
            left = box_w - pad - stroke - lw if rtl else (box_w - lw) / 2
            y = pad + row * line_h
            for i, text, x in words:
                colour = look.highlight if i == highlight else look.text
                draw_text(
                    d,
                    (left + x, y),
                    text,
                    font,
                    colour,
                    stroke_width=stroke,
                    stroke_fill=look.outline,
                )
        x0 = (self.width - box_w) // 2
        centre = 0.78 if look.position == "lower-middle" else 0.875
        y0 = round(min(self.height * centre - box_h / 2, self.height * 0.96 - box_h))
        y0 = max(y0, round(self.height * (0.69 if look.position == "lower-middle" else 0.7)), 0)
        y0 = min(y0, self.height - box_h)
        out = (premultiplied(img), x0, y0)
        self._cache[key] = out
        return out


def render_title(
    title: str, width: int, height: int, look: CaptionLook | None = None
) -> tuple[np.ndarray, int, int] | None:
    """A title bar for the top of the frame, or None without a title: two lines at most, a long
    title in a smaller font (see :func:`fit_title`)."""
    look = look or CaptionLook()
    title = " ".join(title.split())
    if not title:
        return None
    base = max(10, round(min(width, height) * 0.042))
    margin = round(width * 0.06)
    pad = round(base * 0.45)
    stripe = max(4, round(base * 0.22))
    reserve = round(width * look.title_right_reserve)
    max_w = width - 2 * margin - 2 * pad - stripe - reserve
    rtl = mostly_rtl(title)
    # a long headline gets a smaller font before it loses a word; lines are drawn whole
    font, texts = fit_title(title, base, max_w, family=look.family, min_scale=0.72)
    size = int(getattr(font, "size", base))
    ascent, descent = (
        font.getmetrics() if isinstance(font, ImageFont.FreeTypeFont) else (size, size // 4)
    )
    line_h = ascent + descent
    box_w = int(max(text_width(font, t) for t in texts)) + 2 * pad + stripe
    box_h = line_h * len(texts) + 2 * pad
    img = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle(
        (0, 0, box_w - 1, box_h - 1), radius=round(size * 0.25), fill=look.title_box
    )
    # a right-to-left title reads from the right: stripe, text and box on that side
    stripe_x = box_w - stripe if rtl else 0
    d.rectangle((stripe_x, 0, stripe_x + stripe - 1, box_h - 1), fill=(*look.title_stripe, 255))
    for row, text in enumerate(texts):
        x = box_w - stripe - pad - text_width(font, text) if rtl else stripe + pad
        draw_text(d, (x, pad + row * line_h), text, font, look.title_text)
    x0 = width - margin - reserve - box_w if rtl else margin
    return premultiplied(img), max(x0, 0), round(height * 0.045)


def prepare_speech(
    audio: Path, out_wav: Path, ceiling_dbtp: float = TRUE_PEAK_CEILING_DBTP
) -> None:
    """Check the speech (not empty, not silent, within the length limit) and write it
    loudness-normalised.

    What is written measures −16 LUFS integrated with true peaks under the ceiling.
    """
    samples = read_audio(audio, SPEECH_RATE, max_seconds=MAX_AUDIO_S)
    if samples.size < 0.1 * SPEECH_RATE:
        raise InputError(
            f"audio {str(audio)!r} lasts {samples.size / SPEECH_RATE:.2f} s; "
            "expected speech lasting at least 0.1 s"
        )
    peak = float(np.max(np.abs(samples)))
    if peak < SILENT_PEAK:
        raise InputError(
            f"audio {str(audio)!r} is silent "
            f"(peak {20 * math.log10(max(peak, 1e-9)):.0f} dBFS); expected speech"
        )
    level = normalise_loudness(samples, SPEECH_RATE, TARGET_LUFS, TRUE_PEAK_CEILING_DBTP)
    sf.write(out_wav, level, SPEECH_RATE, subtype="FLOAT")


def _hold_true_peak(out_mp4: Path, speech: Path) -> None:
    """Measure the encoded file; where AAC pushed a peak over −1 dBTP, dip the speech there, remux.

    The encoder can overshoot a sharp onset by a dB or two (most at the very start, before it
    has any history). Only those moments get quieter; the picture is copied, not re-encoded.
    """
    limit = 10 ** (MAX_TRUE_PEAK_DBTP / 20)
    for _ in range(4):
        peaks = true_peak(read_audio(out_mp4, 48000), 48000)
        if peaks.size == 0 or peaks.max() <= limit:
            return
        x = sf.read(speech, dtype="float32")[0]
        per_sample = peaks[: peaks.size // 3 * 3].reshape(-1, 3).max(axis=1)  # 48 → 16 kHz
        m = min(x.size, per_sample.size)
        need = np.ones(x.size, np.float32)
        need[:m] = np.minimum(1.0, 0.95 * limit / np.maximum(per_sample[:m], 1e-9)) ** 1.5
        sf.write(speech, x * gain_curve(need, SPEECH_RATE), SPEECH_RATE, subtype="FLOAT")
        remux_with_audio(out_mp4, speech, out_mp4)


def _read_exact(stream: IO[bytes], buf: bytearray) -> bool:
    """Fill ``buf`` from ``stream``; False at end of stream (a partial last frame is dropped)."""
    view = memoryview(buf)
    got = 0
    while got < len(buf):
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            return False
        got += n
    return True


def _active_word(caption: Caption, t: float) -> int:
    """Index of the last word of ``caption`` that has started by ``t`` (0 before the first)."""
    idx = 0
    for i, w in enumerate(caption.words):
        if w.start <= t + HIGHLIGHT_LEAD_S:
            idx = i
    return idx


class FrameOverlay:
    """Captions (the spoken word highlighted), a title bar and the AI-generated label (in
    ``language``), blended into I420 frames."""

    def __init__(
        self,
        words: Sequence[WordTiming],
        width: int,
        height: int,
        *,
        title: str = "",
        caption_style: str = "highlight",
        brand: Brand | None = None,
        language: str = "en",
    ) -> None:
        if caption_style not in CAPTION_STYLES:
            raise InputError(
                f"caption style {caption_style!r}: choose one of {', '.join(CAPTION_STYLES)}"
            )
        self.style = caption_style
        self.captions = build_captions(words) if caption_style != "none" else []
        self.brand = None
        if brand is not None:  # the template's logo, lower third and colours
            from tasks.compose.brand import BrandLayers

            self.brand = BrandLayers(brand, width, height)
        look = self.brand.look if self.brand is not None else None
        self.painter = CaptionPainter(width, height, look)
        self.painter.rtl = mostly_rtl(" ".join(w.word for w in words))  # Arabic/Hebrew script
        self.size = (width, height)
        title_img = render_title(title, width, height, look)
        self.title = I420Overlay(*title_img) if title_img is not None else None
        self.ai_label = I420Overlay(*render_ai_label(language, width, height))
        self._overlays: dict[tuple[int, int], I420Overlay] = {}
        self._ci = 0

    def caption_at(self, t: float) -> tuple[Caption, int] | None:
        """The caption on screen at ``t`` and its highlighted word (-1: none); times only grow."""
        caps = self.captions
        if self._ci < len(caps) and caps[self._ci].start > t:
            self._ci = 0  # rewound
        while self._ci < len(caps) and caps[self._ci].end <= t:
            self._ci += 1
        if self._ci < len(caps) and caps[self._ci].start <= t:
            cap = caps[self._ci]
            return cap, (_active_word(cap, t) if self.style == "highlight" else -1)
        return None

    def apply(self, frame_i420: np.ndarray, t: float) -> None:
        """Blend the caption showing at ``t`` and the title into an I420 frame, in place."""
        planes = i420_planes(frame_i420, *self.size)
        if self.brand is not None:
            self.brand.blend_under(planes, t)
        on = self.caption_at(t)
        if on is not None:
            cap, word = on
            key = (cap.index, word)
            if key not in self._overlays:
                self._overlays[key] = I420Overlay(*self.painter.render(cap, word))
            self._overlays[key].blend(planes)
        if self.title is not None:
            self.title.blend(planes)
        self.ai_label.blend(planes)
        if self.brand is not None:
            self.brand.blend_over(planes)


def compose_final(
    avatar_mp4: Path,
    audio: Path,
    words: Sequence[WordTiming],
    out_mp4: Path,
    *,
    title: str = "",
    crf: int = 23,
    preset: str = "veryfast",
    caption_style: str = "highlight",
    burn_captions: bool = True,
    brand: Brand | None = None,
    language: str = "en",
) -> ComposeInfo:
    """Burn captions (current word highlighted) and a title into the avatar video; mux the speech.

    The speech is normalised to −16 LUFS with true peaks under −1 dBTP. ``caption_style`` is
    ``highlight`` (word by word), ``plain`` or ``none``. With ``burn_captions=False`` (an avatar
    rendered with its captions, see ``render_lite(words=...)``) the picture is copied untouched.
    A ``brand`` adds its logo and lower third (when burning) and its intro and outro cards:
    the speech is padded with silence for them, so it stays in sync with the picture.
    Burning also draws the AI-generated label in ``language`` (an avatar rendered with its
    captions has it already); the cards carry it too.
    """
    info = probe(avatar_mp4)
    if not info.has_video or info.width <= 0 or info.fps <= 0:
        raise InputError(f"avatar video {str(avatar_mp4)!r} has no readable video stream")
    w, h, fps = info.width // 2 * 2, info.height // 2 * 2, info.fps
    intro, outro = _cards(brand, w, h, fps, language)
    intro_s = intro.n_frames / fps if intro is not None else 0.0
    outro_s = outro.n_frames / fps if outro is not None else 0.0
    if not burn_captions:
        with tempfile.TemporaryDirectory(prefix="compose-") as tmp:
            speech = Path(tmp) / "speech.wav"
            prepare_speech(Path(audio), speech)
            picture = Path(avatar_mp4)
            if intro is not None or outro is not None:
                picture = Path(tmp) / "carded.mp4"
                _add_cards(Path(avatar_mp4), (w, h), fps, intro, outro, picture, crf, preset)
                _pad_speech(speech, intro_s, outro_s)
            remux_with_audio(picture, speech, out_mp4)
            _hold_true_peak(Path(out_mp4), speech)
        out_info = probe(out_mp4)
        return ComposeInfo(
            width=info.width,
            height=info.height,
            fps=info.fps,
            duration_s=out_info.duration_s,
            size_bytes=Path(out_mp4).stat().st_size,
            intro_s=intro_s,
            outro_s=outro_s,
        )
    overlay = FrameOverlay(
        words, w, h, title=title, caption_style=caption_style, brand=brand, language=language
    )
    buf = bytearray(w * h * 3 // 2)
    frame = np.frombuffer(buf, dtype=np.uint8).reshape(h * 3 // 2, w)
    last: np.ndarray | None = None
    with tempfile.TemporaryDirectory(prefix="compose-") as tmp:
        speech = Path(tmp) / "speech.wav"
        prepare_speech(Path(audio), speech)
        _pad_speech(speech, intro_s, outro_s)
        err = Path(tmp) / "decode.log"
        crop = [] if (w, h) == (info.width, info.height) else ["-vf", f"crop={w}:{h}:0:0"]
        with err.open("wb") as err_f:
            decoder = subprocess.Popen(
                [
                    *ffmpeg_quiet(),
                    "-i",
                    str(avatar_mp4),
                    "-an",
                    *crop,
                    "-f",
                    "rawvideo",
                    "-pix_fmt",
                    "yuv420p",
                    "pipe:1",
                ],
                stdout=subprocess.PIPE,
                stderr=err_f,
            )
        assert decoder.stdout is not None
        stream = decoder.stdout
        try:
            with FrameWriter(out_mp4, (w, h), fps, audio=speech, crf=crf, preset=preset) as writer:
                for i in itertools.count():
                    if not _read_exact(stream, buf):
                        break
                    overlay.apply(frame, i / fps)
                    if i == 0 and intro is not None:
                        for card in intro.frames(frame):
                            writer.write_i420(card)
                    writer.write_i420(frame)
                    if outro is not None:
                        last = frame.copy()
                if outro is not None and last is not None:
                    for card in outro.frames(last):
                        writer.write_i420(card)
                stream.close()
                if decoder.wait() != 0:
                    raise InputError(
                        f"cannot decode avatar video {str(avatar_mp4)!r}: "
                        f"{err.read_text('utf-8', 'replace')[-500:]}"
                    )
        finally:
            stream.close()
            if decoder.poll() is None:
                decoder.kill()
            decoder.wait()
        _hold_true_peak(Path(out_mp4), speech)
    out_info = probe(out_mp4)
    return ComposeInfo(
        width=w,
        height=h,
        fps=fps,
        duration_s=out_info.duration_s,
        size_bytes=Path(out_mp4).stat().st_size,
        intro_s=intro_s,
        outro_s=outro_s,
    )


def _cards(
    brand: Brand | None, w: int, h: int, fps: float, language: str = "en"
) -> tuple[CardRenderer | None, CardRenderer | None]:
    """The brand's intro and outro cards (None where it has none)."""
    if brand is None:
        return None, None
    from tasks.compose.brand import CardRenderer

    intro, outro = (CardRenderer(brand, which, w, h, fps, language) for which in ("intro", "outro"))
    return (intro if intro.n_frames else None), (outro if outro.n_frames else None)


def _pad_speech(speech: Path, intro_s: float, outro_s: float) -> None:
    """Silence before and after the speech for the intro and outro cards."""
    if intro_s <= 0 and outro_s <= 0:
        return
    x = sf.read(speech, dtype="float32")[0]
    lead, tail = (np.zeros(round(s * SPEECH_RATE), np.float32) for s in (intro_s, outro_s))
    sf.write(speech, np.concatenate([lead, x, tail]), SPEECH_RATE, subtype="FLOAT")


def _edge_frames(video: Path, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """The first and last frames of ``video`` as I420."""
    size = w * h * 3 // 2
    frames = []
    for seek in ([], ["-sseof", "-0.6"]):
        res = subprocess.run(
            [
                *ffmpeg_quiet(),
                *seek,
                "-i",
                str(video),
                "-an",
                "-vf",
                f"crop={w}:{h}:0:0",
                *(["-frames:v", "1"] if not seek else []),
                "-f",
                "rawvideo",
                "-pix_fmt",
                "yuv420p",
                "pipe:1",
            ],
            capture_output=True,
            check=False,
        )
        if res.returncode != 0 or len(res.stdout) < size:
            raise InputError(
                f"cannot read the edge frames of {str(video)!r}: {res.stderr[-300:]!r}"
            )
        n = len(res.stdout) // size
        raw = res.stdout[(n - 1) * size : n * size]
        frames.append(np.frombuffer(raw, np.uint8).reshape(h * 3 // 2, w).copy())
    return frames[0], frames[1]


def _add_cards(
    video: Path,
    size: tuple[int, int],
    fps: float,
    intro: CardRenderer | None,
    outro: CardRenderer | None,
    out: Path,
    crf: int,
    preset: str,
) -> None:
    """``video``'s picture with the cards before and after it, the picture itself copied.

    The cards are encoded with the same encoder settings and joined by ffmpeg's concat
    demuxer, so the rendered video is not decoded and encoded again.
    """
    first, last = _edge_frames(video, *size)
    parts: list[Path] = []
    for name, card, edge in (("intro", intro, first), ("outro", outro, last)):
        if card is None:
            continue
        part = out.with_name(f"{name}.mp4")
        with FrameWriter(part, size, fps, crf=crf, preset=preset) as writer:
            for f in card.frames(edge):
                writer.write_i420(f)
        parts.append(part)
    body = out.with_name("body.mp4")
    res = subprocess.run(
        [
            *ffmpeg_quiet(),
            "-y",
            "-i",
            str(video),
            "-map",
            "0:v:0",
            "-c",
            "copy",
            str(body),
        ],
        capture_output=True,
        check=False,
    )
    if res.returncode != 0:
        raise RuntimeError(f"ffmpeg could not copy the picture of {video}: {res.stderr[-300:]!r}")
    order = (
        ([parts[0]] if intro is not None else [])
        + [body]
        + ([parts[-1]] if outro is not None else [])
    )
    listing = out.with_name("parts.txt")
    listing.write_text("".join(f"file '{p.name}'\n" for p in order), encoding="utf-8")
    res = subprocess.run(
        [
            *ffmpeg_quiet(),
            "-y",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(listing),
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            str(out),
        ],
        capture_output=True,
        check=False,
    )
    if res.returncode != 0:
        raise RuntimeError(f"ffmpeg could not join the cards to {video}: {res.stderr[-300:]!r}")
