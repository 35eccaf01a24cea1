"""Quality checks on a finished video; the report goes into the manifest and the review page."""

from __future__ import annotations

import itertools

import numpy as np

from novaavatar.domain import (
    ASPECT_SIZES,
    FinalVideo,
    GeneratedAudio,
    ProduceOptions,
    QualityCheck,
    QualityReport,
    VideoScript,
)
from novaavatar.media import extract_frame, probe, read_audio
from novaavatar.store import ArtifactStore

SYNC_TOLERANCE_S = 0.25
DURATION_TOLERANCE = 0.35  # ±35 % of the requested length
SILENCE_DBFS = -45.0


def _dbfs(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return 20 * np.log10(max(rms, 1e-9))


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
    drift = abs(info.duration_s - audio.duration_s)
    add(
        "av_sync",
        drift <= SYNC_TOLERANCE_S,
        round(drift, 3),
        f"video and speech lengths differ by ≤ {SYNC_TOLERANCE_S} s",
    )
    ratio = audio.duration_s / video_script.target_duration_s
    add(
        "duration",
        abs(ratio - 1) <= DURATION_TOLERANCE,
        round(audio.duration_s, 2),
        f"target {video_script.target_duration_s:g} s ±{DURATION_TOLERANCE:.0%}",
    )
    samples = read_audio(path)
    level = _dbfs(samples)
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    add(
        "audio_level",
        level > SILENCE_DBFS,
        round(level, 1),
        f"speech RMS above {SILENCE_DBFS} dBFS",
    )
    add("audio_clipping", peak < 0.999, round(peak, 3), "no clipped samples")
    times = [info.duration_s * f for f in (0.2, 0.5, 0.8)]
    frames = [extract_frame(path, t).astype(np.float32) for t in times]
    brightness = min(float(f.mean()) for f in frames)
    add("not_black", brightness > 12, round(brightness, 1), "frames are not black")
    motion = max(float(np.abs(a - b).mean()) for a, b in itertools.pairwise(frames))
    add("not_frozen", motion > 0.05, round(motion, 3), "frames change over time")
    covered = sum(w.end - w.start for w in audio.words)
    add(
        "captions",
        bool(audio.words) and store.exists(final.srt_key),
        len(audio.words),
        f"word timings cover {covered:.1f} s of speech",
    )
    return QualityReport(checks=tuple(checks))
