"""Text on video frames in any supported script: which font draws it, and how it is shaped.

Public API (captions, titles, brand templates):

- ``font_for(text, size, *, family=None, bold=True)`` → a Pillow font whose character map
  covers every character of ``text`` (Latin, Cyrillic, Greek, Arabic, Hebrew, Chinese,
  Japanese, Korean). ``family`` is a font file path or a family name (``"DejaVu Sans"``,
  ``"Noto Sans CJK"``) to prefer; when it lacks a character of ``text`` the next font that
  has them all is used, so a brand font never draws tofu boxes.
- ``draw_text(draw, xy, text, font, fill=..., stroke_width=0, stroke_fill=None)`` draws one
  run of text, shaped and in visual order; ``text_width(font, text)`` measures it the same way.
- ``visual_order(words)`` orders the words of one line for display (right-to-left runs
  reversed, Unicode bidi rules at word level) and ``is_rtl(text)`` tells a paragraph's
  direction from its first strong character, ``mostly_rtl(text)`` from most of them.
- ``font_sources()`` lists the fonts found, for ``novaavatar doctor``-style reports.

Fonts, first found wins per script: system Noto fonts (``fonts-noto-*`` packages), then
fonts shipped in wheels the project depends on: DejaVu Sans from matplotlib (Latin, Cyrillic,
Greek, Arabic, Hebrew, in bold), Noto Sans CJK SC from ``mplfonts`` (Chinese, kana, Hangul;
one regular weight, made bold by a thin stroke of the text colour) and Noto Sans Devanagari
from ``fontpkg-noto-sans-devanagari`` (a variable font, drawn at weight 700), then system
DejaVu/Liberation. No system package is needed.

Shaping: with Pillow's raqm layout (libraqm + FriBiDi + HarfBuzz) Arabic letters are joined
and bidi runs reordered by raqm itself. Without it (FriBiDi is often missing on a fresh
machine) Arabic is reshaped to its presentation forms with ``arabic-reshaper`` and each run
is put in visual order with ``python-bidi``. Devanagari needs raqm to be shaped correctly.
"""

from __future__ import annotations

import importlib.util
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from novaavatar.languages import is_cjk_letter, is_unspaced, join_words, needs_space, tokens

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
Colour = tuple[int, ...] | str

# Set to True (tests do) to draw with Pillow's basic layout even where raqm is available.
FORCE_BASIC_LAYOUT = False


@dataclass(frozen=True)
class FontFile:
    """One font file (``index`` in a .ttc collection) and the weight it draws."""

    path: str
    index: int = 0
    bold: bool = False
    family: str = ""
    weight: int = 0  # a variable font's weight axis (700 = bold); 0: a static font


_SYSTEM_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
)
# Noto CJK collections hold JP, KR, SC, TC, HK in this order; SC suits Chinese, JP Japanese.
_CJK_INDEX = {"ja": 0, "ko": 1, "zh": 2}


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _find(names: Iterable[str]) -> list[Path]:
    """Existing system font files with one of ``names``, searched one level into font dirs."""
    found = []
    for d in map(Path, _SYSTEM_DIRS):
        if not d.is_dir():
            continue
        for name in names:
            found += sorted(d.glob(f"**/{name}"))[:1]
    return found


@cache
def _candidates(script: str, bold: bool) -> tuple[FontFile, ...]:
    """Fonts for ``script`` ("latin", "arabic", "hebrew", "cjk", "devanagari"), best first."""
    weight = "Bold" if bold else "Regular"
    out: list[FontFile] = []

    def system(names: Sequence[str], family: str, is_bold: bool = bold) -> None:
        out.extend(FontFile(str(p), bold=is_bold, family=family) for p in _find(names))

    mpl = _package_dir("matplotlib")
    mpl_fonts = mpl / "mpl-data" / "fonts" / "ttf" if mpl else None
    dejavu = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"

    def wheel_dejavu() -> None:
        if mpl_fonts and (mpl_fonts / dejavu).is_file():
            out.append(FontFile(str(mpl_fonts / dejavu), bold=bold, family="DejaVu Sans"))

    if script == "cjk":
        for p in _find([f"NotoSansCJK-{weight}.ttc", f"NotoSansCJKsc-{weight}.otf"]):
            out.append(FontFile(str(p), bold=bold, family="Noto Sans CJK"))
        if bold:  # a regular weight, emboldened when drawn, beats a missing glyph
            for p in _find(["NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf"]):
                out.append(FontFile(str(p), family="Noto Sans CJK"))
        mf = _package_dir("mplfonts")
        if mf and (mf / "fonts" / "NotoSansCJKsc-Regular.otf").is_file():
            out.append(
                FontFile(str(mf / "fonts" / "NotoSansCJKsc-Regular.otf"), family="Noto Sans CJK")
            )
    elif script == "arabic":
        system(
            [f"NotoSansArabic-{weight}.ttf", f"NotoNaskhArabic-{weight}.ttf"], "Noto Sans Arabic"
        )
        wheel_dejavu()
        # Urdu's heh goal and yeh barree, which DejaVu Sans lacks (presentation forms too)
        noto_ar = _package_dir("fontpkg_noto_sans_arabic")
        for p in sorted(noto_ar.glob("files/NotoSansArabic*.ttf")) if noto_ar else []:
            out.append(
                FontFile(str(p), bold=bold, family="Noto Sans Arabic", weight=700 if bold else 400)
            )
    elif script == "hebrew":
        system([f"NotoSansHebrew-{weight}.ttf"], "Noto Sans Hebrew")
        wheel_dejavu()
    elif script == "devanagari":
        system([f"NotoSansDevanagari-{weight}.ttf"], "Noto Sans Devanagari")
        deva = _package_dir("fontpkg_noto_sans_devanagari")
        for p in sorted(deva.glob("files/NotoSansDevanagari*.ttf")) if deva else []:
            out.append(
                FontFile(
                    str(p), bold=bold, family="Noto Sans Devanagari", weight=700 if bold else 400
                )
            )
    # Latin and Cyrillic (and every script's last resort)
    system([f"NotoSans-{weight}.ttf"], "Noto Sans")
    wheel_dejavu()
    system([dejavu], "DejaVu Sans")
    system(["LiberationSans-Bold.ttf" if bold else "LiberationSans-Regular.ttf"], "Liberation Sans")
    if script != "latin":
        out.extend(c for c in _candidates("latin", bold) if c not in out)
    return tuple(dict.fromkeys(out))


@cache
def _cmap(path: str, index: int) -> frozenset[int]:
    """The code points a font file maps to glyphs."""
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index, lazy=True) as f:
        return frozenset(f.getBestCmap() or {})


def covers(font: FontFile | Font, text: str) -> bool:
    """Whether the font has a glyph for every visible character of ``text``."""
    if not isinstance(font, FontFile):
        path = getattr(font, "path", None)
        if not isinstance(path, str):
            return all(ord(c) < 128 for c in text)  # Pillow's bitmap default: ASCII
        font = FontFile(path, getattr(font, "index", 0))
    have = _cmap(font.path, font.index)
    return all(ord(c) in have for c in _visible(text))


def _visible(text: str) -> set[str]:
    return {c for c in text if not c.isspace() and unicodedata.category(c) not in ("Cf", "Cc")}


def script_of(text: str) -> str:
    """The script that decides the font: "cjk", "arabic", "hebrew", "devanagari" or "latin"."""
    counts: dict[str, int] = {}
    for c in _visible(text):
        o = ord(c)
        if 0x0600 <= o <= 0x06FF or 0x0750 <= o <= 0x077F or 0xFB50 <= o <= 0xFEFF:
            s = "arabic"
        elif 0x0590 <= o <= 0x05FF or 0xFB1D <= o <= 0xFB4F:
            s = "hebrew"
        elif 0x0900 <= o <= 0x097F:
            s = "devanagari"
        elif (
            0x2E80 <= o <= 0x9FFF
            or 0xAC00 <= o <= 0xD7AF
            or 0x1100 <= o <= 0x11FF
            or 0xF900 <= o <= 0xFAFF
            or 0xFF00 <= o <= 0xFFEF
            or o >= 0x20000
        ):
            s = "cjk"
        else:
            continue
        counts[s] = counts.get(s, 0) + 1
    return max(counts, key=lambda s: counts[s]) if counts else "latin"


def _cjk_index(text: str) -> int:
    from novaavatar.languages import guess_language

    return _CJK_INDEX.get(guess_language(text) or "zh", 2)


def choose_font_file(text: str, *, family: str | None = None, bold: bool = True) -> FontFile | None:
    """The first font that covers ``text`` (``family`` first), else the one covering most."""
    script = script_of(text)
    cands = list(_candidates(script, bold))
    if script == "cjk":  # the regional face of a Noto CJK collection
        idx = _cjk_index(text)
        cands = [
            FontFile(c.path, idx, c.bold, c.family, c.weight) if c.path.endswith(".ttc") else c
            for c in cands
        ]
    if family:
        mine = _family_files(family, bold)
        cands = [*mine, *(c for c in cands if c not in mine)]
    if not cands:
        return None
    chars = _visible(text)
    best, best_n = cands[0], -1
    for c in cands:
        try:
            have = _cmap(c.path, c.index)
        except Exception:  # an unreadable font file is skipped, not fatal
            continue
        n = sum(ord(ch) in have for ch in chars)
        if n == len(chars):
            return c
        if n > best_n:
            best, best_n = c, n
    return best


def _family_files(family: str, bold: bool) -> list[FontFile]:
    p = Path(family)
    if p.suffix.lower() in (".ttf", ".otf", ".ttc"):
        if not p.is_file():
            raise ValueError(
                f"font file {family!r} does not exist: give a .ttf/.otf path or a family name"
            )
        return [FontFile(str(p), bold=bold, family=p.stem)]
    want = family.lower().replace(" ", "")
    return [
        c
        for s in ("latin", "arabic", "hebrew", "cjk", "devanagari")
        for c in _candidates(s, bold)
        if c.family.lower().replace(" ", "") == want
    ]


def _layout() -> ImageFont.Layout:
    from PIL import features

    # raqm needs FriBiDi at run time (often missing on a fresh machine): both, or basic
    if FORCE_BASIC_LAYOUT or not (features.check("raqm") and features.check("fribidi")):
        return ImageFont.Layout.BASIC
    return ImageFont.Layout.RAQM


@cache
def _load(
    path: str, index: int, size: int, layout: ImageFont.Layout, weight: int = 0
) -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(path, size, index=index, layout_engine=layout)
    if weight:
        axes = font.get_variation_axes()
        font.set_variation_by_axes(
            [float(weight if a["name"] == b"Weight" else a["default"] or 0) for a in axes]
        )
    return font


_FAUX_BOLD: set[tuple[str, int, int]] = set()


def font_for(text: str, size: int, *, family: str | None = None, bold: bool = True) -> Font:
    """A font of ``size`` px that draws every character of ``text`` (see the module doc)."""
    if size < 1:
        raise ValueError(f"font size {size} must be at least 1 px")
    chosen = choose_font_file(text, family=family, bold=bold)
    if chosen is None:
        return ImageFont.load_default(size=size)
    layout = _layout()
    font = _load(chosen.path, chosen.index, size, layout, chosen.weight)
    if bold and not chosen.bold:
        _FAUX_BOLD.add((chosen.path, chosen.index, size))
    return font


def faux_bold_px(font: Font) -> int:
    """Extra stroke (in the text colour) that makes a regular-weight font read as bold."""
    if not isinstance(font, ImageFont.FreeTypeFont):
        return 0
    key = (str(font.path), int(getattr(font, "index", 0)), int(font.size))
    return max(1, round(font.size / 28)) if key in _FAUX_BOLD else 0


# --- bidi and shaping ---------------------------------------------------------------------


def _strong(text: str) -> str | None:
    """'R' or 'L' for the first strong character, 'N' for a number, None for neutrals."""
    number = False
    for c in text:
        b = unicodedata.bidirectional(c)
        if b in ("R", "AL"):
            return "R"
        if b == "L":
            return "L"
        if b in ("EN", "AN"):
            number = True
    return "N" if number else None


def is_rtl(text: str) -> bool:
    """Whether a paragraph reads right to left (its first strong character is Arabic/Hebrew)."""
    for c in text:
        b = unicodedata.bidirectional(c)
        if b in ("R", "AL"):
            return True
        if b == "L":
            return False
    return False


def mostly_rtl(text: str) -> bool:
    """Whether most strong characters of ``text`` are right-to-left: the direction of a
    video's captions, even of a line that starts with a Latin name."""
    r = sum(unicodedata.bidirectional(c) in ("R", "AL") for c in text)
    return r > sum(unicodedata.bidirectional(c) == "L" for c in text)


def visual_order(words: Sequence[str], rtl: bool | None = None) -> list[int]:
    """Indices of ``words`` (one line, logical order) from left to right on screen.

    The Unicode bidi algorithm at word granularity: right-to-left words get odd levels,
    left-to-right words and numbers inside right-to-left text even ones, neutral words the
    level of their neighbours; then runs are reversed from the highest level down (rule L2).
    """
    if rtl is None:
        rtl = is_rtl(" ".join(words))
    base = 1 if rtl else 0
    kinds = [_strong(w) for w in words]
    levels: list[int | None] = []
    prev = "R" if rtl else "L"
    for k in kinds:
        if k == "R":
            levels.append(1)
        elif k == "L":
            levels.append(2 if rtl else 0)
        elif k == "N":
            levels.append(2 if rtl or prev == "R" else 0)
        else:
            levels.append(None)
        if k in ("R", "L"):
            prev = k
    for i, lv in enumerate(levels):  # neutrals between equal levels join them, else the base
        if lv is None:
            before = next((levels[j] for j in range(i - 1, -1, -1) if levels[j] is not None), base)
            after = next(
                (levels[j] for j in range(i + 1, len(levels)) if levels[j] is not None), base
            )
            levels[i] = before if before == after else base
    lv_final = [int(x if x is not None else base) for x in levels]
    order = list(range(len(words)))
    if not order:
        return order
    for level in range(max(lv_final), 0, -1):
        i = 0
        while i < len(order):
            if lv_final[order[i]] >= level:
                j = i
                while j < len(order) and lv_final[order[j]] >= level:
                    j += 1
                order[i:j] = reversed(order[i:j])
                i = j
            else:
                i += 1
    return order


def uses_raqm(font: Font) -> bool:
    return getattr(font, "layout_engine", None) == ImageFont.Layout.RAQM


def shaped(text: str, font: Font) -> str:
    """What to hand Pillow for ``text``: itself under raqm; reshaped and reordered otherwise."""
    if uses_raqm(font) or not any(unicodedata.bidirectional(c) in ("R", "AL") for c in text):
        return text
    from arabic_reshaper import reshape
    from bidi import get_display

    return str(get_display(reshape(text)))


def text_width(font: Font, text: str) -> float:
    """The advance width of ``text`` as :func:`draw_text` draws it."""
    return float(font.getlength(shaped(text, font))) + 2 * faux_bold_px(font) * bool(text)


def draw_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    font: Font,
    fill: Colour,
    *,
    stroke_width: int = 0,
    stroke_fill: Colour | None = None,
) -> None:
    """Draw one run of ``text`` with its left edge at ``xy``: shaped, in visual order, with a
    synthetic bold stroke where the font has no bold weight."""
    shown = shaped(text, font)
    bold = faux_bold_px(font)
    if not bold:
        draw.text(
            xy, shown, font=font, fill=fill, stroke_width=stroke_width, stroke_fill=stroke_fill
        )
        return
    x, y = xy[0] + bold, xy[1]
    if stroke_width:  # the outline around the emboldened glyphs, then the glyphs
        outline = stroke_fill or fill
        draw.text(
            (x, y),
            shown,
            font=font,
            fill=outline,
            stroke_width=stroke_width + bold,
            stroke_fill=outline,
        )
    draw.text((x, y), shown, font=font, fill=fill, stroke_width=bold, stroke_fill=fill)


def font_sources() -> dict[str, str]:
    """Which font file each script is drawn with (bold), for reports and the doctor command."""
    samples = {
        "latin": "Aa",
        "arabic": "عربي",
        "hebrew": "עברית",
        "cjk": "中文かな한글",
        "devanagari": "हिन्दी",
    }
    out = {}
    for script, sample in samples.items():
        f = choose_font_file(sample)
        out[script] = (
            "none" if f is None else f"{f.path}{'' if covers(f, sample) else ' (incomplete)'}"
        )
    return out


# --- fonts, caption look, wrapping and fitting titles (shared by captions, cards, titles) ---

TEXT = (255, 255, 255)
ACCENT = (255, 201, 40)
OUTLINE = (12, 12, 16)
BOX = (10, 12, 20, 165)

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Bold.ttf",
    "/Library/Fonts/Arial Bold.ttf",
    "/System/Library/Fonts/Supplemental/Arial Bold.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
)


def premultiplied(img: Image.Image) -> np.ndarray:
    """``img`` as RGBA uint8 with its colours multiplied by alpha (what overlays blend)."""
    a = np.asarray(img.convert("RGBA"), dtype=np.uint16)
    out = a.copy()
    out[..., :3] = (a[..., :3] * a[..., 3:4] + 127) // 255
    return out.astype(np.uint8)


@dataclass(frozen=True)
class CaptionLook:
    """Colours, size and place of the captions and title bar; a brand template brings its own."""

    text: tuple[int, int, int] = TEXT
    highlight: tuple[int, int, int] = ACCENT
    outline: tuple[int, int, int] = OUTLINE
    box: tuple[int, int, int, int] = BOX
    size: float = 1.0  # × the default caption size
    position: str = "bottom"  # or "lower-middle": centred a little higher
    title_box: tuple[int, int, int, int] = BOX
    title_text: tuple[int, int, int] = TEXT
    title_stripe: tuple[int, int, int] = ACCENT
    title_right_reserve: float = 0.0  # share of the width kept clear at the top right (a logo)
    family: str | None = None


@cache
def _font_path() -> str | None:
    """The Latin caption font's file (see :mod:`tasks.compose.text` for every script)."""
    found = choose_font_file("Aa")
    if found is not None:
        return found.path
    for cand in _FONT_CANDIDATES:
        if Path(cand).is_file():
            return cand
    return None


def caption_font(size: int, text: str = "", family: str | None = None) -> Font:
    """A bold sans font of ``size`` px with glyphs for every character of ``text`` (any script:
    bundled DejaVu / Noto CJK / Noto Devanagari when the system has no Noto fonts)."""
    return font_for(text or "Aa", size, family=family, bold=True)


def _split_long_word(word: str, font: Font, max_w: float) -> list[str]:
    """Break a word wider than ``max_w`` into pieces that fit, the first ones ending in '-'
    (Chinese and Japanese break between characters, without a hyphen)."""
    pieces: list[str] = []
    rest = word
    while rest and text_width(font, rest) > max_w:
        cjk = is_unspaced(rest[0])
        hyphen = "" if cjk else "-"
        cut = 1
        while cut < len(rest) and text_width(font, rest[: cut + 1] + hyphen) <= max_w:
            cut += 1
        while (
            cjk and 1 < cut < len(rest) and not is_cjk_letter(rest[cut]) and not rest[cut].isalnum()
        ):
            cut -= 1  # a stop or comma never starts a line: it goes down with its character
        pieces.append(rest[:cut] + hyphen)
        rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


def wrap_words(words: Sequence[str], font: Font, max_w: float) -> list[list[tuple[int, str]]]:
    """Greedy line wrap of ``words`` in reading (logical) order; each line is a list of
    (word index, text shown). Chinese and Japanese words join without a space."""
    lines: list[list[tuple[int, str]]] = [[]]
    space = text_width(font, " ")
    width = 0.0
    for i, word in enumerate(words):
        for piece in _split_long_word(word, font, max_w):
            w = text_width(font, piece)
            gap = space if lines[-1] and needs_space(lines[-1][-1][1], piece) else 0.0
            if lines[-1] and width + gap + w > max_w:
                lines.append([])
                width, gap = 0.0, 0.0
            width += gap + w
            lines[-1].append((i, piece))
    return [line for line in lines if line]


def title_lines(title: str, font: Font, max_w: float, max_lines: int = 2) -> list[str]:
    """``title`` wrapped to ``max_w`` in reading order (between characters for Chinese and
    Japanese), at most ``max_lines`` lines; a cut last line loses whole words for a "…" and
    still fits. :func:`fit_title` shrinks the font first, so a headline is rarely cut."""
    lines = wrap_words([t for _, _, t in tokens(title)], font, max_w)
    texts = [join_words([t for _, t in ln]) for ln in lines]
    if len(texts) > max_lines:
        keep = [t for _, t in lines[max_lines - 1]]
        while len(keep) > 1 and text_width(font, join_words(keep) + "…") > max_w:
            keep.pop()  # whole words go, never half of one ("…six hours earlie…")
        last = join_words(keep)
        while last and text_width(font, last + "…") > max_w:  # one word wider than the line
            last = last[:-1].rstrip()
        texts = [*texts[: max_lines - 1], last.rstrip(".,;:-–—、，") + "…"]
    return texts


def fit_title(
    title: str,
    size: int,
    max_w: float,
    *,
    family: str | None = None,
    max_lines: int = 2,
    min_scale: float = 0.7,
    make_font: Callable[[int], Font] | None = None,
) -> tuple[Font, list[str]]:
    """The font and lines of a headline: the largest size from ``size`` down to ``min_scale``
    × ``size`` at which ``title`` wraps into ``max_lines`` lines without breaking a word;
    only a title still too long at the smallest size is shortened (whole words, "…").
    ``make_font(px)`` replaces the caption font (a brand's headline family)."""
    words = [t for _, _, t in tokens(title)]
    smallest = max(8, round(size * min_scale))
    s = max(size, smallest)
    while True:
        font = make_font(s) if make_font is not None else caption_font(s, title, family)
        lines = wrap_words(words, font, max_w)
        pieces = [i for line in lines for i, _ in line]
        if len(lines) <= max_lines and len(pieces) == len(set(pieces)):  # every word whole
            return font, [join_words([t for _, t in ln]) for ln in lines]
        if s <= smallest:
            return font, title_lines(title, font, max_w, max_lines)
        s = max(smallest, int(s * 0.92))


def line_layout(
    line: Sequence[tuple[int, str]], font: Font, rtl: bool
) -> tuple[list[tuple[int, str, float]], float]:
    """A wrapped line in display order: (word index, text, x from the line's left edge) from
    left to right, and the line's width. Right-to-left runs are reversed word by word (the
    first word of an Arabic line is at its right end); each word is shaped when drawn."""
    order = visual_order([t for _, t in line], rtl)
    space = text_width(font, " ")
    placed: list[tuple[int, str, float]] = []
    x = 0.0
    for n, k in enumerate(order):
        i, text = line[k]
        if n:
            a, b = sorted((order[n - 1], k))
            x += space if needs_space(line[a][1], line[b][1]) else 0.0
        placed.append((i, text, x))
        x += text_width(font, text)
    return placed, x
