"""A loopback fake of OpenAI's ``POST /v1/audio/speech`` for the real ``openai`` SDK.

It speaks with eSpeak NG at 24 kHz and answers in wav (with the streaming header OpenAI
sends: sizes 0xFFFFFFFF), pcm or mp3. ``script`` queues misbehaviours, one per request:
``"429"`` (with Retry-After), ``"500"``, ``"hang"`` (answers after ``hang_s``), ``"garbage"``
(200 with random bytes), ``"401"``; an empty queue answers normally.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import soxr

KEY = "sk-test-fake-key-000"


def _wav_streaming(pcm16: bytes, rate: int) -> bytes:
    """A wav whose RIFF and data sizes say 0xFFFFFFFF, as a streamed response has."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 0xFFFFFFFF)
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + (b"data" + struct.pack("<I", 0xFFFFFFFF) + pcm16)
    )


def _mp3(pcm16: bytes, rate: int) -> bytes:
    from novaavatar.media import ffmpeg_exe

    res = subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "s16le",
            "-ar",
            str(rate),
            "-ac",
            "1",
            "-i",
            "-",
            "-f",
            "mp3",
            "-b:a",
            "64k",
            "-",
        ],
        input=pcm16,
        capture_output=True,
        check=True,
    )
    return res.stdout


def speech_bytes(text: str, response_format: str, speed: float = 1.0) -> bytes:
    from tasks.speech import espeak

    raw = espeak.synthesize(text, rate_wpm=int(min(450, max(80, 165 * speed))))
    x = soxr.resample(raw.samples, raw.sample_rate, 24_000)
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    if response_format == "pcm":
        return pcm
    if response_format == "mp3":
        return _mp3(pcm, 24_000)
    return _wav_streaming(pcm, 24_000)


@dataclass
class FakeTTS:
    url: str = ""
    script: list[str] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    retry_after: str = "1"
    hang_s: float = 3.0
    times: list[float] = field(default_factory=list)


@contextmanager
def fake_openai_tts() -> Iterator[FakeTTS]:
    """Serve the fake on 127.0.0.1 (a free port) for the duration of the block."""
    state = FakeTTS()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with lock:
                state.requests.append(body)
                state.times.append(time.monotonic())
                mode = state.script.pop(0) if state.script else "ok"
            if self.path.rstrip("/") != "/v1/audio/speech":
                return self._json(404, {"error": {"message": f"no route {self.path}"}})
            if mode == "401" or self.headers.get("Authorization") != f"Bearer {KEY}":
                return self._json(401, {"error": {"message": "Incorrect API key provided"}})
            if mode == "429":
                return self._json(
                    429,
                    {"error": {"message": "Rate limit reached", "type": "requests"}},
                    {"Retry-After": state.retry_after},
                )
            if mode == "500":
                return self._json(500, {"error": {"message": "The server had an error"}})
            if mode == "hang":
                time.sleep(state.hang_s)
            if not body.get("input") or body.get("voice") is None:
                return self._json(400, {"error": {"message": "input and voice are required"}})
            fmt = body.get("response_format", "mp3")
            if mode == "garbage":
                data = os.urandom(4000)
            else:
                data = speech_bytes(body["input"], fmt, float(body.get("speed", 1.0)))
            ctype = {"wav": "audio/wav", "pcm": "audio/pcm", "mp3": "audio/mpeg"}.get(fmt, "audio")
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)  # fails only when the client timed out and left
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
