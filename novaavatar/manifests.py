"""Per-video manifests and the review queue built on them.

Writes are compare-and-swap on the store's etag, so two reviewers (or a worker and a
reviewer) never silently overwrite each other: the loser gets a ConflictError.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import ValidationError

from novaavatar import events
from novaavatar.domain import ReviewState, VideoManifest, utcnow, validate_video_id
from novaavatar.errors import ConflictError, CorruptError, NotFoundError
from novaavatar.store import ArtifactStore

log = logging.getLogger("novaavatar.manifests")


def parse(data: bytes, video_id: str) -> VideoManifest:
    """A manifest from its bytes; a damaged one is a :class:`CorruptError` that names the video
    and what is wrong, never quoting the file (it could hold anything)."""
    try:
        return VideoManifest.model_validate_json(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        what = (
            "is truncated or not JSON"
            if first["type"] == "json_invalid"
            else (f"has a bad field {where} ({first['type']})")
        )
        raise CorruptError(
            f"the manifest of {video_id} {what}; restore videos/{video_id}/manifest.json "
            "from a backup or produce the video again"
        ) from None


def load(store: ArtifactStore, video_id: str) -> tuple[VideoManifest, str]:
    """The manifest of ``video_id`` and the etag it was read at."""
    key = VideoManifest.key_for(validate_video_id(video_id))
    try:
        data, etag = store.get_with_etag(key)
    except NotFoundError:
        raise NotFoundError(f"no video {video_id!r} in the store") from None
    return parse(data, video_id), etag


def save(store: ArtifactStore, manifest: VideoManifest, etag: str | None) -> str:
    """Write ``manifest`` if nobody changed it since ``etag`` (None: must be new)."""
    manifest.version += 1
    manifest.updated_at = utcnow()
    from novaavatar.logs import redact  # no secret or absolute path is ever stored

    data = redact(manifest.model_dump_json(indent=2)).encode()
    return store.put_if_match(VideoManifest.key_for(manifest.video_id), data, etag)


def update(
    store: ArtifactStore, video_id: str, change: Callable[[VideoManifest], None], retries: int = 5
) -> VideoManifest:
    """Apply ``change`` to the latest manifest, re-reading on a lost race (for workers)."""
    for _ in range(retries):
        manifest, etag = load(store, video_id)
        change(manifest)
        try:
            save(store, manifest, etag)
            return manifest
        except ConflictError:
            continue
    raise ConflictError(f"manifest of {video_id} kept changing; gave up after {retries} tries")


def decide(
    store: ArtifactStore,
    video_id: str,
    state: ReviewState,
    by: str,
    note: str = "",
    expected_version: int | None = None,
) -> VideoManifest:
    """Record a reviewer's decision; the one place decisions are applied, for every door.

    A decision needs what the reviewer saw: without ``expected_version`` it applies only to a
    pending video; changing an approved or rejected one needs the version it had when the
    reviewer looked. A decision made meanwhile by someone else is a :class:`ConflictError`
    (409), never overwritten, so of two concurrent decisions exactly one wins, and only the
    winner's caller goes on to send the webhook and the event.
    """
    manifest, etag = load(store, video_id)
    last = manifest.history[-1] if manifest.history else None
    who = f" by {last.by} ({last.state.value})" if last else ""
    if expected_version is not None and manifest.version != expected_version:
        raise ConflictError(
            f"video {video_id} changed since you opened it{who}; reload and decide again"
        )
    if expected_version is None and manifest.state in (ReviewState.APPROVED, ReviewState.REJECTED):
        raise ConflictError(
            f"video {video_id} is {manifest.state.value}"
            + (f" (decided by {last.by})" if last else "")
            + f"; to change that decision, send the version you saw "
            f"(expected_version={manifest.version})"
        )
    manifest.transition(state, by=by, note=note)
    save(store, manifest, etag)  # ConflictError when another decision was saved first
    events.emit_decision(manifest)  # novaavatar.video.<state> for Prefect automations
    return manifest


def all_manifests(store: ArtifactStore) -> list[VideoManifest]:
    out = []
    for key in store.list("videos"):
        if key.endswith("/manifest.json"):
            try:
                out.append(parse(store.get_bytes(key), key.split("/")[-2]))
            except CorruptError as e:  # one damaged manifest must not hide the whole queue
                log.warning("%s", e)
    return sorted(out, key=lambda m: m.created_at, reverse=True)


def variant_group(store: ArtifactStore, group: str) -> list[VideoManifest]:
    """The takes of an A/B group, in label order (A, B, ...)."""
    takes = [m for m in all_manifests(store) if m.variant is not None and m.variant.group == group]
    return sorted(takes, key=lambda m: m.variant.index if m.variant else 0)


def queue(store: ArtifactStore, state: ReviewState | None = None) -> list[VideoManifest]:
    """Videos in ``state`` (all when None), newest first."""
    return [m for m in all_manifests(store) if state is None or m.state is state]
