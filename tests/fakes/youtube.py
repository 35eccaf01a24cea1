"""A fake Google OAuth token endpoint and YouTube resumable upload, for the real clients.

- ``POST /token`` (google-auth's refresh): checks client id, secret and refresh token and
  answers an access token, or Google's ``invalid_client``/``invalid_grant`` errors;
- ``POST /upload/youtube/v3/videos?uploadType=resumable&part=...`` (google-api-python-client's
  ``videos().insert``): needs the bearer token, keeps the JSON metadata and answers 200 with
  the session URI in ``Location``;
- ``PUT <session URI>`` with ``Content-Range: bytes a-b/N``: stores the chunk (non-final
  chunks must be multiples of 256 KiB) and answers 308 with ``Range: bytes=0-n`` until the
  last one, answered 200 with the video resource; with ``Content-Range: bytes */N`` it
  reports what it has (308 + Range) or the finished video.

``token_steps``, ``start_steps``, ``chunk_steps`` and ``status_steps`` script misbehaviour,
answered in order before the normal behaviour: ``ok`` (behave), an HTTP status (with headers such as
Retry-After), ``drop`` (read the request, then close without answering), ``store_then_drop``
(keep the chunk, lose the answer) or ``partial_then_drop`` (keep half of the chunk).
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Literal

from fakes._http import Fake, JsonHandler

UPLOAD_PATH = "/upload/youtube/v3/videos"
QUANTUM = 256 * 1024  # Google's resumable chunk granularity

Action = Literal["ok", "status", "drop", "store_then_drop", "partial_then_drop"]


@dataclass
class Step:
    action: Action = "status"
    status: int = 503
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Session:
    id: str
    metadata: dict[str, Any]
    part: str
    total: int
    content_type: str
    data: bytearray = field(default_factory=bytearray)
    video: dict[str, Any] | None = None


def _error(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "errors": [{"reason": reason}]}}


class _Handler(JsonHandler):
    fake: FakeYouTube

    def _step(self, steps: list[Step]) -> Step | None:
        with self.fake.lock:
            step = steps.pop(0) if steps else None
        return None if step is None or step.action == "ok" else step

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _drop(self) -> None:
        self.close_connection = True  # no answer: the client sees the connection close

    def _answer_step(self, step: Step) -> None:
        if step.action == "drop":
            self._drop()
        else:
            body = step.body if step.body is not None else _error(step.status, "backendError", "x")
            self.send_json(step.status, body, step.headers)

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/token":
            return self._token()
        if url.path != UPLOAD_PATH:
            return self.send_json(404, _error(404, "notFound", f"no {url.path}"))
        raw = self._body()
        self.fake.log("POST", self.path, self.headers)
        if (step := self._step(self.fake.start_steps)) is not None:
            return self._answer_step(step)
        if not self._authorized():
            return
        q = urllib.parse.parse_qs(url.query)
        if q.get("uploadType") != ["resumable"]:
            return self.send_json(400, _error(400, "badRequest", "expected uploadType=resumable"))
        try:
            total = int(self.headers["X-Upload-Content-Length"])
            metadata = json.loads(raw)
        except (KeyError, ValueError):
            return self.send_json(400, _error(400, "badRequest", "metadata or length missing"))
        sid = secrets.token_urlsafe(12)
        with self.fake.lock:
            self.fake.sessions[sid] = Session(
                sid,
                metadata,
                q.get("part", [""])[0],
                total,
                self.headers.get("X-Upload-Content-Type", ""),
            )
        location = f"{self.fake.url}{UPLOAD_PATH}?uploadType=resumable&upload_id={sid}"
        self.send_bytes(200, b"", headers={"Location": location})

    def do_PUT(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        sid = urllib.parse.parse_qs(url.query).get("upload_id", [""])[0]
        data = self._body()
        crange = self.headers.get("Content-Range", "")
        self.fake.log("PUT", self.path, self.headers, len(data))
        with self.fake.lock:
            session = self.fake.sessions.get(sid)
        if session is None:
            return self.send_json(404, _error(404, "notFound", "no such upload session"))
        if not self._authorized():
            return
        if crange.startswith("bytes */"):
            if (step := self._step(self.fake.status_steps)) is not None:
                return self._answer_step(step)
            return self._progress(session)
        step = self._step(self.fake.chunk_steps)
        if step is not None and step.action in ("status", "drop"):
            return self._answer_step(step)
        try:
            span, total_s = crange.removeprefix("bytes ").split("/")
            start, end = (int(x) for x in span.split("-"))
            assert int(total_s) == session.total and end - start + 1 == len(data)
        except (ValueError, AssertionError):
            return self.send_json(400, _error(400, "badContentRange", f"bad range {crange!r}"))
        last = end + 1 == session.total
        if not last and len(data) % QUANTUM:
            return self.send_json(400, _error(400, "badRequest", "chunk not a 256 KiB multiple"))
        with self.fake.lock:
            have = len(session.data)
            if start > have:
                return self.send_json(400, _error(400, "badRequest", f"gap: have {have}"))
            new = data[have - start :]  # a resent chunk: keep only what is new
            if step is not None and step.action == "partial_then_drop":
                new = new[: len(new) // 2]
            session.data += new
            if len(session.data) == session.total and session.video is None:
                session.video = self.fake.finish(session)
        if step is not None:  # store_then_drop / partial_then_drop: the answer is lost
            return self._drop()
        self._progress(session)

    def _progress(self, session: Session) -> None:
        if session.video is not None:
            return self.send_json(200, session.video)
        headers = {"Range": f"bytes=0-{len(session.data) - 1}"} if session.data else {}
        self.send_bytes(308, b"", headers=headers)

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.fake.access_token}":
            return True
        self.send_json(401, _error(401, "authError", "Invalid Credentials"))
        return False

    def _token(self) -> None:
        form = urllib.parse.parse_qs(self._body().decode())
        self.fake.token_requests.append({k: v[0] for k, v in form.items()})
        if (step := self._step(self.fake.token_steps)) is not None:
            return self._answer_step(step)
        f = self.fake
        if form.get("client_id") != [f.client_id] or form.get("client_secret") != [f.client_secret]:
            return self.send_json(
                401,
                {"error": "invalid_client", "error_description": "The OAuth client was not found."},
            )
        if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [
            f.refresh_token
        ]:
            return self.send_json(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                },
            )
        self.send_json(
            200,
            {
                "access_token": f.access_token,
                "expires_in": 3599,
                "scope": "https://www.googleapis.com/auth/youtube.upload",
                "token_type": "Bearer",
            },
        )


class FakeYouTube(Fake):
    handler = _Handler

    def __init__(self) -> None:
        super().__init__()
        self.client_id = "1234-fake.apps.googleusercontent.com"
        self.client_secret = "GOCSPX-fakeCLIENTsecret0123456789"
        self.refresh_token = "1//fakeREFRESHtoken-abcdefghijklmnop0123456789"
        self.access_token = "ya29.fakeACCESStoken-" + secrets.token_hex(8)
        self.sessions: dict[str, Session] = {}
        self.videos: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.token_requests: list[dict[str, str]] = []
        self.token_steps: list[Step] = []
        self.start_steps: list[Step] = []
        self.chunk_steps: list[Step] = []
        self.status_steps: list[Step] = []
        self._log_lock = threading.Lock()

    def log(self, method: str, path: str, headers: Any, nbytes: int = 0) -> None:
        with self._log_lock:
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "content_range": headers.get("Content-Range", ""),
                    "bytes": nbytes,
                }
            )

    def finish(self, session: Session) -> dict[str, Any]:
        """The video resource YouTube answers once every byte is in (called under the lock)."""
        vid = secrets.token_urlsafe(8)[:11]
        status = {**session.metadata.get("status", {}), "uploadStatus": "uploaded"}
        video = {
            "kind": "youtube#video",
            "id": vid,
            "snippet": {**session.metadata.get("snippet", {}), "channelId": "UCfakeChannel"},
            "status": status,
        }
        self.videos.append({"id": vid, "bytes": bytes(session.data), "metadata": session.metadata})
        return video

    def received(self) -> list[bytes]:
        return [v["bytes"] for v in self.videos]
