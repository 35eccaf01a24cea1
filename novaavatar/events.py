"""Prefect events for review decisions: ``novaavatar.video.approved`` / ``rejected`` /
``edited``, on the video as the resource, so automations (see ``prefect.yaml``) and the
Prefect UI's event feed follow the desk. Emitted from the one place decisions are recorded
(:func:`novaavatar.manifests.decide`); without a Prefect API nothing is sent."""

from __future__ import annotations

import logging

from novaavatar.domain import ReviewState, VideoManifest

log = logging.getLogger(__name__)

DECISION_EVENTS = {
    ReviewState.APPROVED: "novaavatar.video.approved",
    ReviewState.REJECTED: "novaavatar.video.rejected",
}
EDITED = "novaavatar.video.edited"  # for a script edit (a new take); not emitted yet
RESOURCE_PREFIX = "novaavatar.video."


def video_resource(video_id: str) -> str:
    """The Prefect resource id of a video: ``novaavatar.video.<video_id>``."""
    return f"{RESOURCE_PREFIX}{video_id}"


def emit_decision(m: VideoManifest) -> None:
    """Emit the event of ``m``'s last decision; a failure is logged, never raised (the
    decision is already saved)."""
    if not m.history or m.history[-1].state not in DECISION_EVENTS:
        return
    last = m.history[-1]
    try:
        from prefect.events import emit_event

        title = m.script.title if m.script and m.script.title else m.item.title
        related = []
        if m.flow_run_id:
            related.append(
                {
                    "prefect.resource.id": f"prefect.flow-run.{m.flow_run_id}",
                    "prefect.resource.role": "flow-run",
                }
            )
        emit_event(
            event=DECISION_EVENTS[last.state],
            resource={
                "prefect.resource.id": video_resource(m.video_id),
                "prefect.resource.name": title[:200],
                "novaavatar.reviewer": last.by,
            },
            related=related,
            payload={
                "video_id": m.video_id,
                "by": last.by,
                "note": last.note,
                "version": m.version,
            },
        )
    except Exception as e:  # an event is news, not the record: the manifest is
        log.warning("could not emit the Prefect event for %s: %s", m.video_id, e)
