"""Review decisions, the same from every door: the rule, the record, and who is told."""

from __future__ import annotations

import threading

from novaavatar import manifests, webhooks
from novaavatar.domain import ReviewState, VideoManifest
from novaavatar.errors import NovaAvatarError
from novaavatar.settings import Settings, get_settings
from novaavatar.store import ArtifactStore


class UnknownReviewer(NovaAvatarError):
    """REVIEWERS is set and the one deciding is not in it."""


def decide(
    store: ArtifactStore,
    video_id: str,
    state: ReviewState,
    by: str,
    note: str = "",
    expected_version: int | None = None,
    settings: Settings | None = None,
    wait_for_webhook: bool = False,
) -> VideoManifest:
    """Record ``by``'s decision on the version they saw (``expected_version``); ConflictError
    when someone changed the video meanwhile, ValueError for a transition the workflow
    forbids. An approval tells ``WEBHOOK_URL`` (in the background unless
    ``wait_for_webhook``, for a process about to exit)."""
    s = settings or get_settings()
    if s.reviewers and by not in s.reviewers:
        raise UnknownReviewer(f"reviewer {by!r} is not in REVIEWERS")
    decided = manifests.decide(
        store, video_id, state, by=by, note=note, expected_version=expected_version
    )
    if state is ReviewState.APPROVED:
        if wait_for_webhook:
            webhooks.notify(webhooks.APPROVED, decided, s)
        else:
            threading.Thread(
                target=webhooks.notify, args=(webhooks.APPROVED, decided, s), daemon=True
            ).start()
    return decided
