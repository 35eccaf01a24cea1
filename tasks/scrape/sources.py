"""Which sources a scrape reads: the default outlets, and the keyed providers (Reddit, NewsAPI).

A feed source is a URL (or a local path); the word ``default`` in a source list stands for
:data:`DEFAULT_FEEDS`. Keyed providers are :class:`ItemSource` objects that ``scrape``
runs beside the feeds; :func:`sources_from_settings` builds the ones whose credentials
are configured, skipping the others with one info line.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from novaavatar.domain import ContentItem
from novaavatar.settings import DEFAULT_FEEDS

log = logging.getLogger(__name__)

DEFAULT_TOKENS = frozenset({"default", "defaults", "default-sources", "default_sources"})
# Asking for the bundled fictional stories by name: the only way they enter a scrape.
SAMPLE_TOKEN = "sample"


def expand_sources(sources: Sequence[str]) -> list[str]:
    """``sources`` with ``default`` replaced by the default feed URLs and ``sample`` by the
    bundled sample feed files, stripped, deduplicated."""
    from tasks.scrape.feeds import sample_feed_paths

    out: list[str] = []
    for source in sources:
        source = (source or "").strip()
        if not source:
            continue
        if source.lower() in DEFAULT_TOKENS:
            out.extend(DEFAULT_FEEDS.values())
        elif source.lower() == SAMPLE_TOKEN:
            out.extend(str(p) for p in sample_feed_paths())
        else:
            out.append(source)
    return list(dict.fromkeys(out))


@runtime_checkable
class ItemSource(Protocol):
    """A provider of items other than a feed: ``name`` keys its errors in ``ScrapeResult``.

    ``fetch`` raises ``InputError`` (or any exception) when it cannot deliver; ``scrape``
    records the reason and goes on with the other sources. ``engagement`` maps the ids of
    the items it returned to a 0..1 popularity the ranking takes into account.
    """

    name: str

    def fetch(self, max_items: int) -> list[ContentItem]: ...

    @property
    def engagement(self) -> dict[str, float]: ...


def _secret(settings: Any, name: str) -> str:
    value = getattr(settings, name, None)
    if value is None:
        return ""
    getter = getattr(value, "get_secret_value", None)
    return str(getter() if getter else value).strip()


def sources_from_settings(settings: Any, *, timeout: float | None = None) -> list[ItemSource]:
    """Reddit and NewsAPI sources for the credentials in ``settings`` (a ``Settings``).

    A provider without credentials is skipped with one info line, never an error.
    Optional settings read here (defaults in brackets): ``REDDIT_SUBREDDITS`` [news,
    worldnews, technology], ``REDDIT_SORT`` [hot], ``REDDIT_TIME_FILTER`` [day],
    ``REDDIT_MIN_SCORE`` [50], ``REDDIT_USER_AGENT``, ``REDDIT_BASE_URL``,
    ``NEWSAPI_QUERY`` [""], ``NEWSAPI_COUNTRY`` [us], ``NEWSAPI_BASE_URL``,
    ``NEWSAPI_DAILY_LIMIT`` [100]; the NewsAPI request counter lives under
    ``STORAGE_PATH/scrape-cache``.
    """
    from tasks.scrape.newsapi import NewsApiSource
    from tasks.scrape.reddit import RedditSource

    timeout = timeout if timeout is not None else float(getattr(settings, "scrape_timeout", 10.0))
    out: list[ItemSource] = []
    client_id = _secret(settings, "reddit_client_id")
    client_secret = _secret(settings, "reddit_client_secret")
    if client_id and client_secret:
        out.append(
            RedditSource(
                client_id=client_id,
                client_secret=client_secret,
                subreddits=tuple(
                    getattr(settings, "reddit_subreddits", None)
                    or ("news", "worldnews", "technology")
                ),
                sort=getattr(settings, "reddit_sort", "hot"),
                time_filter=getattr(settings, "reddit_time_filter", "day"),
                min_score=int(getattr(settings, "reddit_min_score", 50)),
                user_agent=getattr(settings, "reddit_user_agent", "") or None,
                base_url=getattr(settings, "reddit_base_url", None) or None,
                timeout=timeout,
            )
        )
    else:
        log.info("Reddit skipped: REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET are not both set")
    api_key = _secret(settings, "newsapi_key")
    if api_key:
        storage = Path(getattr(settings, "storage_path", "storage"))
        out.append(
            NewsApiSource(
                api_key=api_key,
                query=getattr(settings, "newsapi_query", "") or "",
                country=getattr(settings, "newsapi_country", "us") or "",
                base_url=getattr(settings, "newsapi_base_url", None) or None,
                counter_path=storage / "scrape-cache" / "newsapi_quota.json",
                daily_limit=int(getattr(settings, "newsapi_daily_limit", 100)),
                timeout=timeout,
            )
        )
    else:
        log.info("NewsAPI skipped: NEWSAPI_KEY is not set")
    return out
