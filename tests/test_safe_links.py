"""Only http(s) links survive scraping; javascript:, data: and the like are dropped with a
note in the log, and a ContentItem never carries one."""

from __future__ import annotations

import logging

import pytest

from novaavatar.domain import ContentItem
from tasks.scrape.feeds import parse_feed

FEED = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Hostile Wire</title><link>https://hostile.test/</link>
<item><title>Click me</title><link>javascript:alert(document.cookie)</link>
  <description>A story with a script for a link.</description></item>
<item><title>Inline page</title><link>data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==</link>
  <description>A story whose link is a whole page.</description></item>
<item><title>Real story</title><link>https://hostile.test/news/1?utm_source=x</link>
  <description>A story with a proper link.</description></item>
</channel></rss>"""  # noqa: E501


def test_javascript_and_data_links_are_dropped_with_a_note(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="novaavatar.scrape"):
        items = parse_feed(FEED, "https://hostile.test/feed.xml")
    links = {i.title: i.url for i in items}
    assert links == {
        "Click me": "",
        "Inline page": "",
        "Real story": "https://hostile.test/news/1",
    }
    notes = [r.getMessage() for r in caplog.records]
    assert any("dropped a javascript: link" in n and "Hostile Wire" in n for n in notes), notes
    assert any("dropped a data: link" in n for n in notes)
    assert not any("alert" in n or "base64" in n for n in notes)  # the link itself is not logged
    # the items are still distinct: their ids do not depend on the dropped links' text
    assert len({i.id for i in items}) == 3


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,hi", "file:///etc/passwd"],
)
def test_a_content_item_never_keeps_a_non_http_link(url: str) -> None:
    assert ContentItem(id="item-x", title="t", source="s", url=url).url == ""
    assert ContentItem(id="item-x", title="t", source="s", url="https://a.test/x").url
