"""Review and export: approved videos are copied to ``exports/<video_id>/`` with their
captions and metadata, then marked exported."""

from __future__ import annotations

import json

from prefect import flow, task

from novaavatar import manifests
from novaavatar.domain import ReviewState, VideoManifest
from novaavatar.errors import ConflictError
from novaavatar.settings import get_settings
from novaavatar.store import ArtifactStore, get_store, store_from_uri


def export_metadata(m: VideoManifest) -> dict[str, object]:
    """What a publisher needs; no secrets, no absolute paths."""
    approval = next((e for e in reversed(m.history) if e.state is ReviewState.APPROVED), None)
    return {
        "video_id": m.video_id,
        "title": m.item.title,
        "source": m.item.source,
        "source_url": m.item.url,
        "script": m.script.text if m.script else "",
        "style": m.options.style,
        "aspect": m.options.aspect,
        "duration_s": m.final.duration_s if m.final else None,
        "keywords": list(m.script.keywords) if m.script else [],
        "approved_by": approval.by if approval else None,
        "approved_at": approval.at.isoformat() if approval else None,
        "ai_generated": True,
        "providers": {name: r.provider for name, r in m.stages.items()},
    }


def export_one(store: ArtifactStore, video_id: str, by: str = "export") -> list[str]:
    """Copy one approved video's files to ``exports/<id>/`` and mark it exported."""
    m, _ = manifests.load(store, video_id)
    if m.state is not ReviewState.APPROVED or m.final is None:
        raise ConflictError(
            f"video {video_id} is {m.state.value}; only approved videos are exported"
        )
    base = f"exports/{video_id}"
    keys = [
        store.put_file(f"{base}/video.mp4", store.materialize(m.final.key), "video/mp4"),
        store.put_bytes(f"{base}/captions.srt", store.get_bytes(m.final.srt_key)),
        store.put_bytes(f"{base}/captions.vtt", store.get_bytes(m.final.vtt_key)),
        store.put_bytes(f"{base}/metadata.json", json.dumps(export_metadata(m), indent=2).encode()),
    ]
    manifests.update(store, video_id, lambda mm: mm.transition(ReviewState.EXPORTED, by=by))
    return keys


@task(name="export-video", task_run_name="export {video_id}", retries=2, retry_delay_seconds=5)
def export_video(store_uri: str, video_id: str) -> list[str]:
    """Export one approved video."""
    return export_one(store_from_uri(store_uri), video_id)


@flow(name="export-approved", log_prints=True)
def export_approved() -> list[str]:
    """Export every approved video; returns the exported ids."""
    store = get_store(get_settings())
    ids = [m.video_id for m in manifests.queue(store, ReviewState.APPROVED)]
    for vid in ids:
        keys = export_video(store.uri, vid)
        print(f"exported {vid}: {', '.join(keys)}")
    return ids
