"""Review decisions, the same from every door: the rule, the record, and who is told."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from novaavatar import manifests, webhooks
from novaavatar.domain import VARIANT_LOST, ReviewState, VideoManifest
from novaavatar.errors import ConflictError, NovaAvatarError
from novaavatar.settings import Settings, get_settings
from novaavatar.store import ArtifactStore

log = logging.getLogger("novaavatar.decisions")


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
    ``wait_for_webhook``, for a process about to exit).

    Approving one take of an A/B group rejects the group's other takes still pending or
    approved, by the same reviewer, with the note "another variant chosen"."""
    s = settings or get_settings()
    if s.reviewers and by not in s.reviewers:
        raise UnknownReviewer(f"reviewer {by!r} is not in REVIEWERS")
    decided = manifests.decide(
        store, video_id, state, by=by, note=note, expected_version=expected_version
    )
    if state is ReviewState.APPROVED:
        reject_other_takes(store, decided, by)
        if wait_for_webhook:
            webhooks.notify(webhooks.APPROVED, decided, s)
        else:
            threading.Thread(
                target=webhooks.notify, args=(webhooks.APPROVED, decided, s), daemon=True
            ).start()
    return decided


def reject_other_takes(store: ArtifactStore, chosen: VideoManifest, by: str) -> list[str]:
    """Reject the takes of ``chosen``'s A/B group other than it (pending or approved ones),
    each through :func:`manifests.decide` so its event is sent; the ids rejected.

    A take someone else decided on meanwhile is left as they decided it; of two takes
    approved at once, the later approval stands."""
    if chosen.variant is None:
        return []
    rejected = []
    for other in manifests.variant_group(store, chosen.variant.group):
        if other.video_id == chosen.video_id or other.state not in (
            ReviewState.PENDING,
            ReviewState.APPROVED,
        ):
            continue
        if other.state is ReviewState.APPROVED and _approved_at(other) > _approved_at(chosen):
            continue  # chosen after this one (a concurrent choice): its own call rejects ours
        seen = other.version if other.state is ReviewState.APPROVED else None
        try:
            manifests.decide(store, other.video_id, ReviewState.REJECTED, by, VARIANT_LOST, seen)
        except (ConflictError, ValueError) as e:
            log.warning(
                "take %s of group %s not rejected: %s", other.video_id, chosen.variant.group, e
            )
            continue
        rejected.append(other.video_id)
    return rejected


def _approved_at(m: VideoManifest) -> datetime:
    last = next((e for e in reversed(m.history) if e.state is ReviewState.APPROVED), None)
    return last.at if last else m.updated_at
