"""Scrape stage: news feeds into ranked, deduplicated ``ContentItem``s, offline-capable.

``scrape(sources)`` is the entry point (feeds fetched concurrently with httpx's async
client, plus Reddit/NewsAPI sources from ``sources_from_settings``); ``fetch_feed`` reads
one feed; ``ranking``
holds the dedup and scoring rules; the bundled sample feeds stand in for unreachable
sources so a laptop with no network still has news to turn into video.
"""

from tasks.scrape.feeds import (
    USER_AGENT,
    fetch_feed,
    load_sample_items,
    parse_feed,
    sample_feed_path,
    sample_feed_paths,
)
from tasks.scrape.fetch_async import FeedOutcome, fetch_feeds, fetch_feeds_async
from tasks.scrape.ranking import canonical_url, clean_url, dedup, rank, score
from tasks.scrape.run import ScrapeResult, scrape
from tasks.scrape.sources import DEFAULT_FEEDS, ItemSource, expand_sources, sources_from_settings

__all__ = [
    "DEFAULT_FEEDS",
    "USER_AGENT",
    "FeedOutcome",
    "ItemSource",
    "ScrapeResult",
    "canonical_url",
    "clean_url",
    "dedup",
    "expand_sources",
    "fetch_feed",
    "fetch_feeds",
    "fetch_feeds_async",
    "load_sample_items",
    "parse_feed",
    "rank",
    "sample_feed_path",
    "sample_feed_paths",
    "score",
    "scrape",
    "sources_from_settings",
]
