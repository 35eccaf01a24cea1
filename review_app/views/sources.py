"""Sources: scrape now, see the ranked items, and produce the chosen ones as a batch."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from novaavatar import templates
from novaavatar.domain import (
    MAX_DURATION_S,
    MAX_VARIANTS,
    SAMPLE_BADGE,
    SCRIPT_STYLES,
    VIDEO_FORMATS,
    duration_range,
)
from novaavatar.errors import InputError
from novaavatar.languages import LANGUAGES
from novaavatar.service import presenters, production
from novaavatar.service.lookup import ScrapedItems, StoreUnavailable, load_items, open_store
from novaavatar.store import ArtifactStore
from review_app import ui
from tasks.script import template_languages

ASPECTS = ("9:16", "16:9", "1:1")
TRANSITIONS = ("crossfade", "wipe", "cut")
FORMAT_DEFAULT = "default"  # the template select's entry for the format's own template
FORMAT_LABELS = {
    "single": "single presenter",
    "conversation": "conversation (host and guest)",
    "explainer": "explainer (scenes, 1-5 min)",
}


def start_scrape() -> None:
    feeds = [s.strip() for s in st.session_state.get("scrape_feeds", "").splitlines() if s.strip()]
    words = [w.strip() for w in st.session_state.get("scrape_keywords", "").split(",") if w.strip()]
    production.scrape(feeds, words, int(st.session_state.get("scrape_limit", 20))).start(
        by=ui.who()
    )


def load_sample() -> None:
    production.scrape([], [], int(st.session_state.get("scrape_limit", 20)), sample=True).start(
        by=ui.who()
    )


def nothing_scraped(scraped: ScrapedItems) -> None:
    """An empty page: why (no network, every source failed) and the sample, on request."""
    if scraped.offline:
        st.error(
            f"**No network.** None of the {len(scraped.errors)} sources could be reached from "
            "this machine, so there is no news to show.",
            icon=":material/wifi_off:",
        )
    elif scraped.all_failed:
        st.error(
            "**Every source failed in the last scrape**; nothing was scraped. "
            "Check the feed URLs (RSS_FEEDS, or the list above).",
            icon=":material/error:",
        )
    else:
        st.info("No items yet: open **Scrape now** above.", icon=":material/inbox:")
    st.caption(
        "To try NovaAvatar without news, load the bundled sample stories: they are fiction, "
        f"badged “{SAMPLE_BADGE}” everywhere, and can never be published."
    )
    st.button("Load sample stories", icon=":material/science:", on_click=load_sample)


def start_produce() -> None:
    chosen = list(st.session_state.get("produce_items", []))
    if not chosen:
        st.session_state["sources_flash"] = "Choose at least one item to produce."
        return
    format = st.session_state.get("produce_format", "single")
    template = st.session_state.get("produce_template", FORMAT_DEFAULT)
    takes = int(st.session_state.get("produce_variants", 1))
    try:
        options = production.options_from(
            dict(
                style=st.session_state["produce_style"],
                duration_s=float(st.session_state["produce_duration"]),
                aspect=st.session_state["produce_aspect"],
                format=format,
                template=None if template == FORMAT_DEFAULT else template,
                transition=(
                    st.session_state.get("produce_transition") if format == "explainer" else None
                ),
                variants=takes if takes > 1 else None,  # 1: one video, as before
                presenter=_chosen_presenter(),
            )
        )
        languages = list(st.session_state.get("produce_languages", ["en"]))
        production.produce(open_store()[1], chosen, options, languages).start(by=ui.who())
    except (InputError, StoreUnavailable) as e:  # nothing was started: say what to change
        st.session_state["sources_flash"] = f"Nothing was started: {e}"
        return
    st.session_state["produce_items"] = []


def _chosen_presenter() -> str | None:
    """The presenter select's choice: None for the template's or DEFAULT_PRESENTER."""
    chosen = st.session_state.get("produce_presenter", FORMAT_DEFAULT)
    return None if chosen == FORMAT_DEFAULT else chosen


def presenter_select(store: ArtifactStore) -> None:
    """Who presents: a presenter profile, or the template's / DEFAULT_PRESENTER."""
    try:
        names = [p.ref for p in presenters.listing(store)]
    except InputError as e:
        st.warning(f"Presenters unavailable: {e}")
        names = []
    st.selectbox(
        "Presenter",
        [FORMAT_DEFAULT, *names, "none"],
        key="produce_presenter",
        format_func=lambda r: (
            "template's, else DEFAULT_PRESENTER"
            if r == FORMAT_DEFAULT
            else "none (no profile)"
            if r == "none"
            else r
        ),
        help="a presenter profile (Presenters page) fills portrait, voice and layout",
    )


def main() -> None:
    st.title("Sources")
    settings, store = ui.store_or_stop()

    with (
        st.expander("Scrape now", expanded=False, icon=":material/rss_feed:"),
        st.form("scrape"),
    ):
        st.text_area(
            "Feeds (one URL a line; empty: RSS_FEEDS)",
            value="\n".join(settings.rss_feeds),
            key="scrape_feeds",
            height=90,
        )
        st.text_input("Keywords that raise relevance (comma separated)", key="scrape_keywords")
        st.number_input("Keep the best", 1, 200, 20, key="scrape_limit")
        st.form_submit_button(
            "Scrape", icon=":material/download:", type="primary", on_click=start_scrape
        )

    try:
        scraped = load_items(store)
    except StoreUnavailable as e:
        st.error(f"**Store unavailable.** {e}", icon=":material/cloud_off:")
        return
    for source, reason in scraped.errors.items():
        st.warning(f"Source `{source}` failed in the last scrape: {reason}")
    if scraped.unreadable:
        st.warning(
            f"{len(scraped.unreadable)} item(s) of the last scrape could not be read: "
            f"{', '.join(scraped.unreadable)}"
        )
    if not scraped.items:
        nothing_scraped(scraped)
        return
    samples = sum(i.sample for i in scraped.items)
    if samples:
        st.warning(
            f"**{SAMPLE_BADGE}:** {samples} of these items are bundled fiction from the sample "
            "feed; their videos can never be published.",
            icon=":material/science:",
        )

    st.subheader(f"Latest items · {len(scraped.items)}")
    table = pd.DataFrame(
        [
            {
                "score": round(i.score, 3),
                "title": i.title,
                "source": f"{i.source} ({SAMPLE_BADGE})" if i.sample else i.source,
                "published": ui.when(i.published),
                "link": i.url,
                "id": i.id,
            }
            for i in scraped.items
        ]
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "score": st.column_config.ProgressColumn(
                "score",
                min_value=0.0,
                max_value=max(1.0, float(table["score"].max())),
                format="%.2f",
            ),
            "link": st.column_config.LinkColumn("link", display_text="open"),
        },
    )

    titles = {i.id: i.title for i in scraped.items}
    if message := st.session_state.pop("sources_flash", None):
        st.error(message)
    st.subheader("Produce videos")
    # outside the form: the duration's range and the template's default follow it at once
    format = st.selectbox(
        "Format",
        VIDEO_FORMATS,
        key="produce_format",
        format_func=lambda f: FORMAT_LABELS.get(f, f),
    )
    lo, hi = duration_range(format)
    with st.form("produce"):
        st.multiselect(
            "Items",
            list(titles),
            format_func=lambda i: titles[i],
            key="produce_items",
            placeholder="choose items (best first)",
        )
        style_col, duration_col, aspect_col = st.columns(3)
        style_col.selectbox(
            "Style",
            SCRIPT_STYLES,
            index=SCRIPT_STYLES.index(settings.default_style),
            key="produce_style",
            format_func=lambda s: s.replace("_", " "),
        )
        duration_col.slider(
            f"Duration (s, {lo}-{hi} for this format)",
            lo,
            hi,
            min(max(int(settings.default_duration), lo), hi),
            step=5 if hi <= MAX_DURATION_S else 15,
            key="produce_duration",
        )
        aspect_col.selectbox(
            "Aspect", ASPECTS, index=ASPECTS.index(settings.default_aspect), key="produce_aspect"
        )
        lang_col, template_col, transition_col = st.columns(3)
        lang_col.multiselect(
            "Languages (one video each)",
            list(LANGUAGES),
            default=["en"],
            key="produce_languages",
            format_func=lambda c: f"{LANGUAGES[c].name} ({c})",
            help="without OPENAI_API_KEY the script is the item's own sentences, framed in "
            + ", ".join(template_languages()),
        )
        refs = [FORMAT_DEFAULT, *templates.available(store), templates.NO_TEMPLATE]
        template_col.selectbox(
            "Brand template",
            refs,
            key="produce_template",
            format_func=lambda r: (
                f"format's default ({templates.FORMAT_DEFAULTS.get(format, 'news')})"
                if r == FORMAT_DEFAULT
                else "none (plain look)"
                if r == templates.NO_TEMPLATE
                else r
            ),
            help="logo, colours, lower third, intro/outro cards",
        )
        if format == "explainer":
            transition_col.selectbox("Scene transition", TRANSITIONS, key="produce_transition")
        st.number_input(
            "A/B takes per item",
            min_value=1,
            max_value=MAX_VARIANTS,
            value=1,
            key="produce_variants",
            help="2-4: that many videos of each item whose scripts differ in hook and style, "
            "reviewed side by side; approving one rejects the others",
        )
        presenter_select(store)
        st.form_submit_button(
            "Produce", icon=":material/movie:", type="primary", on_click=start_produce
        )
    st.caption("Produced videos enter the review queue; progress shows in the sidebar.")


main()
