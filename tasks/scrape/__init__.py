"""Scrape stage: news feeds into ranked, deduplicated ``ContentItem``s, offline-capable.

``scrape(sources)`` is the entry point; ``fetch_feed`` reads one feed; ``ranking``
holds the dedup and scoring rules; the bundled sample feeds stand in for unreachable
sources so a laptop with no network still has news to turn into video.
"""

from tasks.scrape.feeds import (
    USER_AGENT,
    ScrapeResult,
    fetch_feed,
    load_sample_items,
    parse_feed,
    sample_feed_path,
    sample_feed_paths,
    scrape,
)
from tasks.scrape.ranking import canonical_url, clean_url, dedup, rank, score

__all__ = [
    "USER_AGENT",
    "ScrapeResult",
    "canonical_url",
    "clean_url",
    "dedup",
    "fetch_feed",
    "load_sample_items",
    "parse_feed",
    "rank",
    "sample_feed_path",
    "sample_feed_paths",
    "score",
    "scrape",
]
