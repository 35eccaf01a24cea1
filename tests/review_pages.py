"""The review app's manual-creation page for the tests of the areas it starts videos in."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "review_app" / "app.py"


def manual_page(
    monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> tuple[AppTest, list[dict[str, Any]]]:
    """The manual page, opened locally without a login and with no earlier jobs, and the list
    that collects the parameters of every flow "Create video" starts (none really runs).
    Jobs run in this process against the session's server (it has no deployments)."""
    from streamlit.testing.v1 import AppTest

    from flows import manual
    from novaavatar.service import jobs as actions

    for name in ("REVIEW_PASSWORD", "REVIEWERS"):  # no login
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    actions.wait_all()
    actions.forget_finished()
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(manual, "manual_create", lambda **kw: started.append(kw) or "vid-manual")
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    at.switch_page("views/manual.py").run()
    return at, started
