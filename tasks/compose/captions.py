"""Caption lines from word timings, and their SRT / WebVTT forms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from novaavatar.domain import WordTiming

PAUSE_S = 0.35  # a silence this long between words starts a new caption
LINGER_S = 0.6  # a caption stays up this long after its last word unless the next one starts
_SENTENCE_END = (".", "!", "?", "…", ":", ";")


@dataclass(frozen=True)
class Caption:
    """One caption line: the words it shows and when it is on screen."""

    index: int
    start: float
    end: float
    words: tuple[WordTiming, ...]

    @property
    def text(self) -> str:
        return " ".join(w.word for w in self.words)


def build_captions(
    words: Sequence[WordTiming], max_chars: int = 32, max_words: int = 6
) -> list[Caption]:
    """Group words into short caption lines, breaking at sentence ends, pauses and the limits."""
    if max_chars < 1 or max_words < 1:
        raise ValueError(f"max_chars={max_chars}, max_words={max_words}: both must be >= 1")
    groups: list[list[WordTiming]] = []
    current: list[WordTiming] = []
    for w in sorted((w for w in words if w.word.strip()), key=lambda w: w.start):
        if current:
            prev = current[-1]
            chars = sum(len(x.word) for x in current) + len(current) + len(w.word)
            if (
                len(current) >= max_words
                or chars > max_chars
                or prev.word.rstrip("\"')»”’").endswith(_SENTENCE_END)
                or w.start - prev.end > PAUSE_S
                or (prev.word.endswith(",") and len(current) >= max(2, max_words // 2))
            ):
                groups.append(current)
                current = []
        current.append(w)
    if current:
        groups.append(current)
    captions: list[Caption] = []
    for i, g in enumerate(groups):
        start = g[0].start
        end = max(g[-1].end, start + 0.3) + LINGER_S
        if i + 1 < len(groups):
            end = min(end, groups[i + 1][0].start)
        end = max(end, start + 0.05)
        captions.append(Caption(index=i + 1, start=start, end=end, words=tuple(g)))
    return captions


def _timestamp(t: float, sep: str) -> str:
    ms = round(max(0.0, t) * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(captions: Sequence[Caption]) -> str:
    """SubRip text: numbered cues with ``HH:MM:SS,mmm`` times."""
    blocks = [
        f"{n}\n{_timestamp(c.start, ',')} --> {_timestamp(c.end, ',')}\n{c.text}\n"
        for n, c in enumerate(captions, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(captions: Sequence[Caption]) -> str:
    """WebVTT text: a ``WEBVTT`` header and cues with ``HH:MM:SS.mmm`` times."""
    blocks = [
        f"{_timestamp(c.start, '.')} --> {_timestamp(c.end, '.')}\n{c.text.replace('-->', '->')}\n"
        for c in captions
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)
