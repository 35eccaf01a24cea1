"""Scrape sources against loopback fakes: async feeds, Reddit through real praw, NewsAPI.

One threaded HTTP server on 127.0.0.1 plays every remote: feeds (304s, huge, broken,
slow, hostile), Reddit's OAuth token endpoint and listings, and NewsAPI. Nothing here
touches the internet.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from novaavatar.errors import InputError
from tasks.scrape import DEFAULT_FEEDS, expand_sources, fetch_feed, fetch_feeds, rank, scrape
from tasks.scrape.fetch_async import CACHE_FILE, ITEMS_DIR
from tasks.scrape.newsapi import DailyQuota, NewsApiSource, QuotaExhausted
from tasks.scrape.reddit import RedditSource, engagement_of

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


WORDS = [
    "harbor",
    "council",
    "budget",
    "glacier",
    "rover",
    "orbit",
    "vaccine",
    "election",
    "tariff",
    "drought",
    "festival",
    "museum",
    "bridge",
    "railway",
    "satellite",
    "reactor",
    "vineyard",
    "summit",
    "protest",
    "merger",
    "startup",
    "chip",
    "battery",
    "wildfire",
    "flood",
    "treaty",
    "senate",
    "court",
    "ferry",
    "stadium",
    "league",
    "marathon",
    "opera",
    "telescope",
    "coral",
    "forest",
    "airport",
    "tunnel",
    "pipeline",
    "harvest",
    "robot",
    "quantum",
    "archive",
    "library",
    "bakery",
    "canal",
    "volcano",
]


def title_words(key: str, n: int = 6) -> str:
    """Distinct-looking words for item ``key``, so the fuzzy dedup keeps items apart."""
    seed = int.from_bytes(key.encode(), "little") % 2_147_483_647 or 1
    out = []
    for _ in range(n):
        seed = seed * 48271 % 2_147_483_647
        out.append(WORDS[seed % len(WORDS)])
    return " ".join(out)


def rss(n: int, *, prefix: str = "Story", title: str = "Loopback feed", start: int = 0) -> bytes:
    items = "".join(
        f"<item><title>{prefix} {i} {title_words(f'{prefix}{i}')}</title>"
        f"<link>https://news.example/{prefix.lower()}/{i}</link>"
        f"<description>Details of {prefix.lower()} {i}.</description>"
        f"<pubDate>Tue, 10 Mar 2026 09:00:00 GMT</pubDate></item>"
        for i in range(start, start + n)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title>{items}</channel></rss>"
    ).encode()


BIG = rss(10_000, prefix="Big")
LATIN1 = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Caf\xe9 Feed</title>'
    "<item><title>Caf\xe9 owners in S\xe3o Paulo celebrate the festival</title>"
    "<link>https://news.example/cafe</link></item></channel></rss>"
).encode("latin-1")
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
    )
    + b']><rss version="2.0"><channel><title>&j;</title><item><title>&j;</title></item>'
    b"</channel></rss>"
)
INVALID = b"<rss><channel><title>Broken</title><item><title>Unclosed </channel> & <<<"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Loopback/1"
    state: ClassVar[dict[str, Any]] = {}

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(
        self, status: int, body: bytes, ctype: str = "application/rss+xml", **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        length = headers.pop("length", str(len(body)))
        self.send_header("Content-Length", length)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        try:
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json; charset=UTF-8")

    def do_POST(self) -> None:
        st = self.state
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        path = urlsplit(self.path).path
        with st["lock"]:
            st["hits"][path] += 1
        if path == "/api/v1/access_token":
            st["token_requests"].append((self.headers.get("Authorization", ""), form))
            if st["reddit_auth_fail"]:
                self._json(401, {"message": "Unauthorized", "error": 401})
                return
            self._json(
                200,
                {"access_token": "tok-1", "token_type": "bearer", "expires_in": 3600, "scope": "*"},
            )
            return
        self._json(404, {"error": 404})

    def do_GET(self) -> None:
        st = self.state
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        host = self.headers.get("Host", "").split(":")[0]
        with st["lock"]:
            st["hits"][path] += 1
            st["user_agents"].append(self.headers.get("User-Agent", ""))
        if path.startswith("/r/"):
            self._reddit(path, query)
        elif path.startswith("/v2/"):
            self._newsapi(path, query)
        elif path.startswith("/feed/"):
            n = int(path.removeprefix("/feed/").split("-")[0].removesuffix(".xml"))
            self._send(200, rss(n, prefix=f"F{path[6:].split('.')[0]}"))
        elif path.startswith("/slow/"):
            with st["lock"]:
                st["active"][host] += 1
                st["peak"][host] = max(st["peak"][host], st["active"][host])
                st["total_active"] += 1
                st["total_peak"] = max(st["total_peak"], st["total_active"])
            time.sleep(0.25)
            with st["lock"]:
                st["active"][host] -= 1
                st["total_active"] -= 1
            self._send(200, rss(2, prefix=f"Slow{path[6:].split('.')[0]}"))
        elif path == "/etag.xml":
            if self.headers.get("If-None-Match") == '"v1"':
                self._send(304, b"", ETag='"v1"')
            else:
                self._send(200, rss(3, prefix="Etag"), ETag='"v1"')
        elif path == "/lastmod.xml":
            stamp = "Tue, 10 Mar 2026 08:00:00 GMT"
            if self.headers.get("If-Modified-Since") == stamp:
                self._send(304, b"")
            else:
                self._send(200, rss(2, prefix="Lastmod"), Last_Modified=stamp)
        elif path == "/big.xml":
            self._send(200, BIG)
        elif path == "/latin1.xml":
            self._send(200, LATIN1, "application/rss+xml; charset=utf-8")
        elif path == "/laughs.xml":
            self._send(200, LAUGHS)
        elif path == "/invalid.xml":
            self._send(200, INVALID)
        elif path == "/truncated.xml":
            body = rss(5)
            self.close_connection = True
            self._send(200, body[: len(body) // 2], length=str(len(body)), Connection="close")
        elif path == "/trickle.xml":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(60):  # a byte every 0.1 s: each read is quick, the whole is not
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
        elif path == "/hang.xml":
            time.sleep(3)
            self._send(200, rss(1))
        else:
            self._send(404, b"not found", "text/plain")

    # --- Reddit ---------------------------------------------------------------------------

    def _reddit(self, path: str, query: dict[str, list[str]]) -> None:
        st = self.state
        if self.headers.get("Authorization") != "bearer tok-1":
            self._json(401, {"message": "Unauthorized", "error": 401})
            return
        _, _, sub, sort = path.rstrip("/").split("/")[:4]
        st["listings"].append((sub, sort, {k: v[0] for k, v in query.items()}))
        if sub == "missing":
            self._json(404, {"message": "Not Found", "error": 404})
            return

        def post(i: int, **kw: Any) -> dict[str, Any]:
            data = {
                "id": f"{sub}{i}",
                "name": f"t3_{sub}{i}",
                "title": f"{sub} post {i}: {title_words(sub + str(i))}",
                "selftext": "",
                "url": f"https://news.example/{sub}/{i}?utm_source=reddit",
                "permalink": f"/r/{sub}/comments/{sub}{i}/post/",
                "subreddit": sub,
                "author": "someone",
                "score": 500,
                "num_comments": 40,
                "over_18": False,
                "stickied": False,
                "is_self": False,
                "created_utc": NOW.timestamp() - 3600 * i,
                "link_flair_text": "Politics",
            }
            data.update(kw)
            return {"kind": "t3", "data": data}

        children = [
            post(0, stickied=True, title=f"{sub} megathread: rules of the community"),
            post(1, score=12000, num_comments=3000),
            post(2, over_18=True),
            post(3, score=3),
            post(4, is_self=True, selftext="Body   text of the self post."),
            post(5, score=60, num_comments=1),
        ]
        self._json(
            200,
            {"kind": "Listing", "data": {"after": None, "before": None, "children": children}},
        )

    # --- NewsAPI --------------------------------------------------------------------------

    def _newsapi(self, path: str, query: dict[str, list[str]]) -> None:
        st = self.state
        st["newsapi"].append(
            (path, self.headers.get("X-Api-Key"), {k: v[0] for k, v in query.items()})
        )
        mode = st["newsapi_mode"]
        if self.headers.get("X-Api-Key") != "news-key":
            self._json(401, {"status": "error", "code": "apiKeyInvalid", "message": "bad key"})
        elif mode == "429":
            self._json(429, {"status": "error", "code": "rateLimited", "message": "too many"})
        elif mode == "ratelimited-200":
            self._json(200, {"status": "error", "code": "rateLimited", "message": "limit"})
        elif mode == "500":
            self._json(500, {"status": "error", "code": "unexpectedError", "message": "boom"})
        elif mode == "malformed":
            self._send(200, b'{"status": "ok", "articles": [', "application/json")
        else:
            articles = [
                {
                    "source": {"id": None, "name": "Wire Service"},
                    "title": f"Headline {i}: {title_words(path + str(i))}",
                    "description": f"<p>Summary <b>{i}</b> of the story.</p>",
                    "url": f"https://wire.example/{path.rsplit('/', 1)[-1]}/{i}",
                    "publishedAt": "2026-03-10T08:00:00Z",
                }
                for i in range(3)
            ] + [{"title": "[Removed]", "url": "https://removed.example"}]
            self._json(200, {"status": "ok", "totalResults": 4, "articles": articles})


def _fresh_state() -> dict[str, Any]:
    return {
        "lock": threading.Lock(),
        "hits": Counter(),
        "user_agents": [],
        "active": Counter(),
        "peak": Counter(),
        "total_active": 0,
        "total_peak": 0,
        "token_requests": [],
        "listings": [],
        "reddit_auth_fail": False,
        "newsapi": [],
        "newsapi_mode": "ok",
    }


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.request_queue_size = 128
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def base(server: ThreadingHTTPServer) -> str:
    Handler.state = _fresh_state()
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def state(base: str) -> dict[str, Any]:
    return Handler.state


# --- async feeds ----------------------------------------------------------------------------


def test_many_feeds_concurrently_with_polite_user_agent(base: str, state: dict[str, Any]) -> None:
    urls = [f"{base}/feed/{n}-{i}.xml" for i, n in enumerate((5, 5, 5, 5))]
    outcomes = fetch_feeds(urls, timeout=2, max_items=3)
    assert [o.url for o in outcomes] == urls and all(o.ok for o in outcomes)
    assert [len(o.items) for o in outcomes] == [3, 3, 3, 3]
    assert all(ua.startswith("NovaAvatar/") for ua in state["user_agents"])


def test_per_host_limit_is_observed(base: str, state: dict[str, Any]) -> None:
    port = urlsplit(base).port
    urls = [f"http://127.0.0.1:{port}/slow/a{i}.xml" for i in range(6)]
    urls += [f"http://localhost:{port}/slow/b{i}.xml" for i in range(6)]
    started = time.monotonic()
    outcomes = fetch_feeds(urls, timeout=5, per_host=2)
    elapsed = time.monotonic() - started
    assert all(o.ok and len(o.items) == 2 for o in outcomes), [o.error for o in outcomes]
    assert state["peak"]["127.0.0.1"] == 2 and state["peak"]["localhost"] == 2
    assert state["total_peak"] >= 3  # the two hosts ran side by side
    assert elapsed < 6 * 0.25 + 1.5  # 3 rounds of 0.25 s per host, not 12 in a row


def test_conditional_get_304_yields_the_items_of_last_time(
    base: str, state: dict[str, Any], tmp_path: Path
) -> None:
    urls = [f"{base}/etag.xml", f"{base}/lastmod.xml"]
    first = scrape(urls, cache_dir=tmp_path, now=NOW)
    assert len(first.items) == 5 and first.not_modified == []
    cache = json.loads((tmp_path / CACHE_FILE).read_text())
    assert cache[urls[0]] == {"etag": '"v1"', "max_items": "20"}
    assert cache[urls[1]] == {"last_modified": "Tue, 10 Mar 2026 08:00:00 GMT", "max_items": "20"}
    # unchanged feeds answer 304: the same items, ranked and deduplicated as before
    second = scrape(urls, cache_dir=tmp_path, now=NOW)
    assert second.not_modified == urls and second.errors == {} and second.succeeded == 2
    assert second.items == first.items and not second.used_sample
    assert state["hits"]["/etag.xml"] == state["hits"]["/lastmod.xml"] == 2
    # dedup across an unchanged and a changed feed still works: the kept items are real items
    both = scrape([*urls, f"{base}/feed/3-x.xml"], cache_dir=tmp_path, now=NOW)
    assert [i.id for i in both.items if "Etag" in i.title] == [
        i.id for i in first.items if "Etag" in i.title
    ]
    assert len(both.items) == 8 and both.not_modified == urls
    # asking for more entries than were kept is a full GET, not a short 304
    more = scrape(urls, cache_dir=tmp_path, now=NOW, max_items_per_source=50)
    assert more.not_modified == [] and len(more.items) == 5
    # kept items lost (deleted by hand): the 304 is followed by a full GET, nothing is lost
    for kept in (tmp_path / ITEMS_DIR).iterdir():
        kept.unlink()
    again = scrape(urls, cache_dir=tmp_path, now=NOW, max_items_per_source=50)
    assert again.items == more.items and again.not_modified == [] and again.errors == {}
    # Without the cache folder, the GET is unconditional again.
    assert len(scrape(urls, now=NOW).items) == 5


@pytest.mark.usefixtures("prefect_harness")
def test_the_scrape_flow_lists_an_unchanged_feed_again(base: str, storage: Path) -> None:
    """What `novaavatar scrape --source URL --json` runs, twice on an unchanged feed."""
    from flows.scrape import scrape_content

    first = scrape_content(sources=[f"{base}/etag.xml"])
    second = scrape_content(sources=[f"{base}/etag.xml"])
    assert len(first) == 3 and [i.id for i in second] == [i.id for i in first]
    assert (storage / "scrape-cache" / CACHE_FILE).is_file()


def test_corrupt_cache_file_is_ignored(base: str, tmp_path: Path) -> None:
    (tmp_path / CACHE_FILE).write_text("{not json")
    result = scrape([f"{base}/etag.xml"], cache_dir=tmp_path, now=NOW)
    assert len(result.items) == 3
    assert json.loads((tmp_path / CACHE_FILE).read_text())


def test_ten_thousand_entries_are_bounded_and_fast(base: str) -> None:
    started = time.monotonic()
    (outcome,) = fetch_feeds([f"{base}/big.xml"], timeout=10, max_items=25)
    assert outcome.ok and len(outcome.items) == 25
    assert outcome.items[0].title.startswith("Big 0 ")
    assert time.monotonic() - started < 3  # parsing all 10,000 entries takes longer


def test_wrong_encoding_is_recovered(base: str) -> None:
    (item,) = fetch_feed(f"{base}/latin1.xml")
    assert item.title == "Café owners in São Paulo celebrate the festival"
    assert item.source == "Café Feed"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/laughs.xml", "declares XML entities"),
        ("/invalid.xml", "malformed XML"),
        ("/truncated.xml", "response incomplete"),
        ("/trickle.xml", "timed out after 1 s"),
        ("/hang.xml", "timed out after 1 s"),
        ("/missing.xml", "HTTP 404"),
    ],
)
def test_hostile_and_broken_feeds_fail_clearly_and_quickly(
    base: str, path: str, reason: str
) -> None:
    started = time.monotonic()
    (outcome,) = fetch_feeds([f"{base}{path}"], timeout=1)
    assert time.monotonic() - started < 2.5
    assert outcome.error is not None and reason in outcome.error, outcome.error
    assert f"{base}{path}" in outcome.error


def test_entity_expansion_refused_for_local_files_too(tmp_path: Path) -> None:
    feed = tmp_path / "laughs.xml"
    feed.write_bytes(LAUGHS)
    with pytest.raises(InputError, match="declares XML entities"):
        fetch_feed(str(feed))


def test_scrape_mixes_broken_and_good_feeds_and_never_falls_back(base: str) -> None:
    result = scrape(
        [f"{base}/feed/4-x.xml", f"{base}/laughs.xml", f"{base}/truncated.xml"],
        timeout=1,
        now=NOW,
    )
    assert len(result.items) == 4 and set(result.errors) == {
        f"{base}/laughs.xml",
        f"{base}/truncated.xml",
    }
    failed = scrape([f"{base}/laughs.xml"], timeout=1, now=NOW)
    assert failed.items == [] and failed.succeeded == 0 and not failed.used_sample


def test_default_sources_expand_without_fetching() -> None:
    assert set(DEFAULT_FEEDS) == {"CNN", "BBC", "NPR", "NYT", "TechCrunch"}
    assert all(u.startswith(("http://", "https://")) for u in DEFAULT_FEEDS.values())
    assert expand_sources(["default", " ", "/tmp/x.xml", "DEFAULT"]) == [
        *DEFAULT_FEEDS.values(),
        "/tmp/x.xml",
    ]


# --- Reddit through praw --------------------------------------------------------------------


def _reddit(base: str, **kw: Any) -> RedditSource:
    options: dict[str, Any] = {
        "client_id": "cid",
        "client_secret": "csecret",
        "subreddits": ["news", "r/technology"],
        "min_score": 50,
        "base_url": base,
        "timeout": 5,
    }
    options.update(kw)
    return RedditSource(**options)


def test_reddit_listings_filtered_into_items(base: str, state: dict[str, Any]) -> None:
    source = _reddit(base, sort="top", time_filter="week")
    items = source.fetch(max_items=10)
    # App-only OAuth with the client credentials, then one listing per subreddit.
    auth, form = state["token_requests"][0]
    assert auth.startswith("Basic ") and form["grant_type"] == ["client_credentials"]
    assert [(s, sort) for s, sort, _ in state["listings"]] == [
        ("news", "top"),
        ("technology", "top"),
    ]
    assert all(q["t"] == "week" for _, _, q in state["listings"])
    # Stickied, NSFW and under-the-floor posts dropped: posts 1, 4 and 5 of each stay.
    assert len(items) == 6
    assert {i.source for i in items} == {"reddit/r/news", "reddit/r/technology"}
    by_id = {i.title.split(":")[0]: i for i in items}
    assert set(by_id) == {f"{s} post {n}" for s in ("news", "technology") for n in (1, 4, 5)}
    linked = by_id["news post 1"]
    assert linked.url == "https://news.example/news/1"  # tracking stripped
    assert linked.tags == ("r/news", "Politics")
    selfpost = by_id["news post 4"]
    assert selfpost.url == "https://www.reddit.com/r/news/comments/news4/post/"
    assert selfpost.summary == "Body text of the self post."
    # Engagement lifts the popular post in the ranking.
    engagement = source.engagement
    assert engagement[linked.id] == pytest.approx(engagement_of(12000, 3000))
    assert engagement[by_id["news post 5"].id] < engagement[linked.id]
    ranked = rank(items, now=NOW, engagement=engagement)
    assert {i.title.split(":")[0] for i in ranked[:2]} == {"news post 1", "technology post 1"}
    plain = {i.id: i.score for i in rank(items, now=NOW)}
    lifted = {i.id: i.score for i in ranked}
    assert lifted[linked.id] > plain[linked.id]  # 15,000 points + comments: engagement ~1


def test_reddit_sort_hot_and_max_items(base: str, state: dict[str, Any]) -> None:
    items = _reddit(base, subreddits=["news"], sort="hot").fetch(max_items=2)
    assert len(items) == 2
    assert state["listings"][0][:2] == ("news", "hot")


def test_reddit_failures(base: str, state: dict[str, Any]) -> None:
    partial = _reddit(base, subreddits=["news", "missing"])
    assert len(partial.fetch(10)) == 3 and "missing" in partial.errors
    state["reddit_auth_fail"] = True
    with pytest.raises(InputError, match="every subreddit failed") as e:
        _reddit(base, subreddits=["news"]).fetch(5)
    assert "csecret" not in str(e.value)
    with pytest.raises(ValueError, match="sort"):
        _reddit(base, sort="best")


def test_scrape_with_reddit_as_extra_source(base: str) -> None:
    result = scrape(
        [f"{base}/feed/3-r.xml"],
        extra_sources=[_reddit(base, subreddits=["news"])],
        now=NOW,
    )
    sources = Counter(i.source for i in result.items)
    assert sources == {"Loopback feed": 3, "reddit/r/news": 3}
    assert len(result.engagement) == 3 and not result.used_sample


# --- NewsAPI --------------------------------------------------------------------------------


def _newsapi(base: str, tmp_path: Path, **kw: Any) -> NewsApiSource:
    options: dict[str, Any] = {
        "api_key": "news-key",
        "base_url": f"{base}/v2",
        "counter_path": tmp_path / "quota.json",
        "daily_limit": 100,
        "timeout": 2,
        "today": lambda: date(2026, 3, 10),
    }
    options.update(kw)
    return NewsApiSource(**options)


def test_newsapi_headlines_and_search(base: str, state: dict[str, Any], tmp_path: Path) -> None:
    source = _newsapi(base, tmp_path, query="harbor budget", country="us")
    items = source.fetch(max_items=10)
    assert len(items) == 6  # 3 + 3, "[Removed]" dropped
    (p1, key1, q1), (p2, _, q2) = state["newsapi"]
    assert p1 == "/v2/top-headlines" and key1 == "news-key" and q1["country"] == "us"
    assert p2 == "/v2/everything" and q2["q"] == "harbor budget" and q2["pageSize"] == "10"
    assert items[0].summary == "Summary 0 of the story." and items[0].source == "Wire Service"
    assert items[0].published == datetime(2026, 3, 10, 8, tzinfo=UTC)
    assert json.loads((tmp_path / "quota.json").read_text()) == {"2026-03-10": 2}


@pytest.mark.parametrize(
    ("mode", "error", "message"),
    [
        ("500", InputError, "HTTP 500 unexpectedError"),
        ("malformed", InputError, "malformed response"),
        ("429", QuotaExhausted, "rate limited"),
        ("ratelimited-200", QuotaExhausted, "rate limited"),
    ],
)
def test_newsapi_errors(
    base: str, state: dict[str, Any], tmp_path: Path, mode: str, error: type, message: str
) -> None:
    state["newsapi_mode"] = mode
    source = _newsapi(base, tmp_path)
    with pytest.raises(error, match=message) as e:
        source.top_headlines()
    assert "news-key" not in str(e.value)
    if error is QuotaExhausted:
        # Stopped for the day: the next call sends nothing.
        state["newsapi_mode"] = "ok"
        with pytest.raises(QuotaExhausted, match="daily limit of 100"):
            _newsapi(base, tmp_path).top_headlines()
        assert len(state["newsapi"]) == 1
        # A new day starts afresh.
        assert _newsapi(base, tmp_path, today=lambda: date(2026, 3, 11)).top_headlines()


def test_newsapi_bad_key_is_a_clear_error(base: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="HTTP 401 apiKeyInvalid"):
        _newsapi(base, tmp_path, api_key="wrong").top_headlines()


def test_newsapi_failure_in_scrape_keeps_the_feeds(
    base: str, state: dict[str, Any], tmp_path: Path
) -> None:
    state["newsapi_mode"] = "429"
    result = scrape([f"{base}/feed/2-n.xml"], extra_sources=[_newsapi(base, tmp_path)], now=NOW)
    assert len(result.items) == 2 and "rate limited" in result.errors["newsapi"]


def test_daily_quota_holds_across_processes(
    base: str, state: dict[str, Any], tmp_path: Path
) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        from tasks.scrape.newsapi import NewsApiSource, QuotaExhausted
        source = NewsApiSource(api_key="news-key", base_url={base + "/v2"!r},
                               counter_path=Path({str(tmp_path / "quota.json")!r}),
                               daily_limit=5, timeout=5)
        ok = 0
        for _ in range(4):
            try:
                source.top_headlines(page_size=1)
                ok += 1
            except QuotaExhausted:
                pass
        print(ok)
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    assert sum(int(out.strip()) for out, _ in results) == 5
    assert len(state["newsapi"]) == 5  # the sixth..eighth calls sent nothing
    today = datetime.now(UTC).date().isoformat()
    assert json.loads((tmp_path / "quota.json").read_text())[today] == 5


def test_quota_unreadable_counter_is_treated_as_used_up(tmp_path: Path) -> None:
    path = tmp_path / "quota.json"
    path.write_text("garbage")
    quota = DailyQuota(path, limit=3)
    with pytest.raises(QuotaExhausted):
        quota.take()


def test_sources_from_settings_skip_missing_credentials(
    base: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from types import SimpleNamespace

    from pydantic import SecretStr

    from tasks.scrape import sources_from_settings

    caplog.set_level("INFO", logger="tasks.scrape.sources")
    bare = SimpleNamespace(storage_path=tmp_path, scrape_timeout=2.0)
    assert sources_from_settings(bare) == []
    assert "Reddit skipped" in caplog.text and "NewsAPI skipped" in caplog.text
    keyed = SimpleNamespace(
        storage_path=tmp_path,
        scrape_timeout=2.0,
        reddit_client_id=SecretStr("cid"),
        reddit_client_secret=SecretStr("csecret"),
        reddit_subreddits=["news"],
        reddit_base_url=base,
        newsapi_key=SecretStr("news-key"),
        newsapi_base_url=f"{base}/v2",
        newsapi_query="",
        newsapi_country="us",
    )
    reddit, newsapi = sources_from_settings(keyed)
    result = scrape([], extra_sources=[reddit, newsapi], now=NOW)
    assert not result.used_sample and not result.errors
    assert Counter(i.source for i in result.items) == {"reddit/r/news": 3, "Wire Service": 3}
    assert (tmp_path / "scrape-cache" / "newsapi_quota.json").is_file()
