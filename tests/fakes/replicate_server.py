"""A fake Replicate API with the prediction lifecycle, for ``replicate.Client(base_url=...)``.

- ``POST /v1/models/<owner>/<name>/predictions`` creates a prediction (``starting``);
- ``GET /v1/predictions/<id>`` moves it to ``processing`` and, after ``polls_to_finish``
  polls, to the ``outcome`` (succeeded with output URLs, failed, canceled, or never);
- ``POST /v1/predictions/<id>/cancel`` cancels it;
- ``GET /files/<id>/<n>.png`` serves the output images (no auth, like replicate.delivery),
  as set by ``output``: a PNG, HTML, a truncated PNG, a black PNG or a huge body.

``create_steps``/``poll_steps`` script failures (status, Retry-After, delays, malformed
JSON) answered before the normal behaviour.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from PIL import Image

from fakes._http import Fake, JsonHandler

DEFAULT_TOKEN = "r8_fakeloopbackTOKEN0123456789abcdef"
# Outputs are small (Flux's are ~1 MP) so tests stay quick; the provider resizes them.
OUTPUT_SIZES = {"9:16": (288, 512), "16:9": (512, 288), "1:1": (384, 384)}


@dataclass
class Step:
    status: int
    body: Any = None  # dict → JSON, bytes → raw
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def png_bytes(size: tuple[int, int], seed: int = 0, black: bool = False) -> bytes:
    w, h = size
    if black:
        arr = np.zeros((h, w, 3), np.uint8)
    else:
        rng = np.random.default_rng(seed)
        y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        x = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
        base = np.concatenate([40 + 120 * y + 0 * x, 60 + 100 * x + 0 * y, 140 + 0 * x + 0 * y], 2)
        arr = np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


class _Handler(JsonHandler):
    def _authorized(self) -> bool:
        fake: FakeReplicate = self.fake
        if self.headers.get("Authorization") == f"Bearer {fake.token}":
            return True
        self.send_json(
            401,
            {
                "title": "Unauthenticated",
                "detail": "You did not pass a valid authentication token",
                "status": 401,
            },
        )
        return False

    def _scripted(self, steps: list[Step]) -> bool:
        fake: FakeReplicate = self.fake
        with fake.lock:
            step = steps.pop(0) if steps else None
        if step is None:
            return False
        if step.delay_s:
            time.sleep(step.delay_s)
        raw = step.body if isinstance(step.body, bytes) else json.dumps(step.body or {}).encode()
        self.send_bytes(step.status, raw, "application/json", step.headers)
        return True

    def do_POST(self) -> None:
        fake: FakeReplicate = self.fake
        body = self.read_json() or {}
        parts = self.path.strip("/").split("/")
        if not self._authorized():
            return
        if fake.echo_credentials:  # a careless upstream quoting the request in its error
            auth = self.headers.get("Authorization")
            detail = f"upstream failed for {auth}"
            self.send_json(500, {"title": "Internal error", "detail": detail, "status": 500})
            return
        if len(parts) == 5 and parts[:2] == ["v1", "models"] and parts[4] == "predictions":
            fake.creates.append(
                {"model": f"{parts[2]}/{parts[3]}", "prefer": self.headers.get("Prefer"), **body}
            )
            if self._scripted(fake.create_steps):
                return
            self.send_json(201, fake.new_prediction(f"{parts[2]}/{parts[3]}", body))
        elif len(parts) == 4 and parts[:2] == ["v1", "predictions"] and parts[3] == "cancel":
            p = fake.predictions.get(parts[2])
            if p is None:
                self.send_json(404, {"title": "Not found", "status": 404})
                return
            fake.cancels.append(parts[2])
            if p["status"] not in ("succeeded", "failed", "canceled"):
                p.update(status="canceled", completed_at=_now())
            self.send_json(200, p)
        else:
            self.send_json(404, {"title": "Not found", "status": 404})

    def do_GET(self) -> None:
        fake: FakeReplicate = self.fake
        parts = self.path.strip("/").split("/")
        if parts[0] == "files" and len(parts) == 3:
            fake.downloads.append((self.path, self.headers.get("Authorization")))
            self._serve_file(parts[1], parts[2])
            return
        if not self._authorized():
            return
        if len(parts) == 3 and parts[:2] == ["v1", "predictions"]:
            fake.polls += 1
            if self._scripted(fake.poll_steps):
                return
            p = fake.predictions.get(parts[2])
            if p is None:
                self.send_json(404, {"title": "Not found", "status": 404})
                return
            fake.advance(p)
            self.send_json(200, p)
        else:
            self.send_json(404, {"title": "Not found", "status": 404})

    def _serve_file(self, pid: str, name: str) -> None:
        fake: FakeReplicate = self.fake
        p = fake.predictions.get(pid)
        if p is None:
            self.send_bytes(404, b"no such file", "text/plain")
            return
        size = OUTPUT_SIZES.get(str(p["input"].get("aspect_ratio")), (384, 384))
        seed = int(p["input"].get("seed") or 0) + int(name.split(".")[0].rsplit("-", 1)[-1] or 0)
        kind = fake.output
        if isinstance(kind, list):  # one kind per candidate
            kind = kind[int(name.split(".")[0].rsplit("-", 1)[-1]) % len(kind)]
        if kind == "html":
            self.send_bytes(200, b"<html><body>Not an image</body></html>", "text/html")
        elif kind == "truncated":
            data = png_bytes(size, seed)
            self.send_bytes(200, data[: len(data) // 2], "image/png")
        elif kind == "short":  # declares more bytes than it sends, then closes
            data = png_bytes(size, seed)
            self.send_bytes(200, data[: len(data) // 2], "image/png", declared_length=len(data))
        elif kind == "huge":
            self.send_bytes(200, b"\0" * (fake.huge_bytes), "image/png")
        else:
            self.send_bytes(200, png_bytes(size, seed, black=kind == "black"), "image/png")


Outcome = Literal["succeeded", "failed", "canceled", "never"]
Output = Literal["png", "html", "truncated", "short", "huge", "black"]


class FakeReplicate(Fake):
    """``with FakeReplicate() as fake:`` then
    ``replicate.Client(fake.token, base_url=fake.url)``.
    """

    handler = _Handler

    def __init__(self, token: str = DEFAULT_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.outcome: Outcome = "succeeded"
        self.output: Output | list[Output] = "png"
        self.error = "NSFW content detected. Try running it again, or try a different prompt."
        self.polls_to_finish = 2
        self.huge_bytes = 3 * 1024 * 1024
        self.create_steps: list[Step] = []
        self.poll_steps: list[Step] = []
        self.predictions: dict[str, dict[str, Any]] = {}
        self.creates: list[dict[str, Any]] = []
        self.cancels: list[str] = []
        self.downloads: list[tuple[str, str | None]] = []
        self.polls = 0
        self.echo_credentials = False  # answer 500 quoting the Authorization header

    def new_prediction(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        pid = uuid.uuid4().hex[:26]
        p: dict[str, Any] = {
            "id": pid,
            "model": model,
            "version": "hidden",
            "input": body.get("input", {}),
            "logs": "",
            "output": None,
            "data_removed": False,
            "error": None,
            "status": "starting",
            "created_at": _now(),
            "started_at": None,
            "completed_at": None,
            "metrics": {},
            "urls": {
                "get": f"{self.url}/v1/predictions/{pid}",
                "cancel": f"{self.url}/v1/predictions/{pid}/cancel",
            },
            "_polls": 0,
        }
        with self.lock:
            self.predictions[pid] = p
        return {k: v for k, v in p.items() if not k.startswith("_")}

    def advance(self, p: dict[str, Any]) -> None:
        """One poll: starting → processing → (after ``polls_to_finish``) the outcome."""
        if p["status"] in ("succeeded", "failed", "canceled"):
            return
        p["_polls"] += 1
        p["status"], p["started_at"] = "processing", p["started_at"] or _now()
        p["logs"] = f"Using seed: {p['input'].get('seed')}\n{p['_polls']}/4 steps"
        if p["_polls"] < self.polls_to_finish or self.outcome == "never":
            return
        p["status"], p["completed_at"] = self.outcome, _now()
        if self.outcome == "succeeded":
            n = int(p["input"].get("num_outputs") or 1)
            fmt = p["input"].get("output_format", "webp")
            p["output"] = [f"{self.url}/files/{p['id']}/out-{i}.{fmt}" for i in range(n)]
            p["metrics"] = {"predict_time": 0.8, "image_count": n}
        elif self.outcome == "failed":
            p["error"] = self.error

    # -- scripting ------------------------------------------------------------------------
    def fail_create(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        body = {"title": f"fake {status}", "detail": f"fake failure {status}", "status": status}
        self.create_steps += [Step(status, body, headers) for _ in range(times)]

    def fail_poll(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        body = {"title": f"fake {status}", "detail": f"fake failure {status}", "status": status}
        self.poll_steps += [Step(status, body, headers) for _ in range(times)]
