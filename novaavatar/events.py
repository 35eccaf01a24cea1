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
EDITED = "novaavatar.video.edited"  # a script edit, a trim or a background swap (a new take)
EDIT_KINDS = ("script", "trim", "background")
RESOURCE_PREFIX = "novaavatar.video."
VIDEO_ID_LABEL = "novaavatar.video-id"  # the bare id, for automations' parameters


def video_resource(video_id: str) -> str:
    """The Prefect resource id of a video: ``novaavatar.video.<video_id>``."""
    return f"{RESOURCE_PREFIX}{video_id}"


def _video(m: VideoManifest, by: str) -> dict[str, str]:
    title = m.script.title if m.script and m.script.title else m.item.title
    return {
        "prefect.resource.id": video_resource(m.video_id),
        "prefect.resource.name": title[:200],
        VIDEO_ID_LABEL: m.video_id,
        "novaavatar.reviewer": by,
    }


def _related(m: VideoManifest) -> list[dict[str, str]]:
    if not m.flow_run_id:
        return []
    return [
        {
            "prefect.resource.id": f"prefect.flow-run.{m.flow_run_id}",
            "prefect.resource.role": "flow-run",
        }
    ]


def emit_decision(m: VideoManifest) -> None:
    """Emit the event of ``m``'s last decision; a failure is logged, never raised (the
    decision is already saved)."""
    if not m.history or m.history[-1].state not in DECISION_EVENTS:
        return
    last = m.history[-1]
    try:
        from prefect.events import emit_event

        emit_event(
            event=DECISION_EVENTS[last.state],
            resource=_video(m, last.by),
            related=_related(m),
            payload={
                "video_id": m.video_id,
                "by": last.by,
                "note": last.note,
                "version": m.version,
            },
        )
    except Exception as e:  # an event is news, not the record: the manifest is
        log.warning("could not emit the Prefect event for %s: %s", m.video_id, e)


def emit_edit(m: VideoManifest, kind: str) -> None:
    """Emit ``novaavatar.video.edited`` for the edit ``m``'s history ends with (``kind``:
    script, trim or background), from the flow run that recorded it; never raises."""
    if kind not in EDIT_KINDS:
        raise ValueError(f"edit kind {kind!r}: choose from {', '.join(EDIT_KINDS)}")
    if not m.history:
        return
    last = m.history[-1]
    try:
        from prefect.events import emit_event

        from novaavatar.logs import redact

        emit_event(
            event=EDITED,
            resource=_video(m, last.by),
            related=_related(m),
            payload={
                "video_id": m.video_id,
                "kind": kind,
                "by": last.by,
                "note": redact(last.note),
                "diff": redact(last.diff),
                "version": m.version,
            },
        )
    except Exception as e:  # the edit is saved; the event only tells about it
        log.warning("could not emit the Prefect event for %s: %s", m.video_id, e)
