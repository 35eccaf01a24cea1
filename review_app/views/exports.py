"""Exports: approved videos get a publish package (MP4, captions, thumbnail, metadata per
platform, all disclosed as AI-generated) and, when configured, a YouTube upload."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from novaavatar.domain import ReviewState, VideoManifest
from novaavatar.errors import NovaAvatarError
from novaavatar.service import jobs, publishing
from novaavatar.store import ArtifactStore
from review_app import access, ui

FILES = (
    ("video.mp4", "MP4 video", "video/mp4", ":material/movie:"),
    ("captions.srt", "Captions (SRT)", "application/x-subrip", ":material/subtitles:"),
    ("captions.vtt", "Captions (VTT)", "text/vtt", ":material/subtitles:"),
    ("metadata.json", "Metadata (JSON)", "application/json", ":material/data_object:"),
)
PLATFORMS = ("youtube", "tiktok", "instagram")


def export(store: ArtifactStore, video_ids: list[str]) -> None:
    by = access.reviewer()
    if by is None:  # an export is recorded with who did it, like a decision
        st.session_state["export_flash"] = (
            [],
            ["enter your name in the sidebar first: it is recorded with the export"],
        )
        return
    done, problems = [], []
    for vid in video_ids:
        try:
            publishing.publish(store, vid, ["package"], by)
            done.append(vid)
        except (NovaAvatarError, OSError, ValueError) as e:
            problems.append(f"{vid}: {e}")
    st.session_state["export_flash"] = (done, problems)


def publish_youtube(store: ArtifactStore, video_id: str) -> None:
    """Upload in the background (a deployment run with `make up`, else a local thread)."""
    by = access.reviewer()
    if by is None:
        message = (
            f"{video_id}: enter your name in the sidebar first: it is recorded with the upload"
        )
        st.session_state["export_flash"] = ([], [message])
        return
    publishing.export(store, [video_id], ["package", "youtube"], by).start(by=ui.who())


def _youtube_cell(m: VideoManifest) -> str:
    p = m.publications.get("youtube")
    if p is None:
        return ""
    if p.status == "published":
        return p.location
    if p.status == "failed":
        return f"failed: {p.error}"
    return f"uploading ({p.sent_bytes * 100 // max(p.total_bytes, 1)} %)"


def _publications(store: ArtifactStore, m: VideoManifest, youtube_on: bool) -> None:
    yt = m.publications.get("youtube")
    running = jobs.running_for(m.video_id)
    if yt is not None and yt.status == "published":
        st.success(
            f"On YouTube ({yt.privacy or 'private'}): [{yt.location}]({yt.location})",
            icon=":material/smart_display:",
        )
        return
    if yt is not None and yt.status == "failed":
        st.error(
            f"YouTube upload stopped at {yt.sent_bytes:,} of {yt.total_bytes:,} bytes: "
            f"{yt.error} — publishing again resumes it.",
            icon=":material/error:",
        )
    if running is not None:
        ui.show_job(running)
    elif youtube_on:
        st.button(
            "Publish to YouTube",
            icon=":material/upload:",
            key=f"yt-{m.video_id}",
            on_click=publish_youtube,
            args=(store, m.video_id),
            disabled=access.reviewer() is None,
        )
    else:
        st.caption(
            "YouTube is off: set YOUTUBE_CREDENTIALS_BLOCK (or YOUTUBE_CLIENT_ID, "
            "YOUTUBE_CLIENT_SECRET, YOUTUBE_REFRESH_TOKEN) to publish from here."
        )


def _package(store: ArtifactStore, m: VideoManifest) -> None:
    base = f"exports/{m.video_id}"
    with st.expander("Publish package: thumbnail and text per platform"):
        try:
            st.image(store.get_bytes(f"{base}/thumbnail.jpg"), caption="thumbnail.jpg", width=240)
        except (NovaAvatarError, OSError):
            st.caption("No thumbnail (exported before packages had one).")
        tabs = st.tabs([p.capitalize() for p in PLATFORMS])
        for tab, name in zip(tabs, PLATFORMS, strict=True):
            try:
                doc = json.loads(store.get_bytes(f"{base}/{name}.json"))
            except (NovaAvatarError, OSError, ValueError):
                tab.caption(f"No {name}.json: export the video again to make it.")
                continue
            tab.markdown(f"**{doc.get('title', '')}**")
            tab.text(doc.get("description") or doc.get("caption") or "")
            tab.caption(
                f"{' '.join(doc.get('hashtags', []))} · AI-generated: {doc.get('ai_generated')}"
            )


def main() -> None:
    from tasks.publish import youtube_configured

    st.title("Exports")
    settings, store = ui.store_or_stop()
    queue = ui.queue_or_stop(store)
    youtube_on = youtube_configured(settings)
    done, problems = st.session_state.pop("export_flash", ([], []))
    if done:
        st.success(f"Exported {len(done)} video(s): {', '.join(done)}")
    for p in problems:
        st.error(f"Not exported — {p}")

    approved = queue.select(ReviewState.APPROVED.value)
    exported = queue.select(ReviewState.EXPORTED.value)

    st.subheader(f"Approved, not exported yet · {len(approved)}")
    if approved:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "video": m.video_id,
                        "title": ui.title_of(m),
                        "approved": ui.when(m.updated_at),
                        "YouTube": _youtube_cell(m),
                    }
                    for m in approved
                ]
            ),
            hide_index=True,
            width="stretch",
        )
        if access.reviewer() is None:
            st.warning("Enter your name in the sidebar to export.", icon=":material/badge:")
        st.button(
            f"Export {len(approved)} approved video(s)",
            type="primary",
            icon=":material/ios_share:",
            on_click=export,
            args=(store, [m.video_id for m in approved]),
            disabled=access.reviewer() is None,
        )
        st.caption(
            "Export writes the publish package (MP4, captions, thumbnail, YouTube/TikTok/"
            "Instagram metadata, each marked AI-generated) to `exports/<video>/`."
        )
        if youtube_on:
            pick = st.selectbox("Publish one to YouTube", [m.video_id for m in approved])
            _publications(store, next(m for m in approved if m.video_id == pick), youtube_on)
    else:
        st.caption("Nothing waiting: approve videos in the review queue.")

    st.subheader(f"Exported · {len(exported)}")
    if not exported:
        st.caption("No exported videos yet.")
        return
    choice = st.selectbox(
        "Video",
        [m.video_id for m in exported],
        format_func=lambda v: f"{ui.title_of(next(m for m in exported if m.video_id == v))} ({v})",
    )
    m = next(m for m in exported if m.video_id == choice)
    by = next((e.by for e in reversed(m.history) if e.state is ReviewState.APPROVED), "?")
    st.caption(f"Approved by {by} · exported {ui.when(m.updated_at)} · `exports/{m.video_id}/`")
    _publications(store, m, youtube_on)
    cols = st.columns(len(FILES))
    for col, (name, label, mime, icon) in zip(cols, FILES, strict=True):
        key = f"exports/{m.video_id}/{name}"
        try:
            data = store.get_bytes(key)
        except (NovaAvatarError, OSError):
            col.warning(f"{label}: missing")
            continue
        col.download_button(
            label,
            data,
            file_name=f"{m.video_id}-{name}",
            mime=mime,
            icon=icon,
            key=f"dl-{name}",
            width="stretch",
            on_click="ignore",
        )
    _package(store, m)


main()
