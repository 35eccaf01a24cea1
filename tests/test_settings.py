from __future__ import annotations

from pathlib import Path

import pytest

from novaavatar.errors import SettingsError
from novaavatar.settings import load_settings


def test_defaults_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert 10 <= s.num_steps <= 50
    assert s.sample_rate == 16000


def test_out_of_range_names_variable_and_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUM_STEPS", "99")
    with pytest.raises(SettingsError) as e:
        load_settings()
    msg = str(e.value)
    assert "NUM_STEPS='99'" in msg and "10–50" in msg


def test_tea_cache_range_and_style(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEA_CACHE_THRESH", "0.5")
    monkeypatch.setenv("DEFAULT_STYLE", "poetic")
    with pytest.raises(SettingsError) as e:
        load_settings()
    assert "TEA_CACHE_THRESH" in str(e.value) and "0–0.15" in str(e.value)
    assert "DEFAULT_STYLE" in str(e.value) and "news_anchor" in str(e.value)


def test_reads_dotenv_and_splits_feeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "RSS_FEEDS=https://a.example/rss, https://b.example/atom\nOPENAI_API_KEY=sk-test-123\n"
    )
    s = load_settings()
    assert s.rss_feeds == ["https://a.example/rss", "https://b.example/atom"]
    assert s.openai_api_key is not None
    assert "sk-test-123" not in repr(s) and "sk-test-123" in s.secret_values()
