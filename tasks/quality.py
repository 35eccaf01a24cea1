"""Quality checks on a finished video; the report goes into the manifest and the review page.

Every check measures the final file itself (decoded frames, decoded audio, the SRT in the store),
so it holds for any avatar provider. A check that cannot be measured fails; it never passes
silently.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from novaavatar.domain import (
    ASPECT_SIZES,
    MIN_EXPLAINER_S,
    FinalVideo,
    GeneratedAudio,
    ProduceOptions,
    QualityCheck,
    QualityReport,
    VideoScript,
)
from novaavatar.errors import InputError
from novaavatar.hygiene import script_problems
from novaavatar.languages import LANGUAGES, foreign_sentences, split_sentences
from novaavatar.media import (
    MediaInfo,
    extract_frame,
    iter_frames,
    measure_loudness,
    probe,
    read_audio,
)
from novaavatar.store import ArtifactStore
from tasks.render.lipsync import LipSyncMeasure, lip_track, measure

SYNC_TOLERANCE_S = 0.25
DURATION_TOLERANCE = 0.35  # ±35 % of the requested length
SILENCE_DBFS = -45.0
TARGET_LUFS = -16.0
LUFS_TOLERANCE = 1.0
MAX_TRUE_PEAK_DBTP = -1.0
LIP_ANALYSIS_WIDTH = 720  # frames are decoded at most this wide for the face mesh
BLACK_LUMA = 16.0  # mean 8-bit luma of a black frame
MAX_BLACK_S = 0.5
MAX_FROZEN_S = 2.0
FROZEN_CHANGE = 2.0  # no analysis cell changes its mean luma by this much: encoder noise only
MIN_CAPTION_COVERAGE = 0.9
MIN_LABEL_MATCH = 0.7  # the AI label's pixels against the expected ones (wrong language: ~0.3)

ANALYSIS_WIDTH = 192  # frames are analysed scaled to this width, in luma only
CELL = 6  # px of the analysis frame per motion cell
_SRT_TIME = re.compile(r"(\d+):(\d\d):(\d\d)[,.](\d{3})\s*-->\s*(\d+):(\d\d):(\d\d)[,.](\d{3})")


@dataclass(frozen=True)
class FrameStats:
    """What the frame checks need, from one decoding pass over the video."""

    fps: float
    cells: np.ndarray  # n × rows × cols mean luma per cell
    mean_luma: np.ndarray  # n
    change: np.ndarray  # n-1: largest per-cell mean luma change between consecutive frames


def frame_stats(path: object, fps: float) -> FrameStats:
    """Decode the video once at low resolution; per-frame cell lumas, brightness and change."""
    cells, means = [], []
    for gray in iter_frames(path, width=ANALYSIS_WIDTH, gray=True):  # type: ignore[arg-type]
        h, w = gray.shape
        cells.append(cv2.resize(gray, (w // CELL, h // CELL), interpolation=cv2.INTER_AREA))
        means.append(float(gray.mean()))
    arr = np.asarray(cells, dtype=np.float32)
    change = np.abs(np.diff(arr, axis=0)).max(axis=(1, 2)) if len(arr) > 1 else np.zeros(0)
    return FrameStats(fps=fps, cells=arr, mean_luma=np.asarray(means), change=change)


def _longest_run(mask: np.ndarray) -> int:
    best = run = 0
    for v in mask:
        run = run + 1 if v else 0
        best = max(best, run)
    return best


def speech_envelope(samples: np.ndarray, rate: int, n_frames: int, fps: float) -> np.ndarray:
    """Per-video-frame loudness of the speech in dB, floored 30 dB under its loudest frame."""
    hop = rate / fps
    idx = (np.arange(n_frames + 1) * hop).astype(int)
    sq = np.concatenate([[0.0], np.cumsum(samples.astype(np.float64) ** 2)])
    idx = np.minimum(idx, samples.size)
    power = (sq[idx[1:]] - sq[idx[:-1]]) / np.maximum(idx[1:] - idx[:-1], 1)
    db = 10 * np.log10(power + 1e-12)
    return np.maximum(db, db.max() - 30.0)


def lip_sync(
    path: Path,
    envelope: np.ndarray,
    fps: float,
    start: int = 0,
    stop: int | None = None,
    presenter: str = "photo",
) -> LipSyncMeasure:
    """How the presenter's lips follow the speech in frames ``start``..``stop`` of the video,
    measured with the face mesh (see :mod:`tasks.render.lipsync`), against the thresholds
    for a ``photo`` or ``drawn`` presenter."""
    info = probe(path)
    width = min(info.width, LIP_ANALYSIS_WIDTH) // 2 * 2
    frames = itertools.islice(iter_frames(path, width=width), start, stop)
    openings, seam = lip_track(frames, warp_edges=presenter == "photo")
    return measure(openings, envelope[start : start + len(openings)], fps, seam, presenter)


def presenter_kind(options: ProduceOptions) -> str:
    """``photo`` when every presenter on screen is a portrait (the issue's thresholds apply),
    else ``drawn``: a conversation with one drawn presenter is judged as drawn."""
    portraits = [options.portrait_key]
    if options.format == "conversation":
        portraits.append(options.guest_portrait_key)
    return "photo" if all(portraits) else "drawn"


def caption_coverage(srt: str, envelope: np.ndarray, fps: float) -> float:
    """Share of the frames with speech (within 25 dB of the loudest) that show a caption."""
    spans = []
    for m in _SRT_TIME.finditer(srt):
        g = [int(v) for v in m.groups()]
        spans.append(
            (
                g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000,
                g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000,
            )
        )
    voiced = envelope > envelope.max() - 25.0
    if not voiced.any():
        return 0.0
    t = (np.arange(len(envelope)) + 0.5) / fps
    shown = np.zeros(len(envelope), dtype=bool)
    for a, b in spans:
        shown |= (t >= a) & (t < b)
    return float((shown & voiced).sum() / voiced.sum())


def length_fits(seconds: float, ratio: float, options: ProduceOptions) -> bool:
    """Within ±35 % of the target; an explainer may also be shorter than its target down to
    its format's minimum (a thin item gives fewer scenes rather than invented facts)."""
    if options.format == "explainer":
        shortest = MIN_EXPLAINER_S * (1 - DURATION_TOLERANCE)
        return seconds >= shortest and ratio <= 1 + DURATION_TOLERANCE
    return abs(ratio - 1) <= DURATION_TOLERANCE


def explainer_range_note(options: ProduceOptions) -> str:
    if options.format != "explainer":
        return ""
    shortest = MIN_EXPLAINER_S * (1 - DURATION_TOLERANCE)
    return f" (an explainer may run shorter, down to {shortest:g} s)"


def chapters_check(path: Path, video_script: VideoScript, final: FinalVideo) -> QualityCheck:
    """An explainer's MP4 carries one chapter per scene, the first at 0 s."""
    from tasks.compose.chapters import read_chapters

    found = read_chapters(path)
    want = len(video_script.scenes)
    ok = len(found) == want and bool(found) and found[0].start <= 0.01
    titles = " | ".join(c.title for c in found)[:300]
    return QualityCheck(
        name="chapters",
        passed=ok,
        value=len(found),
        detail=f"{want} scenes → {want} chapters starting at 0 s; found: {titles or 'none'}",
    )


def ai_label_check(path: Path, info: MediaInfo, language: str) -> QualityCheck:
    """The AI-generated label, in the video's language, is on the first, middle and last frame.

    The label's expected picture is held against each frame's corner: the correlation of
    their luma is about 0.98 where it is drawn, about 0.3 for another language's label and
    undefined (a fail) on a plain corner.
    """
    from novaavatar.languages import ai_label
    from tasks.compose.label import render_ai_label

    img, x, y = render_ai_label(language, info.width, info.height)
    h, w = img.shape[:2]
    alpha = img[..., 3].astype(np.float64) / 255
    luma = img[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    expected = (luma + 128 * (1 - alpha)).ravel()  # as it shows over a mid-grey picture
    # the last half second, not the container's end: the sound can outlast the last frame
    times = (0.05, info.duration_s / 2, max(info.duration_s - 0.5, 0.0))
    scores = []
    for t in times:
        try:
            corner = extract_frame(path, t)[y : y + h, x : x + w].astype(np.float64)
        except InputError:  # no frame there: measured as missing, never raised
            scores.append(0.0)
            continue
        seen = (corner @ np.array([0.299, 0.587, 0.114])).ravel()
        if corner.shape[:2] != (h, w) or seen.std() < 1e-6:
            scores.append(0.0)
            continue
        scores.append(float(np.corrcoef(expected, seen)[0, 1]))
    worst = min(scores)
    return QualityCheck(
        name="ai_label",
        passed=bool(np.isfinite(worst) and worst >= MIN_LABEL_MATCH),
        value=round(worst, 2) if np.isfinite(worst) else None,
        detail=f"the label {ai_label(language)!r} shows in the top right corner of the first, "
        f"middle and last second's frames (match ≥ {MIN_LABEL_MATCH:g} in each: "
        + ", ".join(f"{v:.2f}" for v in scores)
        + ")",
    )


def assess(
    store: ArtifactStore,
    final: FinalVideo,
    audio: GeneratedAudio,
    video_script: VideoScript,
    options: ProduceOptions,
) -> QualityReport:
    """Run every check; a failed check is reported, never raised."""
    path = store.materialize(final.key)
    info = probe(path)
    checks: list[QualityCheck] = []

    def add(name: str, passed: bool, value: float | str | None, detail: str) -> None:
        checks.append(QualityCheck(name=name, passed=bool(passed), value=value, detail=detail))

    add(
        "streams",
        info.has_video and info.has_audio and info.video_codec == "h264",
        f"{info.video_codec}/{info.audio_codec or 'none'}",
        "H.264 video and an audio track",
    )
    want = ASPECT_SIZES[options.aspect]
    add(
        "resolution",
        (info.width, info.height) == want,
        f"{info.width}x{info.height}",
        f"expected {want[0]}x{want[1]}",
    )
    cards = final.intro_s + final.outro_s  # a brand's intro and end cards frame the speech
    spoken = info.duration_s - cards
    drift = abs(spoken - audio.duration_s)
    add(
        "av_sync",
        drift <= SYNC_TOLERANCE_S,
        round(drift, 3),
        f"video and speech lengths differ by ≤ {SYNC_TOLERANCE_S} s"
        + (f" (after {cards:.2f} s of intro/outro cards)" if cards else ""),
    )
    ratio = spoken / video_script.target_duration_s
    if video_script.provider == "manual":  # the upload or typed text sets the length
        add("duration", True, round(info.duration_s, 2), "manual creation: no target length")
    else:
        add(
            "duration",
            length_fits(spoken, ratio, options),
            round(info.duration_s, 2),
            f"target {video_script.target_duration_s:g} s ±{DURATION_TOLERANCE:.0%}"
            + explainer_range_note(options)
            + (f" for the speech ({spoken:.1f} s between the cards)" if cards else ""),
        )
    add(
        "grounding",
        not video_script.ungrounded,
        len(video_script.ungrounded),
        "; ".join(video_script.ungrounded)[:500]
        or "every number, name and quote is in the sources",
    )
    foreign = foreign_sentences(video_script.text, options.language)
    lang = LANGUAGES[options.language].name
    add(
        "language",
        not foreign,
        len(foreign),
        (
            f"{len(foreign)} of {len(split_sentences(video_script.text))} sentences are not in "
            f"{lang} (taken for {foreign[0][1]}: {foreign[0][0][:80]!r}); the offline script "
            "cannot translate: set OPENAI_API_KEY"
            if foreign
            else f"every sentence is in {lang}"
        ),
    )
    problems = script_problems(video_script.text)
    add(
        "script_text",
        not problems,
        len(problems),
        "; ".join(problems)[:500] or "no boilerplate, run-on sentence, URL or markup is read aloud",
    )
    rate = 16000
    samples = read_audio(path, rate) if info.has_audio else np.zeros(0, np.float32)
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    level = 20 * np.log10(max(rms, 1e-9))
    add(
        "audio_level",
        level > SILENCE_DBFS,
        round(level, 1),
        f"speech RMS above {SILENCE_DBFS} dBFS",
    )
    # BS.1770 at the file's own rate: resampling to 16 kHz would hide true peaks
    loud = (
        measure_loudness(read_audio(path, 48000), 48000)
        if info.has_audio
        else measure_loudness(samples, rate)
    )
    lufs = round(loud.integrated_lufs, 1) if np.isfinite(loud.integrated_lufs) else None
    add(
        "loudness",
        lufs is not None and abs(lufs - TARGET_LUFS) <= LUFS_TOLERANCE,
        lufs,
        f"integrated {TARGET_LUFS:g} ±{LUFS_TOLERANCE:g} LUFS",
    )
    tp = round(loud.true_peak_dbtp, 1) if np.isfinite(loud.true_peak_dbtp) else None
    add(
        "true_peak",
        tp is None or tp <= MAX_TRUE_PEAK_DBTP,
        tp,
        f"true peak ≤ {MAX_TRUE_PEAK_DBTP:g} dBTP",
    )

    fps = info.fps if info.fps > 0 else 25.0
    stats = frame_stats(path, fps)
    n = len(stats.mean_luma)
    black = _longest_run(stats.mean_luma < BLACK_LUMA) / fps
    add(
        "not_black",
        n > 0 and black <= MAX_BLACK_S,
        round(black, 2),
        f"no black stretch over {MAX_BLACK_S} s",
    )
    frozen = (_longest_run(stats.change < FROZEN_CHANGE) + 1) / fps if n > 1 else n / fps
    add(
        "not_frozen",
        n > 1 and frozen <= MAX_FROZEN_S,
        round(frozen, 2),
        f"the picture never stands still over {MAX_FROZEN_S} s",
    )
    envelope = speech_envelope(samples, rate, n, fps) if samples.size else np.zeros(n)
    # the presenter is on screen between the cards: measure the lips there
    a, b = round(final.intro_s * fps), n - round(final.outro_s * fps)
    if samples.size and rms > 0:
        lips = lip_sync(path, envelope, fps, a, b, presenter_kind(options))
        add("lip_sync", lips.passed, round(lips.correlation, 2), lips.describe())
    else:
        add("lip_sync", False, None, "no speech to follow")
    srt = (
        store.get_bytes(final.srt_key).decode("utf-8", "replace")
        if store.exists(final.srt_key)
        else ""
    )
    coverage = caption_coverage(srt, envelope, fps) if n and samples.size and rms > 0 else 0.0
    add(
        "captions",
        bool(audio.words) and coverage >= MIN_CAPTION_COVERAGE,
        round(coverage, 2),
        f"captions on screen for ≥ {MIN_CAPTION_COVERAGE:.0%} of the speech "
        f"({len(audio.words)} timed words)",
    )
    if info.has_video and info.width > 0 and info.height > 0:
        checks.append(ai_label_check(path, info, options.language))
    else:
        add("ai_label", False, None, "no picture to carry the AI-generated label")
    if video_script.scenes:  # an explainer: its chapters are in the file
        checks.append(chapters_check(path, video_script, final))
    return QualityReport(checks=tuple(checks))
