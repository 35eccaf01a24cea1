"""NewsAPI (newsapi.org v2) through httpx: top headlines and everything-search.

The free plan allows 100 requests a day. :class:`DailyQuota` counts requests per UTC
day in a JSON file (``{"2026-03-10": 37}``) under a file lock, so the limit holds
across processes and workers. A 429 or a ``rateLimited`` error body marks the day
used up: later calls stop without a request until the next day.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from filelock import FileLock, Timeout

from novaavatar.domain import ContentItem
from novaavatar.errors import InputError
from tasks.scrape.feeds import (
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    USER_AGENT,
    html_to_text,
    truncate,
)
from tasks.scrape.ranking import safe_link

log = logging.getLogger(__name__)

NEWSAPI_URL = "https://newsapi.org/v2"
FREE_DAILY_LIMIT = 100
MAX_PAGE_SIZE = 100
_KEEP_DAYS = 7


class QuotaExhausted(InputError):
    """No NewsAPI request left today (our counter or the service said so)."""


def _today() -> date:
    return datetime.now(UTC).date()


class DailyQuota:
    """Requests per UTC day, persisted in ``path`` and shared by every process using it."""

    def __init__(
        self, path: Path, limit: int = FREE_DAILY_LIMIT, today: Callable[[], date] = _today
    ) -> None:
        if limit < 0:
            raise ValueError("limit must be >= 0")
        self.path = Path(path)
        self.limit = limit
        self._today = today
        self._lock = FileLock(str(self.path) + ".lock", timeout=10)

    def _read(self) -> dict[str, int]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            log.warning("NewsAPI counter %s unreadable (%s); counting from its limit", self.path, e)
            return {self._today().isoformat(): self.limit}  # unknown: assume used up, be safe
        if not isinstance(raw, dict):
            return {}
        return {str(k): int(v) for k, v in raw.items() if isinstance(v, int)}

    def _write(self, counts: dict[str, int]) -> None:
        keep = dict(sorted(counts.items())[-_KEEP_DAYS:])
        fd, tmp = tempfile.mkstemp(prefix=".newsapi-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(keep, f)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def used(self) -> int:
        with self._locked():
            return self._read().get(self._today().isoformat(), 0)

    def _locked(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self._lock

    def take(self) -> int:
        """Count one request; raises ``QuotaExhausted`` (counting nothing) when none is left."""
        try:
            with self._locked():
                counts = self._read()
                day = self._today().isoformat()
                used = counts.get(day, 0)
                if used >= self.limit:
                    raise QuotaExhausted(
                        f"NewsAPI: daily limit of {self.limit} requests reached for {day} "
                        f"(UTC); skipped until tomorrow"
                    )
                counts[day] = used + 1
                self._write(counts)
                return used + 1
        except Timeout:
            raise InputError(f"NewsAPI: request counter {self.path} is locked; skipped") from None

    def exhaust(self) -> None:
        """Mark today used up (the service said we are rate limited)."""
        with self._locked():
            counts = self._read()
            day = self._today().isoformat()
            counts[day] = max(counts.get(day, 0), self.limit)
            self._write(counts)


class NewsApiSource:
    """NewsAPI as an item source: top headlines (``country``) and/or a search (``query``).

    With a ``query`` the everything-search runs; with a ``country`` (and no query, or
    ``both``) the top headlines do. Each is one request, counted in the daily quota.
    """

    def __init__(
        self,
        *,
        api_key: str,
        query: str = "",
        country: str = "us",
        category: str = "",
        language: str = "en",
        base_url: str | None = None,
        counter_path: Path,
        daily_limit: int = FREE_DAILY_LIMIT,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        today: Callable[[], date] = _today,
    ) -> None:
        if not api_key:
            raise ValueError("NewsAPI needs an API key")
        self.name = "newsapi"
        self.query = query.strip()
        self.country = country.strip().lower()
        self.category = category.strip().lower()
        self.language = language.strip().lower()
        self.base_url = (base_url or NEWSAPI_URL).rstrip("/")
        self.quota = DailyQuota(counter_path, daily_limit, today)
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"X-Api-Key": api_key, "User-Agent": USER_AGENT, "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self._timeout = timeout

    @property
    def engagement(self) -> dict[str, float]:
        return {}

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.quota.take()
        what = f"NewsAPI {path}"
        try:
            response = self._client.get(path, params={k: v for k, v in params.items() if v})
        except httpx.TimeoutException:
            raise InputError(f"{what}: timed out after {self._timeout:g} s") from None
        except httpx.HTTPError as e:
            reason = " ".join(str(e).split()) or type(e).__name__
            raise InputError(f"{what}: could not connect ({reason})") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        code = body.get("code") if isinstance(body, dict) else None
        if response.status_code == 429 or code == "rateLimited":
            self.quota.exhaust()
            raise QuotaExhausted(
                f"{what}: rate limited by NewsAPI (HTTP {response.status_code}); "
                "no more requests today"
            )
        if response.status_code >= 400 or (
            isinstance(body, dict) and body.get("status") == "error"
        ):
            message = body.get("message", "") if isinstance(body, dict) else ""
            detail = f" {code}: {' '.join(str(message).split())[:200]}" if code else ""
            raise InputError(f"{what}: HTTP {response.status_code}{detail}")
        if not isinstance(body, dict) or not isinstance(body.get("articles"), list):
            raise InputError(f"{what}: malformed response (no JSON 'articles' list)")
        return [a for a in body["articles"] if isinstance(a, dict)]

    def top_headlines(self, page_size: int = 20) -> list[ContentItem]:
        articles = self._get(
            "/top-headlines",
            {
                "country": self.country,
                "category": self.category,
                "q": "" if self.country else self.query,
                "pageSize": min(MAX_PAGE_SIZE, page_size),
            },
        )
        return [i for a in articles if (i := _item(a))]

    def everything(self, query: str | None = None, page_size: int = 20) -> list[ContentItem]:
        q = (query if query is not None else self.query).strip()
        if not q:
            raise ValueError("the everything-search needs a query")
        articles = self._get(
            "/everything",
            {
                "q": q,
                "language": self.language,
                "sortBy": "publishedAt",
                "pageSize": min(MAX_PAGE_SIZE, page_size),
            },
        )
        return [i for a in articles if (i := _item(a))]

    def fetch(self, max_items: int = 20) -> list[ContentItem]:
        """Headlines (when a country is set) then search results (when a query is set)."""
        items: list[ContentItem] = []
        if self.country or self.category or not self.query:
            items += self.top_headlines(max_items)
        if self.query:
            items += self.everything(page_size=max_items)
        return items


def _item(article: dict[str, Any]) -> ContentItem | None:
    title = " ".join(str(article.get("title") or "").split())
    if not title or title == "[Removed]":
        return None
    source = article.get("source") if isinstance(article.get("source"), dict) else {}
    name = " ".join(str((source or {}).get("name") or "").split()) or "NewsAPI"
    summary = html_to_text(str(article.get("description") or article.get("content") or ""))
    published = None
    raw = article.get("publishedAt")
    if isinstance(raw, str) and raw:
        try:
            published = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            published = None
    return ContentItem.make(
        title=truncate(title, MAX_TITLE_CHARS),
        url=safe_link(str(article.get("url") or ""), "newsapi"),
        source=truncate(name, 120),
        summary=truncate(summary, MAX_SUMMARY_CHARS),
        published=published,
    )
