"""Pieces every page shares: the store or an error banner, state badges, the jobs panel."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from novaavatar.domain import ReviewState, VideoManifest
from novaavatar.service import jobs
from novaavatar.service.lookup import Queue, StoreUnavailable, load_queue, open_store
from novaavatar.settings import Settings
from novaavatar.store import ArtifactStore

STATE_COLORS = {
    ReviewState.PENDING: "orange",
    ReviewState.APPROVED: "green",
    ReviewState.REJECTED: "red",
    ReviewState.EXPORTED: "blue",
    ReviewState.FAILED: "gray",
}


def store_or_stop() -> tuple[Settings, ArtifactStore]:
    """The settings and store, or an error banner and the end of this page run."""
    try:
        return open_store()
    except StoreUnavailable as e:
        st.error(f"**Store unavailable.** {e}", icon=":material/cloud_off:")
        st.stop()


def queue_or_stop(store: ArtifactStore) -> Queue:
    """Every readable manifest; unreadable ones are listed in a warning, not a traceback."""
    try:
        queue = load_queue(store)
    except StoreUnavailable as e:
        st.error(f"**Store unavailable.** {e}", icon=":material/cloud_off:")
        st.stop()
    if queue.broken:
        lines = "\n".join(f"- `{k}`: {why}" for k, why in sorted(queue.broken.items()))
        st.warning(
            f"**{len(queue.broken)} manifest(s) could not be read** and are left out:\n{lines}",
            icon=":material/warning:",
        )
    return queue


def badge(state: ReviewState) -> str:
    return f":{STATE_COLORS[state]}-badge[{state.value}]"


def when(t: datetime | None) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M") if t else ""


def title_of(m: VideoManifest) -> str:
    return m.script.title if m.script and m.script.title else m.item.title


def show_job(job: jobs.Job) -> None:
    """One line for a job: running spinner, submitted link, or result."""
    took = ""
    if job.finished:
        took = f" in {(job.finished - job.started).total_seconds():.0f} s"
    if job.status == "running":
        st.info(f"**{job.label}** — running since {when(job.started)}", icon=":material/sync:")
    elif job.status == "submitted":
        link = f" — [open in Prefect]({job.url})" if job.url else ""
        st.info(f"**{job.label}** — submitted to the Prefect server{link}", icon=":material/send:")
    elif job.status == "completed":
        st.success(f"**{job.label}** — done{took}", icon=":material/check:")
    else:
        st.error(f"**{job.label}** — failed{took}: {job.error}", icon=":material/error:")


def jobs_panel() -> None:
    """Work started from this page, refreshed every 2 s while any of it runs.

    When a job finishes the whole page reruns, so the queue shows its result.
    """
    running = any(j.running for j in jobs.jobs())

    @st.fragment(run_every=2 if running else None)
    def panel() -> None:
        current = jobs.jobs()[:5]
        if not current:
            return
        st.caption("Work started here")
        for job in current:
            show_job(job)
        done = {j.id for j in current if not j.running}
        seen = st.session_state.setdefault("_jobs_seen_done", set())
        if running and done - seen:
            seen |= done
            st.rerun(scope="app")
        seen |= done

    panel()
