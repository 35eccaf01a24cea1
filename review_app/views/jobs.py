"""Jobs: this project's Prefect flow runs, mine or everyone's, followed live."""

from __future__ import annotations

import streamlit as st

from novaavatar.service import runs
from review_app import ui

STATE_COLORS = {
    "SCHEDULED": "gray",
    "PENDING": "gray",
    "RUNNING": "blue",
    "COMPLETED": "green",
    "FAILED": "red",
    "CRASHED": "red",
    "CANCELLED": "orange",
}


def show(run: runs.RunView) -> None:
    """One job: its state, stages as a bar, who started it, the video or the error."""
    color = STATE_COLORS.get(run.state_type, "gray")
    with st.container(border=True):
        st.markdown(f":{color}-badge[{run.state}] {ui.run_line(run)}")
        if not run.final and run.stages and run.flow in ("produce-video", "manual-create"):
            share = (run.percent or 0) / 100 if run.stage and "avatar" in run.stage else 0
            st.progress(
                min((run.stages_done + share) / len(runs.STAGES), 1.0),
                text=f"{run.stages_done} of {len(runs.STAGES)} stages"
                + (f" — now {run.stage}" if run.stage else ""),
            )
        began = (
            f"started {ui.when(run.started)}" if run.started else f"queued {ui.when(run.created)}"
        )
        st.caption(f"{began} · {run.flow or 'local job'}")


def main() -> None:
    st.title("Jobs")
    me = ui.who()
    views = ["Mine", "All"]
    default = "Mine" if me != "review page" else "All"
    view = st.segmented_control("Show", views, default=default, key="jobs_view") or default
    if view == "Mine":
        st.caption(f"Jobs started by **{me}** (the reviewer name in the sidebar).")

    @st.fragment(run_every=ui.REFRESH_S)
    def listing() -> None:
        current = ui.read_jobs(me if view == "Mine" else None, 30)
        if current is None:
            return
        if not current:
            st.info("No jobs yet: start one from Sources or Manual creation.")
        for run in current:
            show(run)
        ui.refresh_when_finished(current, "jobs_page")

    listing()


main()
