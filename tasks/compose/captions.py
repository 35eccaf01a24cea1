"""Caption lines from word timings, and their SRT / WebVTT forms.

Any script: Chinese and Japanese "words" (eSpeak reads them a character at a time) are
joined without spaces and measured in display columns (a CJK character is two), and the
CJK and Arabic stops and commas break lines like their Latin counterparts. Caption text is
kept in logical (reading) order; SRT and WebVTT are UTF-8 in that order too, and players
lay right-to-left text out themselves.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from novaavatar.domain import WordTiming
from novaavatar.languages import (
    CLOSERS,
    COMMAS,
    SENTENCE_ENDS,
    ends_sentence,
    is_unspaced,
    join_words,
)

PAUSE_S = 0.35  # a silence this long between words starts a new caption
LINGER_S = 0.6  # a caption stays up this long after its last word unless the next one starts
_SENTENCE_END = (*SENTENCE_ENDS, ":", ";", "：", "；")


@dataclass(frozen=True)
class Caption:
    """One caption line: the words it shows and when it is on screen."""

    index: int
    start: float
    end: float
    words: tuple[WordTiming, ...]

    @property
    def text(self) -> str:
        return join_words([w.word for w in self.words])


def columns(text: str) -> int:
    """Display width of ``text`` in columns: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def build_captions(
    words: Sequence[WordTiming], max_chars: int = 32, max_words: int = 6
) -> list[Caption]:
    """Group words into short caption lines, breaking at sentence ends, pauses and the limits.

    ``max_chars`` counts display columns (a CJK character is two); ``max_words`` counts
    spaced words only, since a Chinese or Japanese "word" may be a single character.
    """
    if max_chars < 1 or max_words < 1:
        raise ValueError(f"max_chars={max_chars}, max_words={max_words}: both must be >= 1")
    groups: list[list[WordTiming]] = []
    current: list[WordTiming] = []
    for w in sorted((w for w in words if w.word.strip()), key=lambda w: w.start):
        if current:
            prev = current[-1]
            chars = columns(join_words([x.word for x in (*current, w)]))
            spaced = sum(1 for x in current if not is_unspaced(x.word[0]))
            # a CJK sentence may run two characters over rather than leave "す。" alone
            unspaced_end = not spaced and is_unspaced(w.word[0]) and ends_sentence(w.word)
            if (
                spaced >= max_words
                or (chars > max_chars and not (unspaced_end and chars <= max_chars + 4))
                or prev.word.rstrip(CLOSERS).endswith(_SENTENCE_END)
                or w.start - prev.end > PAUSE_S
                or (
                    prev.word.rstrip(CLOSERS).endswith(COMMAS)
                    and (
                        spaced >= max(2, max_words // 2)
                        if spaced
                        else columns(join_words([x.word for x in current])) >= max_chars // 2
                    )
                )
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
