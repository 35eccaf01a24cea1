"""A scrape: many feeds fetched concurrently (plus Reddit/NewsAPI), then deduplicated and
ranked; a failing source is recorded and never hides the others."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from novaavatar.domain import ContentItem, utcnow
from novaavatar.errors import InputError
from tasks.scrape.feeds import MAX_CONCURRENT_FETCHES, USER_AGENT, fetch_feed
from tasks.scrape.ranking import dedup, rank

log = logging.getLogger(__name__)


@dataclass
class ScrapeResult:
    """What one scrape produced: ranked unique items, and why any source gave nothing."""

    items: list[ContentItem] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # source -> one-line reason
    used_sample: bool = False  # the bundled (fictional) sample feed was asked for
    not_modified: list[str] = field(default_factory=list)  # feeds that answered 304
    succeeded: int = 0  # sources that answered (a 304 included)
    engagement: dict[str, float] = field(default_factory=dict)  # item id -> 0..1 popularity


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fetch_threaded(
    unique: Sequence[str],
    client: httpx.Client,
    timeout: float,
    max_items: int,
    result: ScrapeResult,
) -> tuple[list[ContentItem], int]:
    """The caller's sync ``client`` in a thread pool (kept for callers that pass one)."""
    fetched: list[ContentItem] = []
    succeeded = 0

    def one(source: str) -> list[ContentItem]:
        return fetch_feed(source, client=client, timeout=timeout, max_items=max_items)

    with ThreadPoolExecutor(
        max_workers=min(MAX_CONCURRENT_FETCHES, len(unique)), thread_name_prefix="scrape"
    ) as pool:
        futures = {source: pool.submit(one, source) for source in unique}
        for source, future in futures.items():  # source order: a stable result
            try:
                fetched.extend(future.result())
                succeeded += 1
            except InputError as e:
                result.errors[source] = _one_line(str(e))
                log.warning("%s", result.errors[source])
            except Exception as e:  # a bug for one feed must not lose the others
                log.exception("feed %s failed unexpectedly", source)
                result.errors[source] = (
                    f"feed {source}: unexpected {type(e).__name__}: {_one_line(str(e))}"
                )
    return fetched, succeeded


def _run_extra(
    extra: Sequence[Any], max_items: int, result: ScrapeResult
) -> tuple[list[ContentItem], int]:
    fetched: list[ContentItem] = []
    succeeded = 0
    for source in extra:
        name = str(getattr(source, "name", type(source).__name__))
        try:
            items = list(source.fetch(max_items))
        except InputError as e:
            result.errors[name] = _one_line(str(e))
            log.warning("%s", result.errors[name])
            continue
        except Exception as e:  # one provider's failure never stops the scrape
            log.exception("source %s failed unexpectedly", name)
            result.errors[name] = f"{name}: unexpected {type(e).__name__}: {_one_line(str(e))}"
            continue
        fetched.extend(items)
        result.engagement.update(getattr(source, "engagement", None) or {})
        succeeded += 1
    return fetched, succeeded


def scrape(
    sources: Sequence[str],
    *,
    timeout: float = 10.0,
    max_items_per_source: int = 20,
    keywords: Sequence[str] = (),
    client: httpx.Client | None = None,
    now: datetime | None = None,
    source_weights: Mapping[str, float] | None = None,
    extra_sources: Sequence[Any] = (),
    cache_dir: Path | None = None,
    per_host_limit: int = 2,
    user_agent: str = USER_AGENT,
) -> ScrapeResult:
    """Fetch ``sources`` concurrently, then deduplicate and rank what they gave.

    Feeds are fetched with ``httpx.AsyncClient`` (at most ``per_host_limit`` requests at
    once per host; conditional GET with the validators kept in ``cache_dir`` when one
    is given; a 304 gives the items kept from the last full fetch and is listed in
    ``not_modified``). The word ``default`` in ``sources`` stands for the default outlets
    (:data:`novaavatar.settings.DEFAULT_FEEDS`), the word ``sample`` for the bundled
    sample feeds, whose fictional items carry ``sample=True`` (``used_sample``). A
    caller's own sync ``client`` is used as given, from a thread pool. ``extra_sources``
    (Reddit, NewsAPI: objects with ``name`` and ``fetch(max_items)``) run beside the feeds.

    A failing source is recorded in ``errors`` and the others go on; ``succeeded`` counts
    the sources that answered, so a caller can tell "all failed" from "nothing new".
    Nothing is ever substituted for a failing source. ``now`` (default: the current
    time), ``source_weights`` and the extra sources' engagement feed
    :func:`tasks.scrape.ranking.score`.
    """
    from tasks.scrape.sources import expand_sources

    unique = expand_sources(sources)
    result = ScrapeResult()
    fetched: list[ContentItem] = []
    succeeded = 0

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scrape-extra") as side:
        extra_future = (
            side.submit(_run_extra, extra_sources, max_items_per_source, result)
            if extra_sources
            else None
        )
        if unique and client is not None:
            got, ok = _fetch_threaded(unique, client, timeout, max_items_per_source, result)
            fetched += got
            succeeded += ok
        elif unique:
            from tasks.scrape.fetch_async import fetch_feeds

            for outcome in fetch_feeds(
                unique,
                timeout=timeout,
                max_items=max_items_per_source,
                per_host=per_host_limit,
                cache_dir=cache_dir,
                user_agent=user_agent,
            ):
                if outcome.error is not None:
                    result.errors[outcome.url] = outcome.error
                    log.warning("%s", outcome.error)
                    continue
                succeeded += 1
                if outcome.not_modified:
                    result.not_modified.append(outcome.url)
                fetched.extend(outcome.items)
        if extra_future is not None:
            got, ok = extra_future.result()
            fetched += got
            succeeded += ok

    result.succeeded = succeeded
    result.used_sample = any(item.sample for item in fetched)
    result.items = rank(
        dedup(fetched),
        now=now or utcnow(),
        keywords=keywords,
        source_weights=source_weights,
        engagement=result.engagement,
    )
    return result
