"""Exports: approved videos, exported with captions and metadata, ready to download."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from novaavatar.domain import ReviewState
from novaavatar.errors import NovaAvatarError
from novaavatar.store import ArtifactStore
from review_app import access, ui

FILES = (
    ("video.mp4", "MP4 video", "video/mp4", ":material/movie:"),
    ("captions.srt", "Captions (SRT)", "application/x-subrip", ":material/subtitles:"),
    ("captions.vtt", "Captions (VTT)", "text/vtt", ":material/subtitles:"),
    ("metadata.json", "Metadata (JSON)", "application/json", ":material/data_object:"),
)


def export(store: ArtifactStore, video_ids: list[str]) -> None:
    from flows.review import export_one

    done, problems = [], []
    for vid in video_ids:
        try:
            export_one(store, vid, by=access.reviewer() or "review page")
            done.append(vid)
        except (NovaAvatarError, OSError, ValueError) as e:
            problems.append(f"{vid}: {e}")
    st.session_state["export_flash"] = (done, problems)


def main() -> None:
    st.title("Exports")
    _, store = ui.store_or_stop()
    queue = ui.queue_or_stop(store)
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
            pd.DataFrame([{"video": m.video_id, "title": ui.title_of(m), "approved": ui.when(m.updated_at)} for m in approved]),
            hide_index=True, width="stretch",
        )  # fmt: skip
        st.button(
            f"Export {len(approved)} approved video(s)", type="primary", icon=":material/ios_share:",
            on_click=export, args=(store, [m.video_id for m in approved]),
        )  # fmt: skip
    else:
        st.caption("Nothing waiting: approve videos in the review queue.")

    st.subheader(f"Exported · {len(exported)}")
    if not exported:
        st.caption("No exported videos yet.")
        return
    choice = st.selectbox(
        "Video", [m.video_id for m in exported],
        format_func=lambda v: f"{ui.title_of(next(m for m in exported if m.video_id == v))} ({v})",
    )  # fmt: skip
    m = next(m for m in exported if m.video_id == choice)
    by = next((e.by for e in reversed(m.history) if e.state is ReviewState.APPROVED), "?")
    st.caption(f"Approved by {by} · exported {ui.when(m.updated_at)} · `exports/{m.video_id}/`")
    cols = st.columns(len(FILES))
    for col, (name, label, mime, icon) in zip(cols, FILES, strict=True):
        key = f"exports/{m.video_id}/{name}"
        try:
            data = store.get_bytes(key)
        except (NovaAvatarError, OSError):
            col.warning(f"{label}: missing")
            continue
        col.download_button(
            label, data, file_name=f"{m.video_id}-{name}", mime=mime, icon=icon,
            key=f"dl-{name}", width="stretch", on_click="ignore",
        )  # fmt: skip


main()
