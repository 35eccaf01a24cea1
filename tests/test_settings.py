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


def test_settings_are_grouped_per_concern_with_the_same_variable_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from novaavatar.settings import ReviewPageSettings, Settings, SpeechSettings, load_settings

    names = [n for g in Settings.GROUPS for n in g.model_fields]
    assert sorted(names) == sorted(Settings.model_fields)  # every setting in exactly one group
    assert len(names) == len(set(names))
    assert Settings.group_of("tts_voice") == "Speech" and "tts_voice" in SpeechSettings.model_fields
    monkeypatch.setenv("REVIEWERS", "ada, grace")
    monkeypatch.setenv("TTS_SPEED", "5")  # wrong, in another group
    with pytest.raises(SettingsError, match="TTS_SPEED"):
        load_settings()
    # the review page's own group still reads, so the page stays guarded
    assert ReviewPageSettings().reviewers == ["ada", "grace"]
