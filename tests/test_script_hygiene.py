"""The offline script's greeting (style, time of day where the schedule runs, language,
varied per item) and the text hygiene every offline script keeps."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from novaavatar.domain import SCRIPT_STYLES, ContentItem
from novaavatar.hygiene import script_problems
from novaavatar.languages import guess_language, split_sentences
from tasks.script.greetings import GREETINGS, greeting, local_now, part_of_day


def _items(n: int) -> list[ContentItem]:
    return [
        ContentItem.make(
            title=f"Council approves plan number {i} for the harbour",
            url=f"https://news.example/plan-{i}",
            source="Harbor Times",
            summary="The vote was 31 to 9. Work starts in May.",
        )
        for i in range(n)
    ]


def _opening(item: ContentItem, style: str, when: datetime, language: str = "en") -> str:
    from tasks.script import TemplateScriptProvider

    s = TemplateScriptProvider(clock=lambda: when).write(item, style, 45, 2.6, language=language)
    return split_sentences(s.text)[0]


def test_the_greeting_follows_time_of_day_style_and_language() -> None:
    (item,) = _items(1)
    at = {h: datetime(2026, 3, 10, h, 15, tzinfo=UTC) for h in (8, 14, 20)}
    assert "morning" in _opening(item, "news_anchor", at[8]).lower()
    assert "afternoon" in _opening(item, "news_anchor", at[14]).lower()
    assert "evening" in _opening(item, "news_anchor", at[20]).lower()
    assert _opening(item, "casual", at[14]) in GREETINGS["en"]["informal"]["afternoon"]
    assert _opening(item, "professional", at[8]) in GREETINGS["en"]["formal"]["morning"]
    assert _opening(item, "news_anchor", at[8], "es").startswith("Buenos días")
    assert _opening(item, "news_anchor", at[20], "de").startswith("Guten Abend")
    # the same item at the same hour: the same line (cached reruns agree)
    assert _opening(item, "news_anchor", at[20]) == _opening(item, "news_anchor", at[20])


def test_the_greeting_is_not_the_same_line_in_every_video() -> None:
    evening = datetime(2026, 3, 10, 19, tzinfo=UTC)
    lines = {_opening(item, "news_anchor", evening) for item in _items(12)}
    assert len(lines) >= 2 and all("evening" in line.lower() for line in lines)


def test_the_time_of_day_is_the_schedules_timezone(monkeypatch: pytest.MonkeyPatch) -> None:
    from novaavatar.settings import get_settings

    monkeypatch.setenv("SCRAPE_TIMEZONE", "Asia/Tokyo")
    get_settings.cache_clear()
    now = local_now()
    assert now.utcoffset() is not None and now.utcoffset().total_seconds() == 9 * 3600  # type: ignore[union-attr]
    assert local_now("Not/AZone").utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    get_settings.cache_clear()
    # 22:30 UTC is morning in Tokyo
    assert (
        part_of_day(datetime(2026, 3, 10, 22, 30, tzinfo=UTC).astimezone(now.tzinfo)) == "morning"
    )


def test_every_greeting_is_in_its_language() -> None:
    for code, registers in GREETINGS.items():
        for register, parts in registers.items():
            assert set(parts) == {"morning", "afternoon", "evening", "night"}, (code, register)
            for line in (line for lines in parts.values() for line in lines):
                assert guess_language(line) in (code, None), (code, line)
                if code == "ja":  # eSpeak NG reads kana only
                    assert not re.search(r"[\u4e00-\u9fff]", line), line
                if code in ("zh", "ja"):
                    assert line[-1] in "。！？", line
    assert greeting("item-1", "casual", "xx", datetime(2026, 1, 1, 9, tzinfo=UTC))  # falls back


@pytest.mark.parametrize("language", ["en", "es", "fr", "de", "ar", "zh", "ja"])
def test_offline_scripts_of_the_sample_stories_read_cleanly(language: str) -> None:
    from tasks.scrape import load_sample_items
    from tasks.script import TemplateScriptProvider
    from tasks.script.dialogue import DialogueTemplateProvider

    clock = lambda: datetime(2026, 3, 10, 9, tzinfo=UTC)  # noqa: E731
    for item in load_sample_items(max_items=3):
        for style in SCRIPT_STYLES:
            for provider in (TemplateScriptProvider(clock), DialogueTemplateProvider(clock)):
                text = provider.write(item, style, 45, 2.6, language=language).text
                assert script_problems(text) == [], (language, style, text)
