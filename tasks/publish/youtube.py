"""YouTube upload through google-api-python-client: OAuth refresh, resumable upload, resume.

The client is built from the discovery document shipped in the package (no network). A
resumable session is opened with ``videos.insert`` (``uploadType=resumable``) and the file
goes up in chunks with ``request.next_chunk()``. On 429 (after Retry-After), 5xx or a
dropped connection the loop backs off and the client asks the server how much it has
(``Content-Range: bytes */N`` → 308 with ``Range``) and goes on from there. The session URI
is handed to ``on_session`` before any byte is sent, so a later run (another process)
continues the same session, or learns that it already finished, instead of uploading twice.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from blocks.youtube import UPLOAD_SCOPE, YouTubeOAuth
from novaavatar.errors import ProviderError
from novaavatar.settings import Settings

log = logging.getLogger("novaavatar.publish")

RETRYABLE = frozenset({429, 500, 502, 503, 504})
MAX_WAIT_S = 120.0  # cap on one backoff or Retry-After wait
WATCH_URL = "https://www.youtube.com/watch?v={}"


class YouTubeError(ProviderError):
    """The upload failed; the message says why and what to check, never a secret."""


class YouTubeUnavailable(YouTubeError):
    """YouTube kept failing (5xx, 429, dropped links) through every retry: worth a later run."""


class YouTubeAuthError(YouTubeError):
    """The OAuth token could not be obtained with the configured client credentials."""


@dataclass(frozen=True)
class UploadSession:
    """A resumable upload session of one file, as stored between runs."""

    uri: str
    size: int
    sha256: str

    def to_json(self) -> bytes:
        return json.dumps({"uri": self.uri, "size": self.size, "sha256": self.sha256}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> UploadSession:
        d = json.loads(data)
        return cls(uri=str(d["uri"]), size=int(d["size"]), sha256=str(d["sha256"]))


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def access_credentials(oauth: YouTubeOAuth, settings: Settings) -> Any:
    """google-auth user credentials, refreshed now so a bad client fails before any upload."""
    import google.auth.exceptions
    import google.oauth2.credentials
    from google.auth.transport.requests import Request

    creds = google.oauth2.credentials.Credentials(
        token=None,
        refresh_token=oauth.refresh_token.get_secret_value(),
        client_id=oauth.client_id,
        client_secret=oauth.client_secret.get_secret_value(),
        token_uri=oauth.token_uri,
        scopes=[UPLOAD_SCOPE],
    )
    try:
        creds.refresh(Request())
    except google.auth.exceptions.GoogleAuthError as e:
        detail = e.args[0] if e.args and isinstance(e.args[0], str) else str(e)
        raise YouTubeAuthError(
            f"YouTube sign-in failed with {oauth.source} (client id {oauth.client_id!r}, token "
            f"endpoint {oauth.token_uri}): {redact(detail, oauth.secrets())}. Check the client "
            "id and secret, and that the refresh token was granted youtube.upload and is not "
            "revoked"
        ) from None
    return creds


class _SessionWatch:
    """The HTTP transport, noticing the resumable session URI as soon as the server gives it."""

    def __init__(self, http: Any, on_session_uri: Callable[[str], None]) -> None:
        self._http = http
        self._on_session_uri = on_session_uri

    def request(
        self, uri: str, method: str = "GET", body: Any = None, headers: Any = None, **kw: Any
    ) -> tuple[Any, bytes]:
        resp, content = self._http.request(uri, method, body=body, headers=headers, **kw)
        if (
            method == "POST"
            and "uploadType=resumable" in uri
            and resp.status == 200
            and "location" in resp
        ):
            self._on_session_uri(resp["location"])
        return resp, content

    def __getattr__(self, name: str) -> Any:
        return getattr(self._http, name)


def youtube_service(
    creds: Any, settings: Settings, on_session_uri: Callable[[str], None]
) -> tuple[Any, Any]:
    """The ``youtube`` v3 client, built offline, and its authorized httplib2 transport."""
    from google_auth_httplib2 import AuthorizedHttp
    from googleapiclient.discovery import build, build_from_document
    from googleapiclient.discovery_cache import get_static_doc
    from googleapiclient.http import build_http

    base = build_http()  # an httplib2.Http that does not take 308 (resume) for a redirect
    base.timeout = settings.youtube_timeout
    http = _SessionWatch(AuthorizedHttp(creds, http=base), on_session_uri)
    if not settings.youtube_api_url:
        service = build("youtube", "v3", http=http, static_discovery=True, cache_discovery=False)
        return service, http
    # Another root (a test server, a proxy): media uploads are addressed from the discovery
    # document's rootUrl (client_options.api_endpoint swaps only the host, keeping https),
    # so the shipped document is used with its rootUrl replaced.
    doc = json.loads(get_static_doc("youtube", "v3") or "{}")
    doc["rootUrl"] = settings.youtube_api_url.rstrip("/") + "/"
    return build_from_document(doc, http=http), http


def _retry_after(resp: Any) -> float | None:
    value = resp.get("retry-after") if resp is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _api_error(status: int, content: bytes) -> str:
    """``reason: message`` from a Google API error body, or the start of the body."""
    try:
        err = json.loads(content)["error"]
        reasons = ",".join(e.get("reason", "") for e in err.get("errors", []))
        return f"{reasons or err.get('status', '')}: {err.get('message', '')}".strip(": ")
    except (ValueError, KeyError, TypeError, AttributeError):
        text = content[:200].decode("utf-8", "replace") if content else ""
        return " ".join(text.split()) or "no details"


def _chunk_bytes_upload() -> type:
    from googleapiclient.http import MediaFileUpload

    class ChunkBytesUpload(MediaFileUpload):  # type: ignore[misc]
        """Chunks as bytes, not a slice of the open file: httplib2 resends a request once when
        a kept-alive connection turns out closed, and a resent, already-read file slice is
        empty (the server then waits for the body until the timeout)."""

        def has_stream(self) -> bool:
            return False

    return ChunkBytesUpload


@dataclass
class Uploader:
    """Uploads one file; ``sleep``/``backoff_s`` pace the retries."""

    service: Any
    http: Any
    settings: Settings
    sleep: Callable[[float], None] = time.sleep
    backoff_s: float = 1.0
    on_progress: Callable[[int, int], None] = lambda sent, total: None

    def _wait(self, failures: int, resp: Any, why: str) -> None:
        if failures > self.settings.youtube_max_retries:
            raise YouTubeUnavailable(
                f"YouTube upload gave up after {failures - 1} retries; last: {why}. "
                "Run the export again to resume where it stopped"
            )
        wait = _retry_after(resp)
        if wait is None:
            wait = self.backoff_s * 2 ** (failures - 1) * (0.5 + random.random() / 2)
        wait = min(wait, MAX_WAIT_S)
        log.warning("YouTube upload: %s; retry %d in %.1f s", why, failures, wait)
        self.sleep(wait)

    def status(self, session: UploadSession) -> int | dict[str, Any] | None:
        """How much of ``session`` the server has (bytes), its video when complete, or None
        when the session is gone (expired or unknown)."""
        http = self.http
        failures = 0
        while True:
            try:
                resp, content = http.request(
                    session.uri,
                    "PUT",
                    headers={"Content-Range": f"bytes */{session.size}", "Content-Length": "0"},
                )
            except (TimeoutError, OSError, ssl.SSLError) as e:
                failures += 1
                self._wait(failures, None, f"status query: {type(e).__name__}")
                continue
            if resp.status in (200, 201):
                return dict(json.loads(content))
            if resp.status == 308:
                rng = resp.get("range")
                return int(rng.split("-")[1]) + 1 if rng else 0
            if resp.status in (404, 410):
                return None
            if resp.status in RETRYABLE:
                failures += 1
                self._wait(failures, resp, f"status query: HTTP {resp.status}")
                continue
            raise YouTubeError(
                f"YouTube refused the upload status query (HTTP {resp.status}, "
                f"{_api_error(resp.status, content)})"
            )

    def upload(
        self, path: Path, body: dict[str, Any], resume: tuple[str, int] | None = None
    ) -> dict[str, Any]:
        """Send ``path`` with metadata ``body``; ``resume``: (session URI, bytes the server has)."""
        import httplib2
        from googleapiclient.errors import HttpError

        size = path.stat().st_size
        media = _chunk_bytes_upload()(
            str(path),
            mimetype="video/mp4",
            resumable=True,
            chunksize=self.settings.youtube_chunk_kib * 1024,
        )
        request = self.service.videos().insert(part="snippet,status", body=body, media_body=media)
        if resume is not None:
            request.resumable_uri, request.resumable_progress = resume
        failures = 0
        while True:
            try:
                progress, response = request.next_chunk(num_retries=0)
            except HttpError as e:
                status = int(e.resp.status)
                if status in (401, 403):
                    raise YouTubeError(
                        f"YouTube refused the upload (HTTP {status}, "
                        f"{_api_error(status, e.content)}): check the channel's permissions, "
                        "the youtube.upload scope and the daily quota"
                    ) from None
                if status not in RETRYABLE:
                    raise YouTubeError(
                        f"YouTube refused the upload (HTTP {status}, "
                        f"{_api_error(status, e.content)})"
                    ) from None
                failures += 1
                self._wait(failures, e.resp, f"HTTP {status}")
                continue
            except (TimeoutError, OSError, ssl.SSLError, httplib2.HttpLib2Error) as e:
                # the chunk may or may not have arrived: the client asks the server next time
                failures += 1
                self._wait(failures, None, f"connection lost ({type(e).__name__})")
                continue
            failures = 0
            if response is not None:
                self.on_progress(size, size)
                return dict(response)
            if progress is not None:
                self.on_progress(int(progress.resumable_progress), size)
