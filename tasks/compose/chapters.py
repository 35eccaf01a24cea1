"""Chapters of an explainer: scene titles and start times, in the MP4, as WebVTT, as a list.

The MP4 gets them as container chapters (an FFMETADATA file muxed in with stream copy: the
picture and sound are not re-encoded), which players and YouTube's uploader read; the WebVTT
chapters file serves web players; :func:`timestamps` is the ``0:00 Title`` list a video
description carries.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from novaavatar.domain import Chapter, ScriptScene, SpeechSegment
from novaavatar.media import MP4_OUT, ffmpeg_exe, ffmpeg_into
from tasks.compose.captions import _timestamp

_CHAPTER_RE = re.compile(
    r"Chapter #\d+[:.]\d+: start (-?[\d.]+), end (-?[\d.]+)\s*\n"
    r"(?:\s*Metadata:\s*\n\s*title\s*:\s*(.*))?"
)


def chapters_for(
    scenes: Sequence[ScriptScene], segments: Sequence[SpeechSegment], duration_s: float
) -> tuple[Chapter, ...]:
    """One chapter per scene, from the speech segments; the last ends with the video."""
    by_scene = {s.scene: s for s in segments}
    if not scenes or len(by_scene) < len(scenes):
        return ()
    out = []
    for i, scene in enumerate(scenes):
        start = 0.0 if i == 0 else by_scene[i].start
        end = duration_s if i == len(scenes) - 1 else by_scene[i + 1].start
        title = " ".join(scene.title.split()) or f"Part {i + 1}"
        out.append(Chapter(title=title, start=round(start, 3), end=round(max(end, start), 3)))
    return tuple(out)


def shifted(chapters: Sequence[Chapter], offset_s: float, duration_s: float) -> tuple[Chapter, ...]:
    """Chapters moved later by ``offset_s`` (an intro card before the speech); the first still
    starts at 0 and the last ends with the video."""
    out = []
    for i, c in enumerate(chapters):
        start = 0.0 if i == 0 else c.start + offset_s
        end = duration_s if i == len(chapters) - 1 else c.end + offset_s
        out.append(c.model_copy(update={"start": round(start, 3), "end": round(end, 3)}))
    return tuple(out)


def _escape(value: str) -> str:
    """FFMETADATA escaping: '=', ';', '#', '\\' and newlines get a backslash."""
    return re.sub(r"([=;#\\\n])", r"\\\1", value)


def ffmetadata(chapters: Sequence[Chapter]) -> str:
    """The FFMETADATA1 text for ``chapters`` (millisecond time base)."""
    lines = [";FFMETADATA1"]
    for c in chapters:
        lines += [
            "[CHAPTER]",
            "TIMEBASE=1/1000",
            f"START={round(c.start * 1000)}",
            f"END={round(c.end * 1000)}",
            f"title={_escape(c.title)}",
        ]
    return "\n".join(lines) + "\n"


def write_chapters(mp4: Path, chapters: Sequence[Chapter]) -> None:
    """Put ``chapters`` into ``mp4`` in place (stream copy, atomic replace)."""
    mp4 = Path(mp4)
    meta = mp4.with_name(f".{mp4.stem}.chapters-{os.getpid()}.txt")
    meta.write_text(ffmetadata(chapters), encoding="utf-8")
    try:
        ffmpeg_into(
            mp4,
            [
                "-i",
                str(mp4),
                "-f",
                "ffmetadata",
                "-i",
                str(meta),
                "-map",
                "0",
                "-map_metadata",
                "0",
                "-map_chapters",
                "1",
                "-c",
                "copy",
                *MP4_OUT,
            ],
            lambda _code, err: RuntimeError(f"ffmpeg could not add chapters to {mp4}: {err}"),
        )
    finally:
        meta.unlink(missing_ok=True)


def read_chapters(path: Path) -> list[Chapter]:
    """The chapters an MP4 carries, as ffmpeg reads them back."""
    res = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        check=False,
    )
    text = res.stderr.decode("utf-8", "replace")
    return [
        Chapter(
            title=(m.group(3) or "").strip() or "?", start=float(m.group(1)), end=float(m.group(2))
        )
        for m in _CHAPTER_RE.finditer(text)
    ]


def to_vtt_chapters(chapters: Sequence[Chapter]) -> str:
    """A WebVTT chapters file: one cue per chapter, its title as the text."""
    cues = [
        f"Chapter {i}\n{_timestamp(c.start, '.')} --> {_timestamp(c.end, '.')}\n"
        f"{c.title.replace('-->', '->')}\n"
        for i, c in enumerate(chapters, start=1)
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def timestamps(chapters: Sequence[Chapter]) -> str:
    """``0:00 Intro`` lines, as a YouTube description lists chapters (the first at 0:00)."""

    def mmss(t: float) -> str:
        s = int(t)
        h, rest = divmod(s, 3600)
        m, sec = divmod(rest, 60)
        return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"

    return "\n".join(f"{mmss(c.start)} {c.title}" for c in chapters)
