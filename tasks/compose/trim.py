"""Trim: cut the start and end off a composed video without rendering it again.

Only the final MP4 is re-encoded (the avatar render is not touched); the captions and an
explainer's chapters are moved to the cut's timeline, and the speech the quality checks
compare against is what the cut keeps of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from novaavatar.domain import Chapter, FinalVideo, GeneratedAudio, VideoManifest, WordTiming
from novaavatar.errors import InputError
from novaavatar.media import MP4_OUT, aac_args, ffmpeg_into, h264_args, probe
from novaavatar.store import ArtifactStore

MIN_KEPT_S = 1.0
FADE_S = 0.03  # a cut mid-word must not click


@dataclass(frozen=True)
class Window:
    """The seconds of the untrimmed video that are kept."""

    start_s: float
    end_s: float

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


def window(untrimmed: FinalVideo, start_s: float, end_s: float | None) -> Window:
    """The cut, checked against the video's length; InputError naming what does not fit."""
    length = untrimmed.duration_s
    end = length if end_s is None else end_s
    if start_s < 0 or end < 0:
        raise InputError(f"start {start_s:g} s / end {end:g} s: seconds are not negative")
    if end > length + 0.05:
        raise InputError(f"end {end:g} s is past the video's end ({length:.2f} s)")
    end = min(end, length)
    if end - start_s < MIN_KEPT_S:
        raise InputError(
            f"start {start_s:g} s and end {end:g} s keep {max(end - start_s, 0):.2f} s: "
            f"keep at least {MIN_KEPT_S:g} s of the {length:.2f} s video"
        )
    if start_s == 0 and end >= length - 0.01:
        raise InputError("the cut keeps the whole video: give a later start or an earlier end")
    return Window(round(start_s, 3), round(end, 3))


def cut(src: Path, out: Path, w: Window, crf: int, preset: str) -> None:
    """Re-encode ``src`` from ``w.start_s`` to ``w.end_s`` into ``out`` (H.264 + AAC), with
    a short audio fade at both cuts; atomic."""
    fade_out = max(w.length_s - FADE_S, 0)
    ffmpeg_into(
        out,
        [
            "-ss",
            f"{w.start_s:.3f}",
            "-i",
            str(src),
            "-t",
            f"{w.length_s:.3f}",
            "-map",
            "0:v:0",
            "-map",
            "0:a:0",
            "-map_chapters",
            "-1",
            *h264_args(crf, preset),
            "-af",
            f"afade=t=in:d={FADE_S},afade=t=out:st={fade_out:.3f}:d={FADE_S}",
            *aac_args(),
            *MP4_OUT,
        ],
        lambda code, err: InputError(f"cannot trim {src.name}: ffmpeg exit {code}: {err}"),
    )
    _hold_peaks(out)


def _hold_peaks(mp4: Path) -> None:
    """Encoding the cut's AAC again can push a peak over −1 dBTP: dip the speech there, as
    compose does (the picture is copied, not encoded again)."""
    import soundfile as sf

    from novaavatar.media import read_audio
    from tasks.compose.video import SPEECH_RATE, _hold_true_peak

    speech = mp4.with_name(f"{mp4.stem}-speech.wav")
    try:
        sf.write(speech, read_audio(mp4, SPEECH_RATE), SPEECH_RATE, subtype="FLOAT")
        _hold_true_peak(mp4, speech)
    finally:
        speech.unlink(missing_ok=True)


def spoken_words(store: ArtifactStore, manifest: VideoManifest) -> tuple[WordTiming, ...]:
    """The speech stage's word timings (seconds into the speech), () when it kept none."""
    record = manifest.stages.get("speech")
    for key in record.keys if record else ():
        if key.rsplit("/", 1)[-1].startswith("timings") and store.exists(key):
            words = json.loads(store.get_bytes(key)).get("words", [])
            return tuple(WordTiming.model_validate(w) for w in words)
    return ()


def kept_speech(
    untrimmed: FinalVideo, words: tuple[WordTiming, ...], w: Window, key: str
) -> GeneratedAudio:
    """What the cut keeps of the speech, on the cut's timeline: the words wholly inside it
    and the length of speech between the cut's cards (what the A/V sync check expects)."""
    start = untrimmed.intro_s  # the speech starts after the brand's intro card
    end = untrimmed.duration_s - untrimmed.outro_s
    kept = max(min(w.end_s, end) - max(w.start_s, start), 0.0)
    if kept <= 0:
        raise InputError(
            f"the cut {w.start_s:g}-{w.end_s:g} s keeps none of the speech "
            f"({start:.2f}-{end:.2f} s): keep some of it"
        )
    moved = tuple(
        WordTiming(word=x.word, start=x.start + start - w.start_s, end=x.end + start - w.start_s)
        for x in words
        if x.start + start >= w.start_s and x.end + start <= w.end_s
    )
    return GeneratedAudio(key=key, duration_s=round(kept, 3), words=moved, provider="trim")


def cut_chapters(chapters: tuple[Chapter, ...], w: Window) -> tuple[Chapter, ...]:
    """An explainer's chapters inside the cut, moved to its timeline."""
    out = []
    for c in chapters:
        if c.end <= w.start_s or c.start >= w.end_s:
            continue
        start = max(c.start, w.start_s) - w.start_s
        end = min(c.end, w.end_s) - w.start_s
        out.append(c.model_copy(update={"start": round(start, 3), "end": round(end, 3)}))
    return tuple(out)


def trimmed_final(untrimmed: FinalVideo, w: Window, out: Path, keys: dict[str, str]) -> FinalVideo:
    """The FinalVideo record of the cut written to ``out`` (keys: video, srt, vtt,
    chapters)."""
    info = probe(out)
    speech_end = untrimmed.duration_s - untrimmed.outro_s
    return FinalVideo(
        key=keys["video"],
        srt_key=keys["srt"],
        vtt_key=keys["vtt"],
        width=info.width,
        height=info.height,
        fps=info.fps,
        duration_s=info.duration_s,
        size_bytes=out.stat().st_size,
        intro_s=round(max(untrimmed.intro_s - w.start_s, 0.0), 3),
        outro_s=round(max(w.end_s - speech_end, 0.0), 3),
        chapters=cut_chapters(untrimmed.chapters, w),
        chapters_key=keys.get("chapters"),
    )
