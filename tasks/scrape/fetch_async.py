"""Many feeds at once with ``httpx.AsyncClient``: per-host limits, timeouts, conditional GET.

``fetch_feeds(urls, ...)`` (sync, runs its own event loop) or ``fetch_feeds_async`` return a
``FeedOutcome`` per URL: items, or a one-line error; "not modified" (a 304 for the
ETag/Last-Modified remembered from the last run) comes with the items the feed had then.
Validators and those items live in the cache folder the caller passes; without one,
every GET is unconditional.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from novaavatar.domain import ContentItem
from novaavatar.errors import InputError
from tasks.scrape.feeds import (
    _ACCEPT,
    _TIMEOUT_PHASE,
    MAX_FEED_BYTES,
    USER_AGENT,
    _retry_after,
    fetch_feed,
    parse_feed,
)

log = logging.getLogger(__name__)

PER_HOST_LIMIT = 2  # requests in flight to one host: polite to news sites
MAX_IN_FLIGHT = 16  # requests in flight overall
CACHE_FILE = "feed_validators.json"
ITEMS_DIR = "feed-items"  # the items of each feed's last full fetch, kept for its 304s
MAX_CACHE_ENTRIES = 2000


@dataclass
class FeedOutcome:
    """What fetching one feed gave: items, or why not; ``not_modified`` on a 304 (the items
    are then those kept from the last full fetch)."""

    url: str
    items: list[ContentItem] = field(default_factory=list)
    error: str | None = None
    not_modified: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


class ValidatorCache:
    """ETag / Last-Modified per feed URL, kept in ``<folder>/feed_validators.json``, and the
    items each feed gave with them, in ``<folder>/feed-items/<hash>.json``.

    A 304 then yields the same items as the last full fetch, so listing, ranking and dedup
    behave as if the feed had been read again. A GET is conditional only when those items
    are kept (for at least as many entries as asked now). Files are written atomically
    (temp file + rename); a corrupt or missing file is an empty cache. Concurrent scrapes
    may overwrite each other's entries: the cost is one full GET.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.path = self.folder / CACHE_FILE if self.folder is not None else None
        self.entries: dict[str, dict[str, str]] = {}
        self.dirty = False
        self._pending: dict[str, tuple[int, list[ContentItem]]] = {}
        if self.path is not None and self.path.is_file():
            try:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(raw, dict):
                    self.entries = {
                        str(k): {str(a): str(b) for a, b in v.items()}
                        for k, v in raw.items()
                        if isinstance(v, dict)
                    }
            except (OSError, ValueError) as e:
                log.warning("feed cache %s unreadable (%s); starting empty", self.path, e)

    def items_path(self, url: str) -> Path | None:
        if self.folder is None:
            return None
        digest = hashlib.sha256(url.encode()).hexdigest()[:24]
        return self.folder / ITEMS_DIR / f"{digest}.json"

    def _kept_count(self, url: str) -> int | None:
        entry = self.entries.get(url, {})
        path = self.items_path(url)
        if path is None or not entry.get("max_items", "").isdigit() or not path.is_file():
            return None
        return int(entry["max_items"])

    def request_headers(self, url: str, max_items: int) -> dict[str, str]:
        """Conditional headers for ``url``, only when its items from last time are kept."""
        kept = self._kept_count(url)
        if kept is None or kept < max_items:
            return {}
        entry = self.entries[url]
        headers = {}
        if entry.get("etag"):
            headers["If-None-Match"] = entry["etag"]
        if entry.get("last_modified"):
            headers["If-Modified-Since"] = entry["last_modified"]
        return headers

    def kept_items(self, url: str) -> list[ContentItem] | None:
        """The items ``url`` gave at its last full fetch; None when they cannot be read."""
        path = self.items_path(url)
        if path is None:
            return None
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("url") != url:
                return None
            return [ContentItem.model_validate(i) for i in raw["items"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            log.warning("kept items of %s unreadable (%s); fetching in full", url, e)
            return None

    def remember(
        self,
        url: str,
        response_headers: httpx.Headers,
        items: list[ContentItem] | None = None,
        max_items: int = 0,
    ) -> None:
        if self.path is None:
            return
        entry = {
            k: v
            for k, v in (
                ("etag", response_headers.get("etag", "")),
                ("last_modified", response_headers.get("last-modified", "")),
            )
            if v
        }
        if entry:
            entry["max_items"] = str(max_items)
            self.entries.pop(url, None)
            self.entries[url] = entry  # newest last: the oldest are dropped first
            self._pending[url] = (max_items, list(items or []))
        elif url in self.entries:
            del self.entries[url]
            self._pending.pop(url, None)
        else:
            return
        self.dirty = True

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        while len(self.entries) > MAX_CACHE_ENTRIES:
            dropped = next(iter(self.entries))
            self.entries.pop(dropped)
            self._pending.pop(dropped, None)
            if (old := self.items_path(dropped)) is not None:
                old.unlink(missing_ok=True)
        for url, (max_items, items) in self._pending.items():
            if url in self.entries and (target := self.items_path(url)) is not None:
                doc = {
                    "url": url,
                    "max_items": max_items,
                    "items": [i.model_dump(mode="json") for i in items],
                }
                _write_atomic(target, json.dumps(doc, ensure_ascii=False))
        self._pending.clear()
        _write_atomic(self.path, json.dumps(self.entries, indent=1, sort_keys=True))
        self.dirty = False


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".feeds-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _one_line(text: str) -> str:
    return " ".join(text.split())


async def _download(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], timeout: float
) -> tuple[int, bytes, httpx.Headers, str]:
    """Status, body, headers and final URL of ``url``, within ``timeout`` seconds in total."""
    async with client.stream("GET", url, headers=headers) as response:
        if response.status_code == 304:
            return 304, b"", response.headers, str(response.url)
        if response.status_code >= 400:
            raise InputError(
                f"feed {url}: HTTP {response.status_code} {response.reason_phrase}"
                f"{_retry_after(response)}"
            )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_FEED_BYTES:
            raise InputError(
                f"feed {url}: response is {declared} bytes, more than the {MAX_FEED_BYTES} allowed"
            )
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_FEED_BYTES:
                raise InputError(f"feed {url}: response exceeds the {MAX_FEED_BYTES} bytes allowed")
        return response.status_code, bytes(body), response.headers, str(response.url)


async def _fetch_one(
    client: httpx.AsyncClient,
    url: str,
    *,
    host_slots: dict[str, asyncio.Semaphore],
    per_host: int,
    in_flight: asyncio.Semaphore,
    timeout: float,
    max_items: int,
    cache: ValidatorCache,
) -> FeedOutcome:
    started = time.monotonic()
    outcome = FeedOutcome(url=url)
    try:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            # Local paths and file:// URLs: no network, no limits; parse off the event loop.
            outcome.items = await asyncio.to_thread(fetch_feed, url, max_items=max_items)
            return outcome
        slot = host_slots.setdefault(_host(url), asyncio.Semaphore(per_host))
        conditional = cache.request_headers(url, max_items)
        async with slot, in_flight:
            try:
                # wait_for bounds the whole exchange: a server trickling bytes forever too.
                status, body, response_headers, final_url = await asyncio.wait_for(
                    _download(client, url, {"Accept": _ACCEPT, **conditional}, timeout), timeout
                )
                kept = cache.kept_items(url) if status == 304 and conditional else None
                if status == 304 and kept is None:  # items lost since: ask in full
                    status, body, response_headers, final_url = await asyncio.wait_for(
                        _download(client, url, {"Accept": _ACCEPT}, timeout), timeout
                    )
                    if status == 304:
                        raise InputError(f"feed {url}: HTTP 304 to an unconditional request")
            except (TimeoutError, httpx.TimeoutException) as e:
                phase = _TIMEOUT_PHASE.get(type(e), "")
                raise InputError(f"feed {url}: timed out after {timeout:g} s{phase}") from None
            except httpx.TooManyRedirects:
                raise InputError(f"feed {url}: too many redirects") from None
            except httpx.InvalidURL as e:
                raise InputError(f"feed {url}: invalid URL ({e})") from None
            except httpx.RemoteProtocolError as e:
                raise InputError(
                    f"feed {url}: connection closed early, response incomplete "
                    f"({_one_line(str(e)) or type(e).__name__})"
                ) from None
            except httpx.HTTPError as e:
                reason = _one_line(str(e)) or type(e).__name__
                raise InputError(f"feed {url}: could not connect ({reason})") from None
        if status == 304 and kept is not None:  # unchanged: the items it had last time
            outcome.not_modified = True
            outcome.items = kept[:max_items]
            return outcome
        parse_headers = dict(response_headers)
        parse_headers["content-location"] = final_url
        # Parsing is CPU work: off the loop, so slow feeds keep downloading meanwhile.
        items = await asyncio.to_thread(parse_feed, body, url, parse_headers, max_items=max_items)
        outcome.items = items[:max_items]
        cache.remember(url, response_headers, outcome.items, max_items)
    except InputError as e:
        outcome.error = _one_line(str(e))
    except Exception as e:  # a bug for one feed must not lose the others
        log.exception("feed %s failed unexpectedly", url)
        outcome.error = f"feed {url}: unexpected {type(e).__name__}: {_one_line(str(e))}"
    finally:
        outcome.seconds = time.monotonic() - started
    return outcome


async def fetch_feeds_async(
    urls: Sequence[str],
    *,
    timeout: float = 10.0,
    max_items: int = 20,
    per_host: int = PER_HOST_LIMIT,
    max_in_flight: int = MAX_IN_FLIGHT,
    cache_dir: Path | None = None,
    user_agent: str = USER_AGENT,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[FeedOutcome]:
    """One ``FeedOutcome`` per URL, in the order given (duplicates fetched once)."""
    if per_host < 1 or max_in_flight < 1:
        raise ValueError("per_host and max_in_flight must be >= 1")
    unique = list(dict.fromkeys(u.strip() for u in urls if u and u.strip()))
    cache = ValidatorCache(cache_dir)
    host_slots: dict[str, asyncio.Semaphore] = {}
    in_flight = asyncio.Semaphore(max_in_flight)
    async with httpx.AsyncClient(
        headers={"User-Agent": user_agent},
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
        limits=httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight),
        transport=transport,
    ) as client:
        outcomes = await asyncio.gather(
            *(
                _fetch_one(
                    client,
                    url,
                    host_slots=host_slots,
                    per_host=per_host,
                    in_flight=in_flight,
                    timeout=timeout,
                    max_items=max_items,
                    cache=cache,
                )
                for url in unique
            )
        )
    try:
        cache.save()
    except OSError as e:
        log.warning("feed cache %s not saved: %s", cache.path, e)
    return list(outcomes)


def fetch_feeds(
    urls: Sequence[str],
    *,
    timeout: float = 10.0,
    max_items: int = 20,
    per_host: int = PER_HOST_LIMIT,
    max_in_flight: int = MAX_IN_FLIGHT,
    cache_dir: Path | None = None,
    user_agent: str = USER_AGENT,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[FeedOutcome]:
    """Sync wrapper of :func:`fetch_feeds_async`; works inside a running event loop too."""
    coro = fetch_feeds_async(
        urls,
        timeout=timeout,
        max_items=max_items,
        per_host=per_host,
        max_in_flight=max_in_flight,
        cache_dir=cache_dir,
        user_agent=user_agent,
        transport=transport,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from async code (an async Prefect task, a notebook): a loop of its own, in a thread.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scrape-loop") as pool:
        return pool.submit(asyncio.run, coro).result()
