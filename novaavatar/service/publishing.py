"""Publishing approved videos, the same from every door: a package in the store's
``exports/`` folder (MP4, captions, thumbnail, per-platform metadata with the AI disclosure)
and, when configured, a resumable YouTube upload."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from novaavatar.service.production import Work
from novaavatar.settings import Settings
from novaavatar.store import ArtifactStore

EXPORT = "export-approved/default"


def channels(names: Sequence[str] | None) -> list[str]:
    """The channels asked for (``package`` by default); InputError naming an unknown one."""
    from tasks.publish import check_channels

    return list(check_channels(list(names or ["package"])))


def publish(
    store: ArtifactStore,
    video_id: str,
    to: Sequence[str],
    by: str,
    settings: Settings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Publish one approved (or exported) video to ``to`` now; the PublishResult."""
    from tasks.publish import publish as publish_video

    return publish_video(store, video_id, channels(to), by=by, settings=settings, progress=progress)


def export(
    store: ArtifactStore, video_ids: Sequence[str] | None, to: Sequence[str], by: str
) -> Work:
    """Publish ``video_ids`` (default: every approved video) as an ``export-approved`` run."""
    chosen = channels(to)
    params: dict[str, Any] = {
        "channels": chosen,
        "video_ids": list(video_ids or []) or None,
        "by": by,
    }

    def local() -> Any:
        if not video_ids:  # every approved video: the flow, so the run shows in the UI
            from flows.review import export_approved

            return export_approved(**params)
        return [publish(store, vid, chosen, by).video_id for vid in video_ids]

    what = ", ".join(video_ids) if video_ids else "the approved videos"
    one = video_ids[0] if video_ids and len(video_ids) == 1 else None
    return Work(f"publish {what} to {', '.join(chosen)}", EXPORT, params, local, one)
