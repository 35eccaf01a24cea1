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

# the figures for a photo presenter: the tests assert them on every test photo and the
# quality gate applies them to every video showing one
MIN_CORRELATION = 0.5  # of the lip opening with the speech envelope, at the best lag
MAX_LAG_FRAMES = 1
MIN_OPENING_RANGE = 0.06  # p95 − p5 of the lip opening, share of the face height
MIN_CLOSED_IN_PAUSES = 0.7
CLOSED_OPENING = (
    0.03  # closed lips: the mesh reads a closed smiling mouth at up to ~0.02 of face height
)
MAX_SEAM = 2.0  # luma levels of frame-to-frame change, inside vs outside an edge
SILENCE_BELOW_PEAK_DB = 25.0
ENVELOPE_SMOOTH_S = 0.04  # Gaussian sigma applied to the speech envelope before correlating
SEAM_POINTS = 24  # samples along each quarter of a warp's outline
# lines across a warp's outline, in steps of SEAM_STEP px (at most 1.5 px, less on a small
# face: the window must stay narrower than the face's features)
SEAM_OFFSETS = tuple(range(-12, 13))
SEAM_STEP = 1.5
SEAM_STEP_PER_FACE = 1 / 230  # of the face height
SEAM_RADII = tuple(
    np.round(np.arange(1.45, 1.96, 0.05), 2)
)  # past the face oval and the chin's travel


@dataclass(frozen=True)
class Gate:
    """The lip-sync thresholds the quality check applies to one kind of presenter."""

    min_correlation: float
    min_opening_range: float


GATES = {
    "photo": Gate(MIN_CORRELATION, MIN_OPENING_RANGE),
    # the drawn presenter's lips are a drawing: the face mesh reads their opening smaller in a
    # small window (measured on the espeak test sentence: range 0.059 in a 360×640 pip
    # layout, 0.046 at 180×320; 0.083–0.085 at 720×1280 pip and 360×640 full; r 0.52–0.62),
    # so its gate is its own; below these it does not follow the speech
    "drawn": Gate(0.4, 0.05),
}


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
    presenter: str = "photo"  # whose thresholds apply: a key of GATES

    @property
    def gate(self) -> Gate:
        return GATES[self.presenter]

    @property
    def passed(self) -> bool:
        return (
            self.face_share >= 0.9
            and self.correlation >= self.gate.min_correlation
            and abs(self.lag_frames) <= MAX_LAG_FRAMES
            and self.opening_range >= self.gate.min_opening_range
            and self.closed_in_pauses >= MIN_CLOSED_IN_PAUSES
            and self.seam <= MAX_SEAM
        )

    def describe(self) -> str:
        return (
            f"lip opening vs speech r={self.correlation:.2f} at lag {self.lag_frames:+d} frames "
            f"({self.lag_frames / self.fps:+.2f} s) "
            f"(≥ {self.gate.min_correlation}, within ±{MAX_LAG_FRAMES}); "
            f"opening range {self.opening_range:.3f} "
            f"of face height (≥ {self.gate.min_opening_range}); "
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


def _outline_samples(mesh: FaceMesh, shape: tuple[int, int]) -> np.ndarray:
    """Points along every edge where the photo animator's warps end for this face (the ring
    where head motion fades out, the head's, eye and mouth boxes; see
    :meth:`tasks.render.photo.FaceRig.warp_outlines`), a quarter of each outline at a time,
    on lines across it every 0.5–1.5 px (the mesh on a finished frame is a few pixels off the
    one the renderer used): quarters × SEAM_OFFSETS × SEAM_POINTS × 2."""
    from tasks.render.photo import FaceRig  # the renderer's geometry, not a copy of it

    rig = FaceRig(mesh)
    step = float(np.clip(rig.fh * SEAM_STEP_PER_FACE, 0.5, SEAM_STEP))
    out = []
    for line in rig.warp_outlines(shape):
        tangent = np.gradient(line, axis=0)
        normal = np.stack([tangent[:, 1], -tangent[:, 0]], 1)
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-6)
        for part in np.array_split(np.arange(len(line)), 4):
            pick = part[np.linspace(0, len(part) - 1, SEAM_POINTS).round().astype(int)]
            p, nrm = line[pick], normal[pick]
            out.append(np.stack([p + nrm * (t * step) for t in SEAM_OFFSETS]))
    return np.stack(out) if out else np.zeros((0, len(SEAM_OFFSETS), SEAM_POINTS, 2))


def _edge_steps(change: np.ndarray) -> np.ndarray:
    """Per quarter-outline, how sharply the frame-to-frame change steps across it.

    At each line near the middle (the mesh's error), the mean change 1–3 lines to one side
    is set against the other side's, less what the 7–9 lines beyond would explain: a warp
    that fades out (a ramp) and content moving along the line (a bump on it) score ~0; a hard
    edge, changing on one side only, scores its full step. ``change``: quarters × offsets.
    """
    n = change.shape[1]
    best = np.zeros(len(change))
    for k in range(9, n - 9):
        near_l, near_r = change[:, k - 3 : k].mean(1), change[:, k + 1 : k + 4].mean(1)
        far_l, far_r = change[:, k - 9 : k - 6].mean(1), change[:, k + 7 : k + 10].mean(1)
        ramp = np.abs(near_l - far_l) + np.abs(near_r - far_r)
        best = np.maximum(best, np.abs(near_l - near_r) - ramp)
    return best


def _sample_luma(frame: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Luma of an RGB frame at sub-pixel points."""
    if not len(pts):
        return np.zeros(0, np.float32)
    p = pts.astype(np.float32).reshape(-1, 1, 2)
    rgb = cv2.remap(frame, p[..., 0], p[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return rgb.reshape(-1, 3).astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def lip_track(frames: Iterable[np.ndarray], warp_edges: bool = True) -> tuple[np.ndarray, float]:
    """(per-frame lip opening, NaN without a face; seam score) of RGB frames.

    With two presenters (a conversation) each face is followed and the frame's opening is the
    wider of the two: whoever speaks opens their mouth while the other listens.

    The seam score is the largest step, between a thin band just inside and one just outside
    ellipses around each face (1.45 to 1.95 × its oval), and (``warp_edges``, for a photo
    presenter) across each quarter of every edge where the photo animator's warps end (the
    ring where head motion fades out, the head's, eye and mouth boxes), of how much the
    picture changed since the previous frame, averaged along the band; per band the 95th
    percentile over frames (the median for a warp edge), the score the largest of those. A
    warp that fades out smoothly changes both sides alike; a region pasted with a hard edge
    does not. A drawn presenter's edges are elsewhere (its moving eyelids would cross the
    photo's boxes): only the ellipses.
    """
    trackers: list[MeshTracker] | None = None
    openings: list[float] = []
    # inside and outside points of every ellipse, then of every warp outline's quarter
    bands: list[np.ndarray] | None = None
    prev: list[np.ndarray] | None = None
    steps: list[np.ndarray] = []  # per frame: the step of every band
    for frame in frames:
        if trackers is None:
            centres = presenter_faces(frame)
            trackers = [MeshTracker(c) for c in centres] if centres else None
        meshes = [t(frame) for t in trackers] if trackers else []
        found = [m for m in meshes if m is not None]
        openings.append(max(m.lip_opening() for m in found) if found else float("nan"))
        if bands is None and found:  # where the first faces are: warps end around them
            bands = [
                np.stack([np.stack(_ring_samples(m, s)) for m in found for s in SEAM_RADII]),
                np.concatenate([_outline_samples(m, frame.shape[:2]) for m in found])
                if warp_edges
                else np.zeros((0, len(SEAM_OFFSETS), SEAM_POINTS, 2)),
            ]
        if bands is not None:
            # only the bands' points are read: the change there, not of the whole frame
            now = [_sample_luma(frame, b.reshape(-1, 2)).reshape(b.shape[:-1]) for b in bands]
            if prev is not None:
                ring_now, out_now = now
                ring_prev, out_prev = prev
                change = np.abs(ring_now - ring_prev).mean(axis=-1)  # per ellipse: in, out
                across = np.abs(out_now - out_prev).mean(axis=-1)  # quarters × offsets
                steps.append(
                    np.concatenate([np.abs(change[:, 0] - change[:, 1]), _edge_steps(across)])
                )
            prev = now
    seam = 0.0
    if steps:
        arr = np.array(steps)
        k = len(arr[0]) - len(bands[1]) if bands is not None else len(arr[0])
        # an ellipse's p95; a warp edge's median (blinks and lips cross the small boxes of
        # a small face now and then; a seam steps in every frame the head moves)
        seam = float(
            max(
                np.percentile(arr[:, :k], 95, axis=0).max(initial=0.0),
                np.percentile(arr[:, k:], 50, axis=0).max(initial=0.0),
            )
        )
    return np.asarray(openings, dtype=np.float64), seam


def measure(
    openings: np.ndarray,
    envelope_db: np.ndarray,
    fps: float,
    seam: float = 0.0,
    presenter: str = "photo",
) -> LipSyncMeasure:
    """Set a lip-opening track against the speech envelope (dB per frame, as
    :func:`tasks.quality.speech_envelope` gives it); ``presenter`` (photo or drawn) picks the
    thresholds ``passed`` applies."""
    if presenter not in GATES:
        raise ValueError(f"presenter {presenter!r}: one of {', '.join(GATES)}")
    n = min(len(openings), len(envelope_db))
    op, env = openings[:n].astype(np.float64), envelope_db[:n].astype(np.float64)
    found = np.isfinite(op)
    face_share = float(found.mean()) if n else 0.0
    if n < 3 or found.sum() < 3:
        return LipSyncMeasure(0.0, 0, 0.0, 0.0, seam, face_share, fps, presenter)
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
    return LipSyncMeasure(
        best_r, best_lag, float(p95 - p5), closed, seam, face_share, fps, presenter
    )
