"""Review and export: approved videos get a publish package in ``exports/<video_id>/`` (MP4,
captions, thumbnail, per-platform metadata, all with an AI-content disclosure), are uploaded
to YouTube when asked and configured, then marked exported."""

from __future__ import annotations

from typing import Any

from prefect import flow, task

from novaavatar import manifests
from novaavatar.domain import ReviewState
from novaavatar.errors import NovaAvatarError, SettingsError
from novaavatar.settings import get_settings
from novaavatar.store import ArtifactStore, get_store, store_from_uri
from tasks.publish import Channel, PublishResult, check_channels, publish, youtube_configured
from tasks.publish.package import export_metadata
from tasks.publish.youtube import YouTubeUnavailable

__all__ = ["export_approved", "export_metadata", "export_one", "publish_video"]


def export_one(
    store: ArtifactStore, video_id: str, by: str = "export", channels: list[str] | None = None
) -> list[str]:
    """Publish one approved video (the package by default); returns the package's keys."""
    return publish(store, video_id, channels or ["package"], by=by).keys


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry an upload that broke on the way, not a refusal or a configuration mistake."""
    try:
        state.result()
    except (YouTubeUnavailable, OSError):
        return True
    except Exception:  # a refusal, a rejected video, a configuration mistake
        return False
    return False


@task(
    name="publish-video",
    task_run_name="publish {video_id}",
    retries=1,
    retry_delay_seconds=10,
    retry_condition_fn=_transient,
)
def publish_video(
    store_uri: str, video_id: str, channels: list[str], by: str = "export"
) -> dict[str, Any]:
    """Publish one approved video to ``channels``; a rerun resumes an interrupted upload."""
    r: PublishResult = publish(store_from_uri(store_uri), video_id, channels, by=by)
    return {"video_id": r.video_id, "package": r.package, "youtube": r.youtube_url}


@flow(name="export-approved", log_prints=True)
def export_approved(
    channels: list[Channel] | None = None,
    video_ids: list[str] | None = None,
    by: str = "export",
) -> list[str]:
    """Publish every approved video (or ``video_ids``, which may be exported already, to
    publish again) to ``channels``: ``package`` (default) and ``youtube``. Returns the ids done;
    fails, after trying every video, if any could not be published."""
    chosen = check_channels(channels or ["package"])
    if "youtube" in chosen and not youtube_configured():
        raise SettingsError(
            "channel 'youtube' needs YOUTUBE_CREDENTIALS_BLOCK or YOUTUBE_CLIENT_ID, "
            "YOUTUBE_CLIENT_SECRET and YOUTUBE_REFRESH_TOKEN"
        )
    store = get_store(get_settings())
    ids = video_ids or [m.video_id for m in manifests.queue(store, ReviewState.APPROVED)]
    done: list[str] = []
    problems: list[str] = []
    for vid in ids:
        try:
            out = publish_video(store.uri, vid, chosen, by)
        except (NovaAvatarError, OSError, ValueError) as e:
            problems.append(f"{vid}: {e}")
            print(f"not published {vid}: {e}")
            continue
        done.append(vid)
        where = f" and {out['youtube']}" if out.get("youtube") else ""
        print(f"published {vid}: {out['package']}{where}")
    if problems:
        raise NovaAvatarError(
            f"{len(problems)} of {len(ids)} video(s) not published: " + "; ".join(problems)
        )
    return done
