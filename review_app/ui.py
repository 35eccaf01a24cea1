"""Pieces every page shares: the store or an error banner, state badges, job lines."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from novaavatar.domain import ReviewState, VideoManifest, utcnow
from novaavatar.service import jobs, runs
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


REFRESH_S = 3  # how often the jobs panel and the Jobs page read the runs again
STATE_ICONS = {
    "SCHEDULED": ":material/schedule:",
    "PENDING": ":material/schedule:",
    "RUNNING": ":material/sync:",
    "COMPLETED": ":material/check:",
    "FAILED": ":material/error:",
    "CRASHED": ":material/error:",
    "CANCELLED": ":material/block:",
}


def who() -> str:
    """Who starts work from this page: the reviewer, else "review page" (recorded on the run)."""
    from review_app import access

    return access.reviewer() or "review page"


def _seconds(s: float | None) -> str:
    if s is None:
        return ""
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min"


def run_line(run: runs.RunView) -> str:
    """One job in words: name, state, stage, duration, who, and where to look."""
    parts = [f"**{run.name}** — {'done' if run.ok else run.state.lower()}"]
    if run.stage:
        parts[0] += f": {run.stage}"
    elif not run.final and run.stages:
        parts[0] += f" ({run.stages_done}/{len(runs.STAGES)} stages)"
    if took := _seconds(run.seconds()):
        parts.append(took)
    if run.by:
        parts.append(f"by {run.by}")
    line = " · ".join(parts)
    if run.ok and run.video_ids:
        links = ", ".join(f"[{v}](./?video={v})" for v in run.video_ids[:3])
        line += f" — {links}"
    if run.error:
        line += f" — {run.error}"
    if url := jobs.flow_run_link(run.id if not run.id.startswith("local-") else None):
        line += f" — [Prefect]({url})"
    return line


def show_run(run: runs.RunView) -> None:
    """One job as a coloured line (green done, red failed, blue otherwise)."""
    icon = STATE_ICONS.get(run.state_type, ":material/sync:")
    if run.ok:
        st.success(run_line(run), icon=icon)
    elif run.final:
        st.error(run_line(run), icon=icon)
    else:
        st.info(run_line(run), icon=icon)


def show_job(job: jobs.Job) -> None:
    """A job of this page process (e.g. an upload running for one video)."""
    show_run(job.as_run())


def read_jobs(by: str | None, limit: int) -> list[runs.RunView] | None:
    """The jobs (None, with a warning, when the Prefect server cannot be read)."""
    try:
        return jobs.listing(by, limit)
    except Exception as e:  # the server is down: say so, the rest of the page still works
        st.warning(
            f"Cannot read the jobs from the Prefect server ({jobs.prefect_server()}): "
            f"{type(e).__name__}",
            icon=":material/cloud_off:",
        )
        return None


def refresh_when_finished(current: list[runs.RunView], key: str) -> None:
    """Rerun the whole page when a job this list saw running finishes, so the queue shows
    the new video (``key``: one memory per list; a job leaving the list is not a finish)."""
    name = f"_jobs_active_{key}"
    seen: set[str] = st.session_state.get(name, set())
    st.session_state[name] = {r.id for r in current if not r.final}
    if any(r.final and r.id in seen for r in current):
        st.rerun(scope="app")


RECENT_S = 15 * 60  # the sidebar shows running jobs and those finished this long ago


def jobs_panel() -> None:
    """Jobs started as this reviewer (as "review page" before a name is given), running or
    recent, read again every few seconds; when one finishes the whole page reruns, so the
    queue shows its result. Lines, not alert boxes: the page's own messages stay apart."""

    @st.fragment(run_every=REFRESH_S)
    def panel() -> None:
        current = read_jobs(who(), 5)
        if current is None:
            return
        now = utcnow()
        recent = [
            r
            for r in current
            if not r.final or r.finished is None or (now - r.finished).total_seconds() < RECENT_S
        ]
        if recent:
            st.caption("Your jobs (everyone's: the Jobs page)")
            for run in recent:
                color = "green" if run.ok else "red" if run.final else "blue"
                icon = STATE_ICONS.get(run.state_type, ":material/sync:")
                st.markdown(f":{color}[{icon}] {run_line(run)}")
        refresh_when_finished(current, "sidebar")

    panel()
