"""Per-video manifests and the review queue built on them.

Writes are compare-and-swap on the store's etag, so two reviewers (or a worker and a
reviewer) never silently overwrite each other: the loser gets a ConflictError.
"""

from __future__ import annotations

from collections.abc import Callable

from novaavatar import events
from novaavatar.domain import ReviewState, VideoManifest, utcnow, validate_video_id
from novaavatar.errors import ConflictError, NotFoundError
from novaavatar.store import ArtifactStore


def load(store: ArtifactStore, video_id: str) -> tuple[VideoManifest, str]:
    """The manifest of ``video_id`` and the etag it was read at."""
    key = VideoManifest.key_for(validate_video_id(video_id))
    try:
        data, etag = store.get_with_etag(key)
    except NotFoundError:
        raise NotFoundError(f"no video {video_id!r} in the store") from None
    return VideoManifest.model_validate_json(data), etag


def save(store: ArtifactStore, manifest: VideoManifest, etag: str | None) -> str:
    """Write ``manifest`` if nobody changed it since ``etag`` (None: must be new)."""
    manifest.version += 1
    manifest.updated_at = utcnow()
    data = manifest.model_dump_json(indent=2).encode()
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
    """Record a reviewer's decision. With ``expected_version`` (what the reviewer saw), a
    decision made meanwhile by someone else is reported as a conflict, not overwritten."""
    manifest, etag = load(store, video_id)
    if expected_version is not None and manifest.version != expected_version:
        last = manifest.history[-1] if manifest.history else None
        who = f" by {last.by} ({last.state.value})" if last else ""
        raise ConflictError(
            f"video {video_id} changed since you opened it{who}; reload and decide again"
        )
    manifest.transition(state, by=by, note=note)
    save(store, manifest, etag)
    events.emit_decision(manifest)  # novaavatar.video.<state> for Prefect automations
    return manifest


def all_manifests(store: ArtifactStore) -> list[VideoManifest]:
    out = []
    for key in store.list("videos"):
        if key.endswith("/manifest.json"):
            out.append(VideoManifest.model_validate_json(store.get_bytes(key)))
    return sorted(out, key=lambda m: m.created_at, reverse=True)


def queue(store: ArtifactStore, state: ReviewState | None = None) -> list[VideoManifest]:
    """Videos in ``state`` (all when None), newest first."""
    return [m for m in all_manifests(store) if state is None or m.state is state]
