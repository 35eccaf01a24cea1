"""Dashboard: how much is waiting, what was decided, how long stages take, what it cost."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from novaavatar.service import jobs
from novaavatar.service.lookup import NEEDS_ATTENTION, stage_averages, total_cost, videos_per_day
from review_app import ui


def main() -> None:
    st.title("Dashboard")
    _, store = ui.store_or_stop()
    queue = ui.queue_or_stop(store)
    counts = queue.counts()

    cols = st.columns(6)
    labels = ["pending", NEEDS_ATTENTION, "approved", "rejected", "exported", "failed"]
    for col, label in zip(cols, labels, strict=True):
        col.metric(label.capitalize(), counts[label], border=True)
    if counts["pending"]:
        st.page_link(
            "views/review.py",
            label=f"Review {counts['pending']} pending video(s)",
            icon=":material/rate_review:",
        )

    if not queue.videos:
        st.info("No videos yet. Scrape and produce some from **Sources**.", icon=":material/inbox:")
        return

    per_day, stages = st.columns(2, gap="large")
    with per_day:
        st.subheader("Videos per day")
        days = videos_per_day(queue.videos)
        st.bar_chart(
            pd.DataFrame({"videos": list(days.values())}, index=[str(d) for d in days]), height=220
        )
    with stages:
        st.subheader("Average stage time")
        avg = stage_averages(queue.videos)
        rows = [{"stage": k, "seconds": round(s, 2), "runs": n} for k, (s, n) in avg.items()]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        cost = total_cost(queue.videos)
        st.metric(
            "Cost so far",
            f"${cost:.2f}",
            help="Sum of what providers reported; offline providers cost nothing.",
        )

    st.subheader("Recent runs")
    rows = []
    for m in queue.videos[:15]:
        rows.append(
            {
                "video": f"./review?video={m.video_id}",
                "title": ui.title_of(m),
                "state": m.state.value,
                "made": ui.when(m.created_at),
                "updated": ui.when(m.updated_at),
                "flow run": jobs.flow_run_link(m.flow_run_id) or (m.flow_run_id or ""),
            }
        )
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "video": st.column_config.LinkColumn("video", display_text=r"video=(.*)$"),
            "flow run": st.column_config.LinkColumn(
                "flow run", display_text=r"([0-9a-f-]{8})[0-9a-f-]*$"
            ),
        },
    )
    if jobs.ui_url() is None:
        st.caption("Flow runs link to the Prefect UI when `PREFECT_API_URL` points at a server.")


main()
