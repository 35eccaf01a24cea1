"""Signed webhooks: ``WEBHOOK_URL`` is told when a video is ready for review or approved.

Each delivery is a JSON POST with ``X-NovaAvatar-Signature: t=<unix time>,v1=<hex>``, where
``v1`` is HMAC-SHA256 under ``WEBHOOK_SECRET`` of ``"<t>." + body``; receivers recompute
it (:func:`verify`) and refuse old timestamps, so a captured delivery cannot be replayed.
Delivery never raises: a receiver that is down costs a few retries and a log line.
This module imports neither FastAPI nor Prefect, so flows can call :func:`notify` cheaply.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from novaavatar.domain import VideoManifest, utcnow
from novaavatar.logs import redact

READY_FOR_REVIEW = "video.ready_for_review"
APPROVED = "video.approved"
SIGNATURE_HEADER = "X-NovaAvatar-Signature"
EVENT_HEADER = "X-NovaAvatar-Event"
DELIVERY_HEADER = "X-NovaAvatar-Delivery"

log = logging.getLogger("novaavatar.webhooks")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, tolerance_s: float = 300, now: float | None = None
) -> bool:
    """Whether ``header`` signs ``body`` under ``secret`` and is at most ``tolerance_s`` old."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


@dataclass(frozen=True)
class WebhookSender:
    """POSTs signed events to one URL: ``attempts`` tries, ``timeout_s`` each, backing off."""

    url: str
    secret: str
    timeout_s: float = 5.0
    attempts: int = 3
    backoff_s: float = 0.5

    def send(self, event: str, data: dict[str, Any]) -> bool:
        """Deliver ``event``; True when the receiver answered 2xx."""
        delivery = str(uuid.uuid4())
        body = redact(
            json.dumps(
                {"id": delivery, "event": event, "created_at": utcnow().isoformat(), "data": data},
                separators=(",", ":"),
            )
        ).encode()
        where = urlsplit(self.url).netloc  # never log the path or query: they may hold a key
        for attempt in range(1, self.attempts + 1):
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "novaavatar-webhooks/1",
                EVENT_HEADER: event,
                DELIVERY_HEADER: delivery,
                SIGNATURE_HEADER: sign(self.secret, int(time.time()), body),
            }
            try:
                r = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout_s)
            except httpx.HTTPError as e:
                reason = type(e).__name__
            else:
                if r.is_success:
                    return True
                reason = f"HTTP {r.status_code}"
                if r.status_code < 500 and r.status_code != 429:
                    break  # the receiver refuses this delivery; asking again will not help
            if attempt < self.attempts:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
        log.warning("webhook %s to %s not delivered (%s)", event, where, reason)
        return False


def sender_from_settings(settings: Any = None) -> WebhookSender | None:
    """The sender ``WEBHOOK_URL``/``WEBHOOK_SECRET`` configure, or None when unset."""
    from novaavatar.settings import get_settings

    s = settings or get_settings()
    if not s.webhook_url or s.webhook_secret is None:
        return None
    return WebhookSender(url=s.webhook_url, secret=s.webhook_secret.get_secret_value())


def event_data(manifest: VideoManifest) -> dict[str, Any]:
    """What a receiver needs to act on a video; paths are relative to the API's base URL."""
    last = manifest.history[-1] if manifest.history else None
    vid = manifest.video_id
    return {
        "video_id": vid,
        "state": manifest.state.value,
        "version": manifest.version,
        "title": manifest.item.title,
        "item_id": manifest.item.id,
        "by": last.by if last else None,
        "note": last.note if last else None,
        "links": {
            "video": f"/api/videos/{vid}",
            "manifest": f"/api/videos/{vid}/manifest",
            "captions": f"/api/videos/{vid}/captions.vtt",
        },
    }


def notify(event: str, manifest: VideoManifest, settings: Any = None) -> bool:
    """Send ``event`` about ``manifest`` when a webhook is configured; never raises."""
    try:
        sender = sender_from_settings(settings)
        return sender.send(event, event_data(manifest)) if sender else False
    except Exception:  # a webhook must never fail a flow or a review decision
        log.exception("webhook %s for %s failed", event, manifest.video_id)
        return False
