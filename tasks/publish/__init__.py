"""Publishing approved videos: the publish package and YouTube.

:func:`publish` is the one way out of the system, used by the flow, the CLI, the review page
and the API alike. It re-reads the manifest and refuses anything that is not approved (or
already exported, to re-publish), before any file is written or any byte is sent, and again
at every step of an upload: a video rejected meanwhile stops there.

The manifest records each channel in ``publications``: the package location, the YouTube
video id and URL, upload progress, or the error that stopped it. The video becomes
*exported* once every channel asked for is done; a failed upload leaves it *approved* and a
rerun resumes the stored session (``videos/<id>/publish/youtube-session.json``, kept out of
the manifest: a session URI lets whoever holds it upload into it).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, get_args

from blocks.youtube import YouTubeOAuth, youtube_oauth
from novaavatar import manifests
from novaavatar.domain import Publication, ReviewState, VideoManifest, utcnow
from novaavatar.errors import ConflictError, InputError, NotFoundError, SettingsError
from novaavatar.settings import Settings, get_settings
from novaavatar.store import ArtifactStore
from tasks.publish.package import write_package
from tasks.publish.youtube import (
    WATCH_URL,
    Uploader,
    UploadSession,
    YouTubeError,
    access_credentials,
    redact,
    youtube_service,
)

log = logging.getLogger("novaavatar.publish")

Channel = Literal["package", "youtube"]
CHANNELS: tuple[str, ...] = get_args(Channel)
PUBLISHABLE = (ReviewState.APPROVED, ReviewState.EXPORTED)
LEASE = timedelta(minutes=5)  # an upload renews it at every chunk; a crashed one lets go


class NotPublishable(ConflictError):
    """The video is not approved: nothing of it may leave the system."""


@dataclass
class PublishResult:
    video_id: str
    package: str
    state: ReviewState
    youtube_url: str | None = None
    youtube_id: str | None = None
    keys: list[str] = field(default_factory=list)


def check_channels(channels: Iterable[str]) -> list[str]:
    """The channels asked for, checked; ``youtube`` implies the package (it uploads its MP4)."""
    chosen = list(dict.fromkeys(channels))
    bad = [c for c in chosen if c not in CHANNELS]
    if bad or not chosen:
        raise InputError(
            f"unknown channel(s) {', '.join(map(repr, bad)) or '(none)'}: choose from "
            f"{', '.join(CHANNELS)}"
        )
    return ["package", *(c for c in chosen if c != "package")]


def ensure_publishable(m: VideoManifest) -> None:
    """Raise :class:`NotPublishable` unless ``m`` is approved or already exported."""
    if m.state not in PUBLISHABLE:
        raise NotPublishable(
            f"video {m.video_id} is {m.state.value}; only approved videos are published "
            "(approve it in the review page or with `novaavatar approve`)"
        )
    if m.final is None:
        raise NotPublishable(f"video {m.video_id} has no final video to publish")


def ensure_not_sample(m: VideoManifest, channels: Iterable[str]) -> None:
    """Raise :class:`NotPublishable` when ``m`` tells a bundled sample story (fiction) and a
    channel other than the local package is asked for: fiction never goes on air."""
    remote = [c for c in channels if c != "package"]
    if m.item.sample and remote:
        raise NotPublishable(
            f"video {m.video_id} is made from a bundled SAMPLE story (fiction, not real news): "
            f"it is never published to {', '.join(remote)}; only its local package is exported"
        )


def youtube_configured(settings: Settings | None = None) -> bool:
    """Whether YouTube credentials are set (env variables or a block name); nothing is loaded."""
    s = settings or get_settings()
    token = s.youtube_refresh_token.get_secret_value() if s.youtube_refresh_token else ""
    return bool(token or s.youtube_credentials_block)


def _session_key(video_id: str) -> str:
    return f"videos/{video_id}/publish/youtube-session.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def publish(
    store: ArtifactStore,
    video_id: str,
    channels: Iterable[str] = ("package",),
    by: str = "export",
    settings: Settings | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    backoff_s: float = 1.0,
) -> PublishResult:
    """Write the package and publish to ``channels``; only approved or exported videos."""
    s = settings or get_settings()
    chosen = check_channels(channels)
    m, _ = manifests.load(store, video_id)
    ensure_publishable(m)
    ensure_not_sample(m, chosen)
    oauth = None
    if "youtube" in chosen and not _published(m, "youtube"):
        oauth = youtube_oauth(s)
        if oauth is None:
            raise SettingsError(
                "YouTube is not configured: set YOUTUBE_CREDENTIALS_BLOCK (a NovaAvatar YouTube "
                "Credentials block) or YOUTUBE_CLIENT_ID, YOUTUBE_CLIENT_SECRET and "
                "YOUTUBE_REFRESH_TOKEN"
            )

    pkg = write_package(store, m, s.youtube_privacy, s.youtube_category)
    done_now = "youtube" not in chosen or _published(m, "youtube")

    def record_package(mm: VideoManifest) -> None:
        ensure_publishable(mm)
        mm.publications["package"] = Publication(
            channel="package", status="published", by=by, location=f"{pkg.prefix}/"
        )
        if done_now and mm.state is ReviewState.APPROVED:
            mm.transition(ReviewState.EXPORTED, by=by)

    try:
        m = manifests.update(store, video_id, record_package)
    except NotPublishable:
        for key in pkg.keys:  # rejected while the package was written: take it back
            store.delete(key)
        raise
    result = PublishResult(video_id, f"{pkg.prefix}/", m.state, keys=list(pkg.keys))
    if oauth is not None:
        m = _upload_youtube(store, m, pkg.youtube_body, oauth, s, by, progress, sleep, backoff_s)
        result.state = m.state
    yt = m.publications.get("youtube")
    if yt is not None and yt.status == "published":
        result.youtube_url, result.youtube_id = yt.location, yt.remote_id
    return result


def _published(m: VideoManifest, channel: str) -> bool:
    p = m.publications.get(channel)
    return p is not None and p.status == "published"


def _upload_youtube(
    store: ArtifactStore,
    m: VideoManifest,
    body: dict[str, object],
    oauth: YouTubeOAuth,
    s: Settings,
    by: str,
    progress: Callable[[int, int], None] | None,
    sleep: Callable[[float], None],
    backoff_s: float,
) -> VideoManifest:
    """Upload the package's MP4, resuming a stored session; record the outcome."""
    vid = m.video_id
    path = store.materialize(f"exports/{vid}/video.mp4")
    size, digest = path.stat().st_size, _sha256(path)

    def take_lease(mm: VideoManifest) -> None:
        ensure_publishable(mm)
        old = mm.publications.get("youtube")
        now = utcnow()
        if old and old.status == "uploading" and old.lease_until and old.lease_until > now:
            raise ConflictError(
                f"video {vid} is being uploaded to YouTube by {old.by or 'someone'} since "
                f"{old.at:%H:%M:%S} UTC; try again after {old.lease_until:%H:%M:%S} UTC"
            )
        mm.publications["youtube"] = Publication(
            channel="youtube",
            status="uploading",
            by=by,
            total_bytes=size,
            sent_bytes=old.sent_bytes if old else 0,
            attempts=(old.attempts if old else 0) + 1,
            lease_until=now + LEASE,
            privacy=s.youtube_privacy,
        )

    def note(mm: VideoManifest, **changes: object) -> None:
        old = mm.publications["youtube"]
        mm.publications["youtube"] = old.model_copy(update={"at": utcnow(), **changes})

    manifests.update(store, vid, take_lease)
    sent = [0]

    def on_progress(done: int, total: int) -> None:
        sent[0] = done
        if progress is not None:
            progress(done, total)
        if done < total:  # renew the lease; stop if the video was rejected meanwhile

            def step(mm: VideoManifest) -> None:
                ensure_publishable(mm)
                note(mm, sent_bytes=done, lease_until=utcnow() + LEASE)

            manifests.update(store, vid, step)

    def on_session_uri(uri: str) -> None:
        store.put_bytes(_session_key(vid), UploadSession(uri, size, digest).to_json())
        log.info("YouTube upload session opened for %s (%d bytes)", vid, size)

    try:
        creds = access_credentials(oauth, s)
        service, http = youtube_service(creds, s, on_session_uri)
        uploader = Uploader(service, http, s, sleep=sleep, backoff_s=backoff_s)
        uploader.on_progress = on_progress
        video = _resume_or_upload(store, uploader, vid, path, size, digest, body)
    except Exception as e:
        msg = redact(str(e), oauth.secrets())
        if not isinstance(e, YouTubeError | NotPublishable | ConflictError):
            msg = f"{type(e).__name__}: {msg}"

        def failed(mm: VideoManifest) -> None:
            note(mm, status="failed", error=msg, lease_until=None, sent_bytes=sent[0])

        manifests.update(store, vid, failed)
        log.warning("YouTube upload of %s failed: %s", vid, msg)
        if isinstance(e, YouTubeError | NotPublishable | ConflictError):
            raise type(e)(msg) from None
        raise YouTubeError(msg) from None

    yt_id = str(video.get("id", ""))
    if not yt_id:
        raise YouTubeError(f"YouTube answered the upload of {vid} without a video id")

    def published(mm: VideoManifest) -> None:
        note(
            mm,
            status="published",
            remote_id=yt_id,
            location=WATCH_URL.format(yt_id),
            sent_bytes=size,
            lease_until=None,
            error="",
            privacy=str(video.get("status", {}).get("privacyStatus", s.youtube_privacy)),
        )
        if mm.state is ReviewState.APPROVED:
            mm.transition(ReviewState.EXPORTED, by=by, note=f"YouTube {yt_id}")

    m = manifests.update(store, vid, published)
    store.delete(_session_key(vid))
    log.info("published %s on YouTube as %s", vid, yt_id)
    return m


def _resume_or_upload(
    store: ArtifactStore,
    uploader: Uploader,
    vid: str,
    path: Path,
    size: int,
    digest: str,
    body: dict[str, object],
) -> dict[str, Any]:
    """What the stored session says (finished, resumable, gone), then the upload from there."""
    resume: tuple[str, int] | None = None
    try:
        session = UploadSession.from_json(store.get_bytes(_session_key(vid)))
    except NotFoundError:
        session = None
    except (ValueError, KeyError):
        log.warning("unreadable YouTube session of %s: starting a new upload", vid)
        session = None
    if session is not None:
        state = uploader.status(session)
        if isinstance(state, dict):  # it finished before: never upload twice
            log.info("YouTube upload of %s had already finished", vid)
            return state
        if state is None:
            log.info("YouTube upload session of %s expired: starting a new one", vid)
        elif session.sha256 != digest or session.size != size:
            log.info("the MP4 of %s changed since its upload began: starting a new one", vid)
        else:
            resume = (session.uri, state)
            log.info("resuming the YouTube upload of %s at %d of %d bytes", vid, state, size)
            uploader.on_progress(state, size)
    return uploader.upload(path, dict(body), resume)
