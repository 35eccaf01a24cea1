"""Scrape stage against a real HTTP server on loopback: good, broken, slow and hostile feeds."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from novaavatar.domain import ContentItem
from novaavatar.errors import InputError
from tasks.scrape import (
    USER_AGENT,
    ScrapeResult,
    canonical_url,
    clean_url,
    dedup,
    fetch_feed,
    load_sample_items,
    parse_feed,
    rank,
    sample_feed_path,
    sample_feed_paths,
    score,
    scrape,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TIMEOUT = 0.5  # client timeout in tests; the slow endpoints outlast it, but only by ~1 s
SLOW_S = 1.5

GOOD_RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>Loopback &amp; Co News</title>
    <link>https://loopback-news.example/</link>
    <description>test feed</description>
    <item>
      <title>Harbor module completes thermal vacuum tests ahead of launch</title>
      <link>https://www.Loopback-News.example/space/harbor-tests/?utm_source=rss&amp;utm_medium=feed&amp;id=7#top</link>
      <description><![CDATA[<p>The <b>Harbor</b> module finished   six weeks of tests &amp; checks.</p>
        <script>alert('x')</script><ul><li>Acoustic tests</li><li>Shipping</li></ul>]]></description>
      <pubDate>Tue, 10 Mar 2026 09:00:00 +0100</pubDate>
      <category>Space</category>
      <category>space</category>
      <category>Engineering</category>
    </item>
    <item>
      <title>City council approves new bicycle lanes downtown</title>
      <link>https://loopback-news.example/city/bike-lanes</link>
      <description>The council voted to build 12 km of protected lanes.</description>
      <pubDate>Sun, 08 Mar 2026 12:00:00 GMT</pubDate>
    </item>
    <item>
      <title>Bike lanes plan wins council vote</title>
      <link>http://loopback-news.example/city/bike-lanes/?fbclid=abc</link>
      <description>Same story, shared link.</description>
      <pubDate>Sun, 08 Mar 2026 13:00:00 GMT</pubDate>
    </item>
    <item>
      <title>Relative link item about weather radar</title>
      <link>/weather/radar</link>
      <description>Radar upgrade finished.</description>
    </item>
  </channel>
</rss>
"""  # noqa: E501

GOOD_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom Desk</title>
  <id>urn:test:atom</id>
  <updated>2026-03-10T10:00:00Z</updated>
  <entry>
    <title>Harbor module passes thermal vacuum tests ahead of launch</title>
    <link rel="alternate" href="https://atom-desk.example/harbor"/>
    <id>urn:test:1</id>
    <updated>2026-03-10T10:00:00Z</updated>
    <category term="space" label="Space"/>
    <summary>Short version.</summary>
  </entry>
  <entry>
    <title>Glacier melt measured with new drone survey</title>
    <link rel="alternate" href="https://atom-desk.example/glacier"/>
    <id>urn:test:2</id>
    <published>2026-03-05T08:00:00+02:00</published>
    <updated>2026-03-05T08:00:00+02:00</updated>
    <summary type="html">&lt;p&gt;Drones mapped the glacier&amp;#8217;s edge.&lt;/p&gt;</summary>
  </entry>
</feed>
"""

MALFORMED = (
    b"<?xml version='1.0'?><rss version='2.0'><channel><title>Broken</title><item><title>One</ti"
)
EMPTY_RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title>
<link>https://quiet.example/</link><description>nothing yet</description></channel></rss>"""
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi<br></p></body></html>"
)
LONG_TITLE = "word " * 100
LONG_SUMMARY = "lorem ipsum dolor " * 200
LONG_RSS = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Long</title>
<item><title>{LONG_TITLE}</title><link>https://long.example/a</link>
<description>{LONG_SUMMARY}</description></item></channel></rss>""".encode()


class _FeedHandler(BaseHTTPRequestHandler):
    user_agents: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        type(self).user_agents.append(self.headers.get("User-Agent", ""))
        xml = "application/rss+xml"
        try:
            match self.path:
                case "/rss.xml":
                    self._send(200, GOOD_RSS.encode(), xml)
                case "/atom.xml":
                    self._send(200, GOOD_ATOM.encode(), "application/atom+xml")
                case "/malformed.xml":
                    self._send(200, MALFORMED, xml)
                case "/empty.xml":
                    self._send(200, EMPTY_RSS, "text/xml")
                case "/long.xml":
                    self._send(200, LONG_RSS, xml)
                case "/page.html":
                    self._send(200, HTML_PAGE, "text/html; charset=utf-8")
                case "/error500":
                    self._send(500, b"boom", "text/plain")
                case "/ratelimited":
                    self._send(429, b"slow down", "text/plain", Retry_After="120")
                case "/slow":
                    time.sleep(SLOW_S)
                    self._send(200, GOOD_RSS.encode(), xml)
                case "/trickle":  # each byte is quick, the whole body is not
                    self.send_response(200)
                    self.send_header("Content-Type", xml)
                    self.end_headers()
                    for _ in range(int(SLOW_S / 0.25) + 2):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.25)
                case "/redirect":
                    self._send(302, b"", "text/plain", Location="/rss.xml")
                case "/loop":
                    self._send(302, b"", "text/plain", Location="/loop")
                case _:
                    self._send(404, b"not here", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeouts); that is the point of those endpoints


class _FeedServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = (
        64  # the default backlog of 5 drops SYNs when a scrape connects to all at once
    )


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = _FeedServer(("127.0.0.1", 0), _FeedHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _by_title(items: list[ContentItem], fragment: str) -> ContentItem:
    return next(i for i in items if fragment in i.title)


# --- fetch_feed ----------------------------------------------------------------------------


def test_rss_items_have_clean_fields(base_url: str) -> None:
    items = fetch_feed(f"{base_url}/rss.xml", timeout=TIMEOUT)
    assert len(items) == 4
    harbor = items[0]
    assert harbor.title == "Harbor module completes thermal vacuum tests ahead of launch"
    assert harbor.source == "Loopback & Co News"
    assert harbor.url == "https://www.loopback-news.example/space/harbor-tests/?id=7"
    assert harbor.published == datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    assert harbor.tags == ("Space", "Engineering")
    # Relative links resolve against the feed's URL; missing dates stay unknown.
    radar = _by_title(items, "weather radar")
    assert radar.url == f"{base_url}/weather/radar"
    assert radar.published is None


def test_html_is_stripped_from_summaries(base_url: str) -> None:
    harbor = fetch_feed(f"{base_url}/rss.xml", timeout=TIMEOUT)[0]
    assert harbor.summary == (  # list items become sentences, not one run-on
        "The Harbor module finished six weeks of tests & checks. Acoustic tests. Shipping."
    )
    glacier = _by_title(fetch_feed(f"{base_url}/atom.xml", timeout=TIMEOUT), "Glacier")
    assert glacier.summary == "Drones mapped the glacier\u2019s edge."


# A library's feed description as such feeds write it: list items without stops, a
# heading, a link-only line and the usual navigation.
LIBRARY_HTML = """
<p>The city library opens its digital lending service on Monday</p>
<h3>What readers get</h3>
<ul><li>Ebook titles &amp; audiobooks</li><li>Readers copy books to two devices</li>
<li>Loans last three weeks:</li></ul>
<p><a href="https://library.example/faq">Read the FAQ.</a></p>
<p><a href="https://library.example/app">https://library.example/app</a></p>
<p>Staff will help at every branch. <a href="https://library.example/more">Read more</a></p>
<p>Continue reading &#8230;</p>
<p>The post Library goes digital appeared first on City News.</p>
"""


def test_feed_html_becomes_sentences_without_boilerplate() -> None:
    from novaavatar.hygiene import script_problems
    from tasks.scrape.feeds import html_to_sentences, text_to_sentences

    text = html_to_sentences(LIBRARY_HTML)
    assert text == (
        "The city library opens its digital lending service on Monday. What readers get. "
        "Ebook titles & audiobooks. Readers copy books to two devices. Loans last three "
        "weeks. Staff will help at every branch."
    )
    assert script_problems(text) == []  # nothing left a listener would trip over
    plain = "Budget passes\nRead more\nhttps://news.example/budget\nThe vote was 31 to 9."
    assert text_to_sentences(plain) == "Budget passes. The vote was 31 to 9."
    # through the real parser: an RSS item with that description
    rss = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>City News</title><item>'
        "<title>Library goes digital</title><link>https://library.example/news</link>"
        f"<description><![CDATA[{LIBRARY_HTML}]]></description></item></channel></rss>"
    ).encode()
    (item,) = parse_feed(rss, "https://library.example/feed")
    assert item.summary == text


def test_atom_feed(base_url: str) -> None:
    items = fetch_feed(f"{base_url}/atom.xml", timeout=TIMEOUT)
    assert [i.source for i in items] == ["Atom Desk", "Atom Desk"]
    assert items[0].url == "https://atom-desk.example/harbor"
    assert items[0].published == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # from <updated>
    assert items[1].published == datetime(2026, 3, 5, 6, 0, tzinfo=UTC)
    assert items[0].tags == ("Space",)


def test_sends_polite_user_agent_and_follows_redirects(base_url: str) -> None:
    _FeedHandler.user_agents.clear()
    items = fetch_feed(f"{base_url}/redirect", timeout=TIMEOUT)
    assert [i.title for i in items] == [i.title for i in fetch_feed(f"{base_url}/rss.xml")]
    assert _FeedHandler.user_agents and set(_FeedHandler.user_agents) == {USER_AGENT}


def test_max_items_and_length_limits(base_url: str) -> None:
    assert len(fetch_feed(f"{base_url}/rss.xml", max_items=2, timeout=TIMEOUT)) == 2
    (item,) = fetch_feed(f"{base_url}/long.xml", timeout=TIMEOUT)
    assert len(item.title) <= 300 and item.title.endswith("word…")
    assert len(item.summary) <= 2000 and item.summary.endswith("…")
    assert item.summary[:-1].split()[-1] in {"lorem", "ipsum", "dolor"}  # cut between words


def test_empty_feed_gives_no_items(base_url: str) -> None:
    assert fetch_feed(f"{base_url}/empty.xml", timeout=TIMEOUT) == []


BAD_SOURCES = {
    "/malformed.xml": "malformed XML",
    "/page.html": "not an RSS or Atom feed",
    "/error500": "HTTP 500",
    "/ratelimited": "retry after 120 s",
    "/slow": "timed out",
    "/trickle": "timed out",
    "/loop": "too many redirects",
    "/missing": "HTTP 404",
}


@pytest.mark.parametrize(("path", "reason"), BAD_SOURCES.items())
def test_bad_source_raises_input_error_naming_it(base_url: str, path: str, reason: str) -> None:
    url = f"{base_url}{path}"
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        fetch_feed(url, timeout=TIMEOUT)
    message = str(caught.value)
    assert url in message and reason in message
    assert "\n" not in message
    assert time.monotonic() - started < SLOW_S + 0.5  # a timeout never waits for the server


def test_unreachable_host_and_bad_scheme() -> None:
    with httpx.Client() as c:  # a closed port on loopback: refused at once
        port = _free_port()
        with pytest.raises(InputError, match=rf"127\.0\.0\.1:{port}.*could not connect"):
            fetch_feed(f"http://127.0.0.1:{port}/feed", client=c, timeout=TIMEOUT)
    with pytest.raises(InputError, match=r"ftp://x/feed.*unsupported scheme"):
        fetch_feed("ftp://x/feed")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_local_paths_and_file_urls(tmp_path: Path) -> None:
    feed = tmp_path / "my feed.xml"
    feed.write_text(GOOD_ATOM, encoding="utf-8")
    by_path = fetch_feed(str(feed))
    by_url = fetch_feed(feed.as_uri())
    assert [i.id for i in by_path] == [i.id for i in by_url] and len(by_path) == 2
    missing = tmp_path / "nope.xml"
    with pytest.raises(InputError, match=r"nope\.xml.*no such file"):
        fetch_feed(str(missing))
    bad = tmp_path / "bad.xml"
    bad.write_bytes(MALFORMED)
    with pytest.raises(InputError, match=r"bad\.xml.*malformed XML"):
        fetch_feed(str(bad))


def test_ids_are_deterministic(base_url: str) -> None:
    first = fetch_feed(f"{base_url}/rss.xml", timeout=TIMEOUT)
    again = fetch_feed(f"{base_url}/redirect", timeout=TIMEOUT)
    assert [i.id for i in first] == [i.id for i in again]
    assert len({i.id for i in first}) == len(first)
    expected = ContentItem.make(title=first[1].title, url=first[1].url, source="anything")
    assert first[1].id == expected.id
    assert [i.id for i in load_sample_items()] == [i.id for i in load_sample_items()]


# --- ranking -------------------------------------------------------------------------------


def test_canonical_url() -> None:
    variants = [
        "https://www.Example.com/news/a/?utm_source=x&utm_campaign=y#frag",
        "http://example.com/news/a?fbclid=1",
        "https://example.com:443/news/a/?gclid=2",
        "https://example.com/news/a",
    ]
    assert {canonical_url(u) for u in variants} == {"example.com/news/a"}
    assert canonical_url("https://example.com/a?b=2&a=1") == canonical_url(
        "https://example.com/a?a=1&b=2&utm_medium=z"
    )
    assert canonical_url("https://example.com/a?id=1") != canonical_url(
        "https://example.com/a?id=2"
    )
    assert (
        clean_url("HTTPS://WWW.Example.com/a/?utm_x=1&q=ok#f") == "https://www.example.com/a/?q=ok"
    )
    assert clean_url("") == "" and canonical_url("not a url") == "not a url"


def _item(
    title: str, url: str = "", summary: str = "", hours_ago: float | None = 1.0, **kw: object
) -> ContentItem:
    published = None if hours_ago is None else NOW - timedelta(hours=hours_ago)
    return ContentItem.make(
        title=title, url=url, source="S", summary=summary, published=published, **kw
    )


def test_dedup_by_canonical_url_and_similar_title() -> None:
    a = _item("Council approves bike lanes", "https://www.x.example/bike/?utm_source=a", "short")
    b = _item("Totally different headline", "http://x.example/bike", "a much longer summary " * 5)
    c = _item("Harbor module completes thermal vacuum tests ahead of launch", "https://y.example/1")
    d = _item("Harbor Module PASSES thermal-vacuum tests, ahead of launch!", "https://z.example/2")
    e = _item("Harbor module fails", "https://z.example/3")
    out = dedup([a, b, c, d, e])
    assert [i.url for i in out] == [b.url, c.url, e.url]  # fuller summary wins; first-seen order


def test_dedup_keeps_earlier_when_equally_informative_and_merges_tags() -> None:
    later = _item(
        "Glacier melt measured by drone survey team",
        "https://a.example/1",
        hours_ago=1,
        tags=("Climate",),
    )
    earlier = _item(
        "Glacier melt measured by drone survey",
        "https://b.example/2",
        hours_ago=5,
        tags=("Science",),
    )
    (kept,) = dedup([later, earlier])
    assert kept.url == earlier.url
    assert kept.tags == ("Climate", "Science")  # union, in order of appearance


def test_short_titles_are_not_fuzzy_matched() -> None:
    items = [
        _item("Storm", "https://a.example/1"),
        _item("Storm warning lifted", "https://a.example/2"),
    ]
    assert len(dedup(items)) == 2


def test_score_components() -> None:
    fresh = _item("Wind farm opens", hours_ago=0)
    day_old = _item("Wind farm opens", hours_ago=24)
    # Without keywords: (0.55*recency + 0.15*richness) / 0.70
    assert score(fresh, now=NOW) == pytest.approx(0.55 / 0.70)
    assert score(day_old, now=NOW) == pytest.approx(0.55 * 0.5 / 0.70)
    assert score(_item("Future", hours_ago=-5), now=NOW) == score(fresh, now=NOW)
    assert score(_item("Undated", hours_ago=None), now=NOW) == pytest.approx(0.55 * 0.2 / 0.70)
    rich = _item("x y z", summary="word " * 60, hours_ago=0)
    assert score(rich, now=NOW) == pytest.approx(1.0)
    assert score(rich, now=NOW, keywords=["wind"]) == pytest.approx(0.70)
    in_title = score(fresh, now=NOW, keywords=["wind farm"])
    in_summary = score(
        _item("Opening", summary="A wind farm opened.", hours_ago=0),
        now=NOW,
        keywords=["WIND FARM"],
    )
    none = score(fresh, now=NOW, keywords=["election"])
    assert in_title > in_summary > none
    assert score(fresh, now=NOW, source_weights={"S": 0.5}) == pytest.approx(0.5 * 0.55 / 0.70)
    assert score(fresh, now=NOW, source_weights={"S": 99}) <= 2.0
    for item in (fresh, day_old, rich):
        assert 0.0 <= score(item, now=NOW, keywords=["wind", "farm", "opens", "x"]) <= 1.0


def test_rank_orders_newer_and_matching_first() -> None:
    old = _item("Museum opens archive", hours_ago=72)
    new = _item("Bakery wins award", hours_ago=2)
    match = _item("Space probe reaches orbit", hours_ago=20)
    assert [i.title for i in rank([old, new], now=NOW)] == [new.title, old.title]
    ranked = rank([old, new, match], now=NOW, keywords=["space"])
    assert ranked[0].title == match.title
    assert ranked[-1].title == old.title
    assert [i.score for i in ranked] == sorted((i.score for i in ranked), reverse=True)
    assert old.score == 0.0  # originals untouched: rank returns copies


# --- scrape --------------------------------------------------------------------------------


def test_scrape_good_and_bad_sources_together(base_url: str) -> None:
    good = [f"{base_url}/rss.xml", f"{base_url}/atom.xml"]
    bad = [f"{base_url}{p}" for p in BAD_SOURCES]
    started = time.monotonic()
    result = scrape(
        [*good, *bad, f"{base_url}/empty.xml"], timeout=TIMEOUT, now=NOW, keywords=["glacier"]
    )
    assert time.monotonic() - started < SLOW_S + 1.5  # fetched concurrently
    assert isinstance(result, ScrapeResult) and not result.used_sample
    assert set(result.errors) == set(bad)
    for source, message in result.errors.items():
        assert source in message and BAD_SOURCES[source.removeprefix(base_url)] in message
    titles = [i.title for i in result.items]
    # 4 RSS + 2 Atom items, minus the bike-lanes URL duplicate and the cross-feed harbor story.
    assert len(titles) == 4
    assert sum("Harbor module" in t for t in titles) == 1
    assert sum(" lanes" in t for t in titles) == 1
    assert titles[0].startswith("Harbor module")  # the freshest
    # A keyword match lifts a 5-day-old item above a 2-day-old one without it.
    assert titles.index(_by_title(result.items, "Glacier").title) < titles.index(
        _by_title(result.items, " lanes").title
    )
    assert [i.score for i in result.items] == sorted((i.score for i in result.items), reverse=True)
    harbor = _by_title(result.items, "Harbor module")
    assert harbor.source == "Loopback & Co News"  # the fuller of the two reports
    assert harbor.tags == ("Space", "Engineering")


def test_scrape_never_substitutes_the_sample_when_all_fail(base_url: str) -> None:
    bad = [f"{base_url}/error500", f"{base_url}/malformed.xml"]
    result = scrape(bad, timeout=TIMEOUT, now=NOW)
    assert result.items == [] and not result.used_sample and result.succeeded == 0
    assert set(result.errors) == set(bad)
    empty = scrape([], now=NOW)
    assert empty.items == [] and not empty.used_sample
    # the sample is read only when asked for by name, and its items say they are fiction
    asked = scrape(["sample"], now=NOW)
    assert asked.used_sample and len(asked.items) >= 10 and all(i.sample for i in asked.items)
    assert asked.succeeded == len(sample_feed_paths())
    # a real feed's items are not samples
    real = scrape([f"{base_url}/rss.xml"], timeout=TIMEOUT, now=NOW)
    assert real.items and not any(i.sample for i in real.items) and not real.used_sample


def test_scrape_uses_a_given_client(base_url: str) -> None:
    with httpx.Client(headers={"User-Agent": "custom/1"}) as client:
        _FeedHandler.user_agents.clear()
        result = scrape([f"{base_url}/rss.xml"], client=client, timeout=TIMEOUT, now=NOW)
        assert not client.is_closed  # the caller's client stays the caller's
    assert len(result.items) == 3 and _FeedHandler.user_agents == ["custom/1"]


# --- sample feeds --------------------------------------------------------------------------


def test_sample_feed_parses_and_exercises_cleaning() -> None:
    assert sample_feed_path().is_file()
    rss = fetch_feed(str(sample_feed_path()))
    assert len(rss) >= 10
    assert all(i.published and i.published.year == 2026 for i in rss)
    assert not any("<" in i.summary or "&amp;" in i.summary for i in rss)
    samples = load_sample_items()
    assert {i.source for i in samples} == {"NovaAvatar Sample Newswire", "Sample Science Desk"}
    unique = dedup(samples)
    assert len(samples) - len(unique) >= 2  # a near-duplicate title pair and a shared URL
    assert len(unique) >= 10
