"""How well a rendered face speaks, measured on the output frames with the face mesh.

Per frame the inner-lip distance is taken as a share of the face height (the same landmark
module the renderer uses); it is set against the speech envelope: correlation and best lag,
the opening's range, whether the lips close in pauses, and whether the warp left a seam
(a step at the edge of the moving region that the still photo does not have).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from tasks.render.landmarks import FACE_OVAL, FaceMesh, MeshTracker, presenter_faces

MIN_CORRELATION = 0.5  # what the photo presenter reaches on every test photo (tests assert it)
GATE_MIN_CORRELATION = 0.4  # the quality gate: below this the mouth does not follow the speech
MAX_LAG_FRAMES = 1
MIN_OPENING_RANGE = 0.06  # p95 − p5 of the lip opening, share of the face height (photo tests)
GATE_MIN_OPENING_RANGE = 0.05  # the quality gate (a small drawn presenter in a window reads lower)
MIN_CLOSED_IN_PAUSES = 0.7
CLOSED_OPENING = (
    0.03  # closed lips: the mesh reads a closed smiling mouth at up to ~0.02 of face height
)
MAX_SEAM = 2.0  # luma levels of frame-to-frame change, inside vs outside an edge
SILENCE_BELOW_PEAK_DB = 25.0
ENVELOPE_SMOOTH_S = 0.04  # Gaussian sigma applied to the speech envelope before correlating
SEAM_RADII = tuple(
    np.round(np.arange(1.45, 1.96, 0.05), 2)
)  # past the face oval and the chin's travel


@dataclass(frozen=True)
class LipSyncMeasure:
    """What :func:`measure` found; ``passed`` applies the thresholds above."""

    correlation: float  # of the lip opening with the speech envelope, at the best lag
    lag_frames: int  # > 0: the picture comes after the sound
    opening_range: float
    closed_in_pauses: float  # share of silent frames with closed lips (1.0 when no pause)
    seam: float
    face_share: float  # frames where a face was found
    fps: float = 25.0

    @property
    def passed(self) -> bool:
        return (
            self.face_share >= 0.9
            and self.correlation >= GATE_MIN_CORRELATION
            and abs(self.lag_frames) <= MAX_LAG_FRAMES
            and self.opening_range >= GATE_MIN_OPENING_RANGE
            and self.closed_in_pauses >= MIN_CLOSED_IN_PAUSES
            and self.seam <= MAX_SEAM
        )

    def describe(self) -> str:
        return (
            f"lip opening vs speech r={self.correlation:.2f} at lag {self.lag_frames:+d} frames "
            f"({self.lag_frames / self.fps:+.2f} s) "
            f"(≥ {GATE_MIN_CORRELATION}, within ±{MAX_LAG_FRAMES}); "
            f"opening range {self.opening_range:.3f} "
            f"of face height (≥ {GATE_MIN_OPENING_RANGE}); "
            f"lips closed in {self.closed_in_pauses:.0%} of "
            f"pauses (≥ {MIN_CLOSED_IN_PAUSES:.0%}); seam {self.seam:.1f} (≤ {MAX_SEAM:g}); "
            f"face found in {self.face_share:.0%} of frames"
        )


def _ring_samples(mesh: FaceMesh, scale: float, n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Points just inside and just outside an ellipse ``scale`` × the face oval (1.5 px each
    way).
    """
    oval = mesh.xy[list(FACE_OVAL)]
    centre = oval.mean(0)
    half = (oval.max(0) - oval.min(0)) / 2
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    unit = np.stack([np.cos(ang), np.sin(ang)], 1)
    step = 1.5
    return centre + unit * (half * scale - step), centre + unit * (half * scale + step)


def _sample_luma(frame: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Luma of an RGB frame at sub-pixel points."""
    p = pts.astype(np.float32).reshape(-1, 1, 2)
    rgb = cv2.remap(frame, p[..., 0], p[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return rgb.reshape(-1, 3).astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def lip_track(frames: Iterable[np.ndarray]) -> tuple[np.ndarray, float]:
    """(per-frame lip opening, NaN without a face; seam score) of RGB frames.

    With two presenters (a conversation) each face is followed and the frame's opening is the
    wider of the two: whoever speaks opens their mouth while the other listens.

    The seam score is the largest step, between a thin band just inside and one just outside
    ellipses around each face (1.45 to 1.95 × its oval), of how much the picture changed since
    the previous frame, averaged around each ellipse (95th percentile over frames). A warp that
    fades out smoothly changes both bands alike; a region pasted with a hard edge does not.
    """
    trackers: list[MeshTracker] | None = None
    openings: list[float] = []
    ring_pts: np.ndarray | None = None  # inside and outside points of every ellipse, stacked
    prev: np.ndarray | None = None
    steps: list[float] = []
    for frame in frames:
        if trackers is None:
            centres = presenter_faces(frame)
            trackers = [MeshTracker(c) for c in centres] if centres else None
        meshes = [t(frame) for t in trackers] if trackers else []
        found = [m for m in meshes if m is not None]
        openings.append(max(m.lip_opening() for m in found) if found else float("nan"))
        if ring_pts is None and found:  # where the first faces are: warps end around them
            ring_pts = np.stack([np.stack(_ring_samples(m, s)) for m in found for s in SEAM_RADII])
        if ring_pts is not None:
            # only the ellipses' points are read: the change there, not of the whole frame
            now = _sample_luma(frame, ring_pts.reshape(-1, 2)).reshape(ring_pts.shape[:-1])
            if prev is not None:
                change = np.abs(now - prev).mean(axis=-1)  # per ellipse: inside, outside
                steps.append(float(np.abs(change[:, 0] - change[:, 1]).max()))
            prev = now
    seam = float(np.percentile(steps, 95)) if steps else 0.0
    return np.asarray(openings, dtype=np.float64), seam


def measure(
    openings: np.ndarray, envelope_db: np.ndarray, fps: float, seam: float = 0.0
) -> LipSyncMeasure:
    """Set a lip-opening track against the speech envelope (dB per frame, as
    :func:`tasks.quality.speech_envelope` gives it)."""
    n = min(len(openings), len(envelope_db))
    op, env = openings[:n].astype(np.float64), envelope_db[:n].astype(np.float64)
    found = np.isfinite(op)
    face_share = float(found.mean()) if n else 0.0
    if n < 3 or found.sum() < 3:
        return LipSyncMeasure(0.0, 0, 0.0, 0.0, seam, face_share, fps)
    op = np.where(found, op, np.nanmedian(op))
    max_lag = max(1, round(0.4 * fps))
    # lips cannot follow the loudness of every 40 ms: compare with its ~80 ms trend
    sigma = ENVELOPE_SMOOTH_S * fps
    k = np.exp(-0.5 * (np.arange(-3, 4) / max(sigma, 1e-3)) ** 2)
    smooth = np.convolve(np.pad(env, 3, mode="edge"), k / k.sum(), mode="valid")
    x = (op - op.mean()) / (op.std() + 1e-9)
    e = (smooth - smooth.mean()) / (smooth.std() + 1e-9)
    best_r, best_lag = -1.0, 0
    for lag in range(-max_lag, max_lag + 1):
        a = x[lag:] if lag >= 0 else x[:lag]
        b = e[: n - lag] if lag >= 0 else e[-lag:]
        if len(a) < 3:
            continue
        r = float(np.mean(a * b))
        if r > best_r:
            best_r, best_lag = r, lag
    p5, p95 = np.percentile(op[found], [5, 95]) if found.any() else (0.0, 0.0)
    # pauses: frames well under the speech's peak, inside a quiet stretch of ≥ 3 frames
    quiet = env < env.max() - SILENCE_BELOW_PEAK_DB
    kernel = np.ones(3)
    pause = np.convolve(quiet.astype(float), kernel, mode="same") >= 3
    pause &= found
    closed = float((op[pause] < CLOSED_OPENING).mean()) if pause.any() else 1.0
    return LipSyncMeasure(best_r, best_lag, float(p95 - p5), closed, seam, face_share, fps)
