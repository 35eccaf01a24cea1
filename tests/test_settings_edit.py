"""Editing settings: the same model validates, `.env` is written atomically with a change log
(who, when, never a secret's value), secrets are write-only, and the page says what to restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from novaavatar import settings_edit
from novaavatar.errors import InputError, SettingsError

APP = Path(__file__).resolve().parents[1] / "review_app" / "app.py"
SECRET = "sk-test-never-shown-7731"


@pytest.fixture
def env_dir(tmp_path: Path, storage: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory with its own `.env`; variables the tests change are unset."""
    from novaavatar.settings import get_settings

    for name in (
        "DEFAULT_STYLE",
        "DEFAULT_DURATION",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "REVIEW_PASSWORD",
        "REVIEWERS",
        "PREFECT_API_URL",
        "YOUTUBE_TOKEN_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text("# my settings\nDEFAULT_DURATION=20\nscrape_timeout = 8\n")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_save_validates_writes_in_place_and_logs(env_dir: Path) -> None:
    from novaavatar.settings import load_settings

    change = settings_edit.save(
        {"default_style": "casual", "scrape_timeout": "12.5", "openai_base_url": "http://x/v1"},
        {"openai_api_key": SECRET},
        by="Ada",
    )
    assert change.changed["default_style"] == ("news_anchor", "casual")
    assert change.secrets_set == ["openai_api_key"]
    text = (env_dir / ".env").read_text()
    assert text.startswith("# my settings\nDEFAULT_DURATION=20\nSCRAPE_TIMEOUT=12.5\n")
    s = load_settings()
    assert (s.default_style, s.scrape_timeout, s.default_duration) == ("casual", 12.5, 20)
    assert s.openai_api_key is not None and s.openai_api_key.get_secret_value() == SECRET
    (entry,) = settings_edit.history()
    assert entry["by"] == "Ada" and entry["secrets_set"] == ["OPENAI_API_KEY"]
    assert entry["changed"]["DEFAULT_STYLE"] == {"from": "news_anchor", "to": "casual"}
    log = (env_dir / ".env.changes.jsonl").read_text()
    assert SECRET not in log and "Ada" in log and json.loads(log)["at"]
    # a refused value names the variable and leaves the file as it was
    with pytest.raises(SettingsError, match="DEFAULT_STYLE='poetic' is invalid"):
        settings_edit.save({"default_style": "poetic"}, by="Ada")
    with pytest.raises(SettingsError, match="SCRAPE_TIMEOUT"):
        settings_edit.save({"scrape_timeout": "9000"}, by="Ada")
    with pytest.raises(InputError, match="is a secret"):
        settings_edit.save({"openai_api_key": "x"}, by="Ada")
    assert (env_dir / ".env").read_text() == text and len(settings_edit.history()) == 1
    # empty: back to the default (the line goes)
    settings_edit.save({"default_duration": ""}, by="Bob")
    assert "DEFAULT_DURATION" not in (env_dir / ".env").read_text()
    assert load_settings().default_duration == 30
    assert list(env_dir.glob(".env*")) == [env_dir / ".env", env_dir / ".env.changes.jsonl"]


def test_restart_notes_name_the_process() -> None:
    assert "REST API" in settings_edit.restart_note("api_port")
    assert "schedule" in settings_edit.restart_note("scrape_cron")
    assert "workers" in settings_edit.restart_note("max_concurrent_jobs")
    assert "every process" in settings_edit.restart_note("storage_path")
    assert "review page uses it now" in settings_edit.restart_note("default_style")
    assert "openai_api_key" in settings_edit.secrets() and "api_tokens" in settings_edit.secrets()
    assert "youtube_token_uri" in settings_edit.editable()  # a URL, not a secret


def _page():
    from streamlit.testing.v1 import AppTest

    from novaavatar.service import jobs as actions

    actions.wait_all()
    actions.forget_finished()
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state["reviewer"] = "Ada"
    at.run().switch_page("views/settings.py").run()
    assert not at.exception, at.exception
    return at


def _everything(at) -> str:
    parts = [
        str(e.value)
        for kind in ("markdown", "caption", "success", "error", "info", "warning")
        for e in at.get(kind)
    ]
    parts += [str(w.value) for w in at.text_input]
    parts += [df.value.to_csv() for df in at.dataframe]
    parts += [repr(at.session_state)]
    return "\n".join(parts)


def test_settings_page_changes_a_default_and_it_applies(env_dir: Path) -> None:
    at = _page()
    config = at.dataframe[1].value
    values = dict(zip(config["setting"], config["value"], strict=True))
    assert values["YOUTUBE_TOKEN_URI"] == "https://oauth2.googleapis.com/token"  # not masked
    assert at.text_input(key="settings_value").value == "news_anchor"
    at.text_input(key="settings_value").input("educational")
    next(b for b in at.button if b.label == "Save setting").click().run()
    shown = _everything(at)
    assert "DEFAULT_STYLE: news_anchor → educational" in shown
    assert "review page uses it now" in shown
    assert "DEFAULT_STYLE=educational" in (env_dir / ".env").read_text()
    # applied: the Sources page's style now starts at the new default
    from novaavatar.domain import ContentItem
    from novaavatar.store import get_store

    item = ContentItem.make(title="Harbour news", url="https://e.org/h", source="E")
    get_store().put_bytes(f"items/{item.id}.json", item.model_dump_json().encode())
    get_store().put_json("items/latest.json", {"ids": [item.id], "errors": {}})
    at.switch_page("views/sources.py").run()
    assert at.selectbox(key="produce_style").value == "educational"
    # a value the model refuses is not written, and says why
    at.switch_page("views/settings.py").run()
    at.selectbox(key="settings_name").select("api_port").run()
    at.text_input(key="settings_value").input("99999")
    next(b for b in at.button if b.label == "Save setting").click().run()
    assert "Not saved: API_PORT='99999' is invalid" in _everything(at)
    assert "API_PORT" not in (env_dir / ".env").read_text()


def test_settings_page_sets_a_secret_and_never_shows_it_again(env_dir: Path) -> None:
    at = _page()
    at.selectbox(key="secret_name").select("openai_api_key").run()
    at.text_input(key="secret_value").input(SECRET)
    next(b for b in at.button if b.label == "Set secret").click().run()
    assert "OPENAI_API_KEY: set (never shown)" in _everything(at)
    assert at.text_input(key="secret_value").value == ""  # the field let it go
    from novaavatar.settings import get_settings

    assert get_settings().openai_api_key.get_secret_value() == SECRET  # type: ignore[union-attr]
    at = _page()  # a fresh visit: "set", and never the value, anywhere on the page
    everything = _everything(at)
    assert SECRET not in everything and "OPENAI_API_KEY (set)" in str(
        at.selectbox(key="secret_name").options
    )
    config = at.dataframe[1].value
    assert dict(zip(config["setting"], config["value"], strict=True))["OPENAI_API_KEY"] == "set"
    assert SECRET not in (env_dir / ".env.changes.jsonl").read_text()
    assert "Recent changes" in str([e.label for e in at.expander])
