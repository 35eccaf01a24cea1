"""NovaAvatar review page: the router. Launch it bound to this machine only:

    .venv/bin/streamlit run review_app/app.py --server.address 127.0.0.1

(or ``python -m review_app``, which passes the same flags).
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run review_app/app.py` puts review_app/ on sys.path, not the project root.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from review_app import access, ui  # noqa: E402

# A bundled image: a ":material/…" or emoji page icon makes the browser fetch it from a CDN,
# which fails offline (and is a request leaving the machine).
ICON = Path(__file__).parent / "assets" / "icon.png"
st.set_page_config(page_title="NovaAvatar review", page_icon=str(ICON), layout="wide")

# Less empty space above each page's title: reviewers want the video and the buttons in view.
st.html("<style>[data-testid='stMainBlockContainer'] {padding-top: 2.5rem;}</style>")

access.require_login()

# Not "pages/": Streamlit would also serve that folder's files as pages on their own,
# bypassing this router (login, sidebar) when a URL names one of them.
PAGES = Path(__file__).parent / "views"
dashboard = st.Page(
    PAGES / "dashboard.py", title="Dashboard", icon=":material/dashboard:", default=True
)
review = st.Page(PAGES / "review.py", title="Review queue", icon=":material/rate_review:")
pages = [
    dashboard,
    st.Page(PAGES / "sources.py", title="Sources", icon=":material/rss_feed:"),
    review,
    st.Page(PAGES / "manual.py", title="Manual creation", icon=":material/upload:"),
    st.Page(PAGES / "templates.py", title="Brand templates", icon=":material/palette:"),
    st.Page(PAGES / "presenters.py", title="Presenters", icon=":material/face:"),
    st.Page(PAGES / "exports.py", title="Exports", icon=":material/download:"),
    st.Page(PAGES / "settings.py", title="Settings", icon=":material/settings:"),
    st.Page(PAGES / "jobs.py", title="Jobs", icon=":material/work_history:"),
]
page = st.navigation(pages)

# A shared link to a video (`/?video=<id>`) opens it in the review queue.
if page.url_path == dashboard.url_path and "video" in st.query_params:
    st.switch_page(review, query_params={"video": st.query_params["video"]})

access.sidebar_identity()
with st.sidebar:
    jobs_slot = st.container()  # filled after the page, so work it just started shows

page.run()

with jobs_slot:
    ui.jobs_panel()
