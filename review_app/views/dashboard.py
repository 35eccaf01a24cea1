"""Dashboard: how much is waiting, what was decided, how long stages take, what it cost."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from novaavatar.domain import VideoManifest
from novaavatar.service import jobs
from novaavatar.service.lookup import NEEDS_ATTENTION, stage_averages, total_cost, videos_per_day
from novaavatar.stats import win_rates
from review_app import ui


def ab_section(videos: list[VideoManifest]) -> None:
    """Which A/B takes reviewers chose: win rates per style and per hook."""
    ab = win_rates(videos)
    if not ab.variant_groups:
        return
    st.subheader("A/B takes: what reviewers chose")
    st.caption(
        f"{ab.variant_groups} group(s) of takes, a take chosen in {ab.variant_decided}; "
        "a win rate counts only groups with a chosen take."
    )
    for col, (by, table) in zip(
        st.columns(2, gap="large"), (("style", ab.style_wins), ("hook", ab.hook_wins)), strict=True
    ):
        rows = [
            {by: k.replace("_", " "), "wins": w.wins, "takes": w.takes, "win rate": w.rate}
            for k, w in sorted(table.items(), key=lambda kv: -kv[1].rate)
        ]
        col.dataframe(
            pd.DataFrame(rows, columns=[by, "wins", "takes", "win rate"]),
            hide_index=True,
            width="stretch",
            column_config={
                "win rate": st.column_config.ProgressColumn(format="percent", min_value=0.0)
            },
        )


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

    ab_section(queue.videos)
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
