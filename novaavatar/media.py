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
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np

from novaavatar.errors import InputError

_STDERR_TAIL = 2000


@cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary: a system one on PATH if present, else the one bundled with imageio-ffmpeg."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


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
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
            "-ss", f"{t:.4f}", "-i", str(path),
            "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
        ],
        capture_output=True,
        check=False,
    )  # fmt: skip
    n = info.width * info.height * 3
    if res.returncode != 0 or len(res.stdout) < n:
        raise InputError(
            f"no frame at {t:.3f}s in {str(path)!r} (duration {info.duration_s:.3f}s); "
            f"choose a time inside the video. ffmpeg: {_tail(res.stderr, 300)}"
        )
    return np.frombuffer(res.stdout[:n], dtype=np.uint8).reshape(info.height, info.width, 3).copy()


def read_audio(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Decode any audio (or a video's audio track) to float32 mono at ``sample_rate``."""
    p = _require_file(path, "audio file")
    res = subprocess.run(
        [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
            "-i", str(p), "-vn", "-ac", "1", "-ar", str(int(sample_rate)),
            "-f", "f32le", "-acodec", "pcm_f32le", "-",
        ],
        capture_output=True,
        check=False,
    )  # fmt: skip
    if res.returncode != 0:
        raise InputError(
            f"cannot decode audio file {str(p)!r}: {_tail(res.stderr, 300)}; "
            "expected a wav, mp3, m4a, ogg or flac file with an audio track"
        )
    return np.frombuffer(res.stdout, dtype="<f4").astype(np.float32)


def _rate_arg(fps: float) -> str:
    frac = Fraction(fps).limit_denominator(1001)
    return str(frac.numerator) if frac.denominator == 1 else f"{frac.numerator}/{frac.denominator}"


class FrameWriter:
    """Encode RGB frames written one by one into an H.264/AAC MP4, optionally muxing an audio file.

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
        self._tmp = self.out.with_name(f".{self.out.stem}.partial-{os.getpid()}{self.out.suffix}")
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._frame_bytes = width * height * 3

    def _command(self) -> list[str]:
        """The ffmpeg command line, built as a filter graph with ffmpeg-python."""
        import ffmpeg  # ffmpeg-python

        w, h = self.size
        rate = _rate_arg(self.fps)
        video = ffmpeg.input(
            "pipe:0", format="rawvideo", pix_fmt="rgb24", s=f"{w}x{h}", framerate=rate
        )
        streams = [video.video]
        out_args: dict[str, object] = dict(
            vcodec="libx264", preset=self.preset, crf=self.crf, pix_fmt="yuv420p", r=rate,
            movflags="+faststart", format="mp4",
        )  # fmt: skip
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
        if self._proc is None or self._proc.stdin is None:
            raise RuntimeError("FrameWriter.write called outside its 'with' block")
        w, h = self.size
        if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
            raise ValueError(f"frame {frame.shape} {frame.dtype}: expected ({h}, {w}, 3) uint8 RGB")
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
