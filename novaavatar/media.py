"""ffmpeg helpers every media stage uses: find the binary, probe, read frames and audio, write MP4.

No system ffmpeg is required: the ``imageio-ffmpeg`` wheel ships a static binary. It has no
``ffprobe``, so :func:`probe` parses ``ffmpeg -i`` output instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np

from novaavatar.errors import InputError

_STDERR_TAIL = 2000
MAX_AUDIO_S = 600.0  # 10 minutes: far above a 90 s script, far below what would exhaust memory


@cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary: a system one on PATH if present, else the one bundled with
    imageio-ffmpeg.
    """
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def ffmpeg_quiet() -> list[str]:
    """The start of every ffmpeg command line here: errors only, never reading stdin."""
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error"]


def h264_args(crf: int, preset: str) -> list[str]:
    """The final videos' picture: H.264 in yuv420p, which every player and platform takes."""
    return ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]


def aac_args(bitrate: str = "128k") -> list[str]:
    """The final videos' sound: AAC at 48 kHz."""
    return ["-c:a", "aac", "-b:a", bitrate, "-ar", "48000"]


# an MP4 whose index comes first, so a browser starts playing before the whole file arrives
MP4_OUT = ["-movflags", "+faststart", "-f", "mp4"]


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` learns about a media file."""

    duration_s: float
    width: int
    height: int
    fps: float
    has_video: bool
    has_audio: bool
    video_codec: str
    audio_codec: str
    pix_fmt: str


_DURATION_RE = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_STREAM_RE = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio): (.*)$", re.MULTILINE)
_SIZE_RE = re.compile(r"(?<![\w/])(\d{2,5})x(\d{2,5})(?![\w])")
_FPS_RE = re.compile(r"([\d.]+)(k?) fps")
_TBR_RE = re.compile(r"([\d.]+)(k?) tbr")
_TIME_RE = re.compile(r"time=\s*(\d+):(\d+):(\d+(?:\.\d+)?)")


def _tail(text: str | bytes, n: int = _STDERR_TAIL) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text.strip()[-n:]


def _require_file(path: str | Path, what: str = "media file") -> Path:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} {str(p)!r} does not exist or is not a file")
    if p.stat().st_size == 0:
        raise InputError(f"{what} {str(p)!r} is empty (0 bytes); expected an image, audio or video")
    return p


def partial_path(out: Path) -> Path:
    """Where a file being written to ``out`` lives until it is whole (hidden, this process's)."""
    return out.with_name(f".{out.stem}.partial-{os.getpid()}{out.suffix}")


def ffmpeg_into(out: Path, args: Sequence[str], failed: Callable[[int, str], Exception]) -> None:
    """Run ffmpeg with ``args`` (inputs and options, no output) writing ``out`` atomically.

    ffmpeg writes a :func:`partial_path` beside ``out``, which replaces ``out`` only when
    ffmpeg succeeded: readers see the old file or the new one, never half of one. A failure
    raises ``failed(exit code, the end of ffmpeg's stderr)`` and leaves ``out`` as it was.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(out)
    try:
        res = subprocess.run(
            [*ffmpeg_quiet(), "-y", *args, str(tmp)], capture_output=True, check=False
        )
        if res.returncode != 0:
            raise failed(res.returncode, _tail(res.stderr))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _hms(h: str, m: str, s: str) -> float:
    return int(h) * 3600 + int(m) * 60 + float(s)


def _rate(match: re.Match[str] | None) -> float:
    if not match:
        return 0.0
    return float(match.group(1)) * (1000 if match.group(2) else 1)


def probe(path: str | Path) -> MediaInfo:
    """Duration, size, frame rate and codecs of ``path``; InputError naming it when unreadable."""
    p = _require_file(path)
    res = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(p)],
        capture_output=True,
        check=False,
    )
    text = res.stderr.decode("utf-8", "replace")
    streams = _STREAM_RE.findall(text)
    if not streams:
        raise InputError(
            f"cannot read media file {str(p)!r}: ffmpeg found no audio or video stream "
            f"({_tail(text, 300)}); expected an image, audio or video file"
        )
    width = height = 0
    fps = 0.0
    video_codec = audio_codec = pix_fmt = ""
    has_video = has_audio = False
    for kind, desc in streams:
        codec = desc.split(",")[0].split()[0] if desc.strip() else ""
        if kind == "Video" and not has_video:
            has_video = True
            video_codec = codec
            parts = [s.strip() for s in re.split(r",(?![^(]*\))", desc)]
            if len(parts) > 1:
                pix_fmt = parts[1].split("(")[0].strip()
            size = _SIZE_RE.search(desc)
            if size:
                width, height = int(size.group(1)), int(size.group(2))
            fps = _rate(_FPS_RE.search(desc)) or _rate(_TBR_RE.search(desc))
        elif kind == "Audio" and not has_audio:
            has_audio = True
            audio_codec = codec
    m = _DURATION_RE.search(text)
    duration = _hms(*m.groups()) if m else _decoded_duration(p)
    return MediaInfo(
        duration_s=duration,
        width=width,
        height=height,
        fps=fps,
        has_video=has_video,
        has_audio=has_audio,
        video_codec=video_codec,
        audio_codec=audio_codec,
        pix_fmt=pix_fmt,
    )


def _decoded_duration(path: Path) -> float:
    """Duration by decoding to the null muxer, for containers whose header carries none."""
    res = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        check=False,
    )
    times = _TIME_RE.findall(res.stderr.decode("utf-8", "replace"))
    return _hms(*times[-1]) if times else 0.0


def extract_frame(path: str | Path, t: float) -> np.ndarray:
    """The video frame shown at ``t`` seconds, as an H×W×3 uint8 RGB array."""
    info = probe(path)
    if not info.has_video or info.width <= 0 or info.height <= 0:
        raise InputError(f"{str(path)!r} has no video stream to take a frame from")
    t = max(0.0, float(t))
    res = subprocess.run(
        [
            *ffmpeg_quiet(),
            "-ss",
            f"{t:.4f}",
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=False,
    )
    n = info.width * info.height * 3
    if res.returncode != 0 or len(res.stdout) < n:
        raise InputError(
            f"no frame at {t:.3f}s in {str(path)!r} (duration {info.duration_s:.3f}s); "
            f"choose a time inside the video. ffmpeg: {_tail(res.stderr, 300)}"
        )
    return np.frombuffer(res.stdout[:n], dtype=np.uint8).reshape(info.height, info.width, 3).copy()


def read_audio(
    path: str | Path, sample_rate: int = 16000, *, max_seconds: float | None = None
) -> np.ndarray:
    """Decode any audio (or a video's audio track) to float32 mono at ``sample_rate``.

    With ``max_seconds``, longer audio is refused (InputError naming the limit) before decoding.
    """
    p = _require_file(path, "audio file")
    limit: list[str] = []
    if max_seconds is not None:
        info = probe(p)
        if not info.has_audio:
            raise InputError(f"audio file {str(p)!r} has no audio track; expected speech")
        if info.duration_s > max_seconds:
            raise InputError(
                f"audio file {str(p)!r} lasts {info.duration_s:.0f} s; the limit is "
                f"{max_seconds:.0f} s ({max_seconds / 60:g} min): split it or shorten it"
            )
        limit = ["-t", f"{max_seconds + 1:.3f}"]  # a header that lies about the length
    res = subprocess.run(
        [
            *ffmpeg_quiet(),
            "-i",
            str(p),
            *limit,
            "-vn",
            "-ac",
            "1",
            "-ar",
            str(int(sample_rate)),
            "-f",
            "f32le",
            "-acodec",
            "pcm_f32le",
            "-",
        ],
        capture_output=True,
        check=False,
    )
    if res.returncode != 0:
        raise InputError(
            f"cannot decode audio file {str(p)!r}: {_tail(res.stderr, 300)}; "
            "expected a wav, mp3, m4a, ogg or flac file with an audio track"
        )
    samples = np.frombuffer(res.stdout, dtype="<f4").astype(np.float32)
    if max_seconds is not None and samples.size > (max_seconds + 0.5) * sample_rate:
        raise InputError(
            f"audio file {str(p)!r} lasts more than {max_seconds:.0f} s, the limit: shorten it"
        )
    return samples


def iter_frames(
    path: str | Path, *, width: int | None = None, gray: bool = False
) -> Iterator[np.ndarray]:
    """Decode every frame of a video (optionally scaled to ``width`` px, or luma only), in order."""
    info = probe(path)
    if not info.has_video or info.width <= 0 or info.height <= 0:
        raise InputError(f"{str(path)!r} has no video stream to read frames from")
    w, h = info.width, info.height
    vf: list[str] = []
    if width is not None and width != w:
        h = max(2, round(h * width / w / 2) * 2)
        w = int(width)
        vf = ["-vf", f"scale={w}:{h}:flags=area"]
    fmt, shape = ("gray", (h, w)) if gray else ("rgb24", (h, w, 3))
    n = int(np.prod(shape))
    proc = subprocess.Popen(
        [
            *ffmpeg_quiet(),
            "-i",
            str(path),
            "-an",
            *vf,
            "-f",
            "rawvideo",
            "-pix_fmt",
            fmt,
            "pipe:1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        while True:
            buf = proc.stdout.read(n)
            if len(buf) < n:
                break
            yield np.frombuffer(buf, dtype=np.uint8).reshape(shape)
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()


# --- loudness (ITU-R BS.1770-4 / EBU R128) ----------------------------------------------------


@dataclass(frozen=True)
class Loudness:
    """Integrated loudness (LUFS, -inf for silence) and true peak (dBTP) of a signal."""

    integrated_lufs: float
    true_peak_dbtp: float


def _biquad_response(b: Sequence[float], a: Sequence[float], n_fft: int) -> np.ndarray:
    z1 = np.exp(-1j * np.pi * np.arange(n_fft // 2 + 1) / (n_fft // 2))
    return (b[0] + b[1] * z1 + b[2] * z1**2) / (a[0] + a[1] * z1 + a[2] * z1**2)


def _k_weighting(rate: int, n_fft: int) -> np.ndarray:
    """The K-weighting filter's response (pre-filter shelf × RLB high-pass) at ``rate``."""
    k = np.tan(np.pi * 1681.974450955533 / rate)  # shelf, +4 dB above ~1.7 kHz
    q = 0.7071752369554196
    vh = 10 ** (3.999843853973347 / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = (
        (vh + vb * k / q + k * k) / a0,
        2 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
    )
    shelf_a = (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)
    k = np.tan(np.pi * 38.13547087602444 / rate)  # high-pass below ~38 Hz
    q = 0.5003270373238773
    a0 = 1 + k / q + k * k
    hp_a = (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)
    return _biquad_response(shelf_b, shelf_a, n_fft) * _biquad_response((1, -2, 1), hp_a, n_fft)


def true_peak(samples: np.ndarray, rate: int) -> np.ndarray:
    """Per-sample peak of the 4× oversampled signal (what a DAC would output between samples)."""
    import soxr

    x = np.asarray(samples, dtype=np.float32)
    if x.size == 0:
        return x
    up = np.abs(soxr.resample(x, rate, rate * 4, quality="HQ"))
    m = min(up.size // 4, x.size)
    peak = np.maximum(np.abs(x), 0.0)
    peak[:m] = np.maximum(peak[:m], up[: m * 4].reshape(m, 4).max(axis=1))
    return peak


def _integrated_lufs(x: np.ndarray, rate: int) -> float:
    """BS.1770 gated integrated loudness; the K-weighting is applied as its FFT response."""
    block, hop = int(0.4 * rate), int(0.1 * rate)
    if x.size < block:
        return -np.inf
    n_fft = 1 << int(np.ceil(np.log2(x.size + rate // 2)))
    y = np.fft.irfft(np.fft.rfft(x, n_fft) * _k_weighting(rate, n_fft), n_fft)[: x.size]
    c = np.concatenate([[0.0], np.cumsum(y * y)])
    starts = np.arange(0, x.size - block + 1, hop)
    power = (c[starts + block] - c[starts]) / block
    level = -0.691 + 10 * np.log10(np.maximum(power, 1e-20))
    gated = power[level > -70.0]
    if gated.size == 0:
        return -np.inf
    relative = -0.691 + 10 * np.log10(gated.mean()) - 10.0
    kept = gated[-0.691 + 10 * np.log10(gated) > relative]
    return float(-0.691 + 10 * np.log10(kept.mean()))


def measure_loudness(samples: np.ndarray, rate: int) -> Loudness:
    """BS.1770 gated integrated loudness and true peak of a mono signal."""
    x = np.asarray(samples, dtype=np.float64)
    peak = float(true_peak(x, rate).max()) if x.size else 0.0
    tp = 20 * np.log10(peak) if peak > 0 else -np.inf
    return Loudness(_integrated_lufs(x, rate), float(tp))


def gain_curve(need: np.ndarray, rate: int) -> np.ndarray:
    """A smooth gain that stays at or under ``need`` (per-sample gains ≤ 1): dips start 5 ms early
    and recover over ~60 ms, as a look-ahead limiter's would."""
    import cv2

    need = np.asarray(need, dtype=np.float32)
    if need.size == 0 or need.min() >= 1.0:
        return np.ones_like(need)
    r = max(1, int(0.005 * rate))
    kernel = np.ones((1, 2 * r + 1), np.uint8)
    floor = cv2.erode(need[None, :], kernel, borderType=cv2.BORDER_REPLICATE)
    gain = cv2.blur(floor, (2 * r + 1, 1), borderType=cv2.BORDER_REPLICATE)[0]
    # release over ~60 ms so consecutive peaks do not make the level flutter
    rel = max(1, int(0.06 * rate))
    gain = -cv2.dilate(-gain[None, :], np.ones((1, rel), np.uint8), anchor=(0, 0))[0]
    return np.minimum(gain, cv2.blur(gain[None, :], (rel | 1, 1))[0])


def _limit_true_peak(x: np.ndarray, rate: int, ceiling: float) -> np.ndarray:
    """Look-ahead peak limiter on the 4× oversampled peak: the gain dips smoothly before a peak."""
    need = np.minimum(1.0, ceiling / np.maximum(true_peak(x, rate), 1e-9))
    return (x * gain_curve(need, rate)).astype(np.float32)


def normalise_loudness(
    samples: np.ndarray, rate: int, target_lufs: float = -16.0, ceiling_dbtp: float = -1.5
) -> np.ndarray:
    """Gain to ``target_lufs`` integrated, with true peaks held under ``ceiling_dbtp`` by a limiter.

    Silence (below the BS.1770 absolute gate) is returned unchanged.
    """
    x = np.asarray(samples, dtype=np.float32)
    level = _integrated_lufs(x.astype(np.float64), rate)
    if not np.isfinite(level):
        return x
    ceiling = 10 ** (ceiling_dbtp / 20)
    gain_db = target_lufs - level
    out = x
    for _ in range(6):  # limiting lowers the loudness a little: top up and limit again
        out = _limit_true_peak(x * np.float32(10 ** (gain_db / 20)), rate, ceiling)
        miss = target_lufs - _integrated_lufs(out.astype(np.float64), rate)
        if abs(miss) < 0.1:
            break
        gain_db += 1.5 * miss  # the limiter eats part of each step
    return out


def remux_with_audio(
    video: str | Path, audio: str | Path, out: str | Path, *, audio_bitrate: str = "128k"
) -> None:
    """Copy ``video``'s picture untouched and put ``audio`` (encoded to AAC) beside it,
    atomically.
    """
    out = Path(out)
    ffmpeg_into(
        out,
        [
            "-i",
            str(_require_file(video, "video file")),
            "-i",
            str(_require_file(audio, "audio file")),
            "-map",
            "0:v:0",
            "-map",
            "1:a:0",
            "-c:v",
            "copy",
            *aac_args(audio_bitrate),
            *MP4_OUT,
        ],
        lambda code, err: RuntimeError(f"ffmpeg failed (exit {code}) writing {out}: {err}"),
    )


def _rate_arg(fps: float) -> str:
    frac = Fraction(fps).limit_denominator(1001)
    return str(frac.numerator) if frac.denominator == 1 else f"{frac.numerator}/{frac.denominator}"


def rgb_to_i420(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 RGB (even H, W) → (H·3/2)×W I420, BT.601 limited range, as H.264 players expect."""
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)


def i420_planes(
    frame: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Writable views of the Y (H×W), U and V (H/2×W/2) planes of an I420 frame buffer."""
    flat = frame.reshape(-1)
    n, q = width * height, width * height // 4
    return (
        flat[:n].reshape(height, width),
        flat[n : n + q].reshape(height // 2, width // 2),
        flat[n + q : n + 2 * q].reshape(height // 2, width // 2),
    )


def paste_rgb_i420(
    planes: tuple[np.ndarray, np.ndarray, np.ndarray], x: int, y: int, rgb: np.ndarray
) -> None:
    """Write an RGB region (even ``x``, ``y`` and size) into the planes of an I420 frame, so
    only the part of a frame that changed is converted."""
    rh, rw = rgb.shape[:2]
    sy, su, sv = i420_planes(rgb_to_i420(rgb), rw, rh)
    ypl, upl, vpl = planes
    ypl[y : y + rh, x : x + rw] = sy
    upl[y // 2 : (y + rh) // 2, x // 2 : (x + rw) // 2] = su
    vpl[y // 2 : (y + rh) // 2, x // 2 : (x + rw) // 2] = sv


class I420Overlay:
    """A premultiplied RGBA image at (x, y), pre-converted to I420 planes for cheap blending."""

    def __init__(self, rgba_premultiplied: np.ndarray, x: int, y: int) -> None:
        img = rgba_premultiplied
        # align to the 2×2 chroma grid by padding with transparent pixels
        left, top = x % 2, y % 2
        h, w = img.shape[:2]
        ph, pw = (h + top + 1) // 2 * 2, (w + left + 1) // 2 * 2
        padded = np.zeros((ph, pw, 4), np.float32)
        padded[top : top + h, left : left + w] = img
        self.x, self.y = x - left, y - top
        a = padded[..., 3] / 255.0
        r, g, b = padded[..., 0], padded[..., 1], padded[..., 2]
        luma = 16.0 * a + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
        cb = 128.0 * a + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0
        cr = 128.0 * a + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0

        def half(p: np.ndarray) -> np.ndarray:
            return p.reshape(ph // 2, 2, pw // 2, 2).mean(axis=(1, 3))

        self.y_keep, self.y_add = (1.0 - a).astype(np.float32), luma.astype(np.float32)
        self.c_keep = (1.0 - half(a)).astype(np.float32)
        self.u_add, self.v_add = half(cb).astype(np.float32), half(cr).astype(np.float32)

    def blend(self, planes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        """Blend into the (Y, U, V) planes of a frame, clipped to the frame."""
        for plane, keep, add, s in (
            (planes[0], self.y_keep, self.y_add, 1),
            (planes[1], self.c_keep, self.u_add, 2),
            (planes[2], self.c_keep, self.v_add, 2),
        ):
            x0, y0 = self.x // s, self.y // s
            h, w = keep.shape
            cx0, cy0 = max(x0, 0), max(y0, 0)
            cx1, cy1 = min(x0 + w, plane.shape[1]), min(y0 + h, plane.shape[0])
            if cx1 <= cx0 or cy1 <= cy0:
                continue
            k = keep[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
            d = plane[cy0:cy1, cx0:cx1]
            d[...] = d * k + add[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] + 0.5


class FrameWriter:
    """Encode RGB frames written one by one into an H.264/AAC MP4, optionally muxing an audio file.

    Frames travel to ffmpeg as I420 (BT.601, limited range, tagged so): half the bytes of RGB and no
    conversion inside ffmpeg. :meth:`write_i420` takes frames that are already I420.

    The file appears at ``out`` only when ffmpeg finished cleanly; until then it lives under a
    temporary name beside it, so a crash never leaves a half-written video at the destination.
    """

    def __init__(
        self,
        out: str | Path,
        size: tuple[int, int],
        fps: float,
        *,
        audio: str | Path | None = None,
        audio_filter: str | None = None,
        crf: int = 23,
        preset: str = "veryfast",
        audio_bitrate: str = "128k",
        audio_rate: int = 48000,
    ) -> None:
        width, height = int(size[0]), int(size[1])
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"video size {width}x{height}: width and height must be even and > 0")
        if fps <= 0:
            raise ValueError(f"fps {fps}: must be > 0")
        if not 0 <= crf <= 51:
            raise ValueError(f"crf {crf}: must be between 0 and 51")
        self.out = Path(out)
        self.size = (width, height)
        self.fps = fps
        self.audio = Path(audio) if audio is not None else None
        if self.audio is not None:
            _require_file(self.audio, "audio file")
        self.audio_filter = audio_filter
        self.crf = crf
        self.preset = preset
        self.audio_bitrate = audio_bitrate
        self.audio_rate = audio_rate
        self.frames = 0
        self._tmp = partial_path(self.out)
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._frame_bytes = width * height * 3

    def _command(self) -> list[str]:
        """The ffmpeg command line, built as a filter graph with ffmpeg-python."""
        import ffmpeg  # ffmpeg-python

        w, h = self.size
        rate = _rate_arg(self.fps)
        video = ffmpeg.input(
            "pipe:0", format="rawvideo", pix_fmt="yuv420p", s=f"{w}x{h}", framerate=rate
        )
        streams = [video.video]
        out_args: dict[str, object] = dict(
            vcodec="libx264",
            preset=self.preset,
            crf=self.crf,
            pix_fmt="yuv420p",
            r=rate,
            movflags="+faststart",
            format="mp4",
            color_range="tv",
            colorspace="smpte170m",
            color_primaries="smpte170m",
            color_trc="smpte170m",
        )
        if self.audio is not None:
            audio = ffmpeg.input(str(self.audio)).audio
            if self.audio_filter:
                out_args["af"] = self.audio_filter
            streams.append(audio)
            out_args.update(acodec="aac", audio_bitrate=self.audio_bitrate, ar=self.audio_rate)
        graph = ffmpeg.output(*streams, str(self._tmp), **out_args).global_args(
            "-hide_banner", "-nostdin", "-loglevel", "error"
        )
        return list(graph.overwrite_output().compile(cmd=ffmpeg_exe()))

    def __enter__(self) -> FrameWriter:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            self._command(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr
        )
        return self

    def write(self, frame: np.ndarray) -> None:
        """Append one H×W×3 uint8 RGB frame."""
        w, h = self.size
        if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
            raise ValueError(f"frame {frame.shape} {frame.dtype}: expected ({h}, {w}, 3) uint8 RGB")
        self.write_i420(rgb_to_i420(frame))

    def write_i420(self, frame: np.ndarray) -> None:
        """Append one frame in I420 layout: a (H·3/2)×W uint8 array (Y, then U, then V planes)."""
        if self._proc is None or self._proc.stdin is None:
            raise RuntimeError("FrameWriter used outside its 'with' block")
        w, h = self.size
        if frame.shape != (h * 3 // 2, w) or frame.dtype != np.uint8:
            raise ValueError(
                f"frame {frame.shape} {frame.dtype}: expected ({h * 3 // 2}, {w}) uint8 I420"
            )
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).data)
        except BrokenPipeError:
            self._proc.wait()
            raise RuntimeError(
                f"ffmpeg stopped while encoding {self.out}: {self._stderr_tail()}"
            ) from None
        self.frames += 1

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return _tail(self._stderr.read())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None, "FrameWriter used without 'with'"
        try:
            if exc_type is not None:
                proc.kill()
                with contextlib.suppress(OSError):
                    proc.stdin.close()
                proc.wait()
                return
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            rc = proc.wait()
            if rc != 0:
                raise RuntimeError(
                    f"ffmpeg failed (exit {rc}) writing {self.out}: {self._stderr_tail()}"
                )
            if self.frames == 0:
                raise ValueError(f"no frames were written to {self.out}")
            os.replace(self._tmp, self.out)
        finally:
            if self._stderr is not None:
                self._stderr.close()
            self._tmp.unlink(missing_ok=True)
