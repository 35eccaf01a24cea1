"""Reddit through praw (app-only OAuth, read-only): subreddit listings into ``ContentItem``s.

Posts that are NSFW, stickied (mod announcements) or under the score floor are dropped.
``base_url`` points praw's ``oauth_url``/``reddit_url``/``short_url`` elsewhere (a test
server); the item links always name www.reddit.com.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import praw
import prawcore
import requests

from novaavatar.domain import ContentItem
from novaavatar.errors import InputError
from tasks.scrape.feeds import MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, USER_AGENT, truncate
from tasks.scrape.ranking import safe_link

log = logging.getLogger(__name__)

RedditSort = Literal["hot", "new", "top"]
TimeFilter = Literal["hour", "day", "week", "month", "year", "all"]
SORTS: tuple[str, ...] = ("hot", "new", "top")
TIME_FILTERS: tuple[str, ...] = ("hour", "day", "week", "month", "year", "all")
PUBLIC_URL = "https://www.reddit.com"
MAX_LISTING = 100  # reddit's page size; one request per subreddit
ENGAGEMENT_FULL = 10_000  # points + comments at which engagement is 1.0 (log scale)


def engagement_of(points: int, comments: int) -> float:
    """0..1 popularity: ``log10(1 + points + comments) / log10(1 + 10,000)``, clamped."""
    total = max(0, points) + max(0, comments)
    return min(1.0, math.log10(1 + total) / math.log10(1 + ENGAGEMENT_FULL))


def _reason(error: BaseException) -> str:
    if isinstance(error, prawcore.exceptions.OAuthException):
        return f"authentication refused ({error.error}); check REDDIT_CLIENT_ID/SECRET"
    if isinstance(error, prawcore.exceptions.ResponseException):
        status = error.response.status_code
        hint = {
            401: "; check REDDIT_CLIENT_ID/SECRET",
            403: " (private or banned subreddit)",
            404: " (no such subreddit)",
            429: " (rate limited)",
        }.get(status, "")
        return f"HTTP {status}{hint}"
    if isinstance(error, prawcore.exceptions.Redirect):
        return "no such subreddit"
    if isinstance(error, prawcore.exceptions.RequestException):
        return f"could not connect ({type(error.original_exception).__name__})"
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


class RedditSource:
    """Posts of ``subreddits`` as items; ``fetch`` runs one listing request per subreddit."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        subreddits: Sequence[str] = ("news", "worldnews", "technology"),
        sort: str = "hot",
        time_filter: str = "day",
        min_score: int = 50,
        user_agent: str | None = None,
        base_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if sort not in SORTS:
            raise ValueError(f"reddit sort must be one of {', '.join(SORTS)}, got {sort!r}")
        if time_filter not in TIME_FILTERS:
            raise ValueError(
                f"reddit time filter must be one of {', '.join(TIME_FILTERS)}, got {time_filter!r}"
            )
        names = [s.strip().removeprefix("r/").removeprefix("/r/") for s in subreddits]
        self.subreddits = [n for n in dict.fromkeys(names) if n]
        if not self.subreddits:
            raise ValueError("give at least one subreddit")
        self.sort = sort
        self.time_filter = time_filter
        self.min_score = min_score
        self.name = "reddit:" + "+".join(self.subreddits)
        self._engagement: dict[str, float] = {}
        self.errors: dict[str, str] = {}  # subreddit -> reason, for the ones that failed
        urls: dict[str, Any] = {}
        if base_url:
            base = base_url.rstrip("/")
            urls = {"oauth_url": base, "reddit_url": base, "short_url": base}
        session = requests.Session()
        self._reddit = praw.Reddit(
            client_id=client_id,
            client_secret=client_secret,
            user_agent=user_agent or f"python:novaavatar:0.1 ({USER_AGENT})",
            check_for_updates=False,
            check_for_async=False,
            timeout=max(1, math.ceil(timeout)),
            requestor_kwargs={"session": session},
            **urls,
        )
        self._reddit.read_only = True

    @property
    def engagement(self) -> dict[str, float]:
        return dict(self._engagement)

    def _listing(self, subreddit: str, limit: int) -> Any:
        sub = self._reddit.subreddit(subreddit)
        if self.sort == "top":
            return sub.top(time_filter=self.time_filter, limit=limit)
        return sub.new(limit=limit) if self.sort == "new" else sub.hot(limit=limit)

    def _item(self, post: Any) -> ContentItem | None:
        if post.over_18 or post.stickied or (post.score or 0) < self.min_score:
            return None
        title = " ".join(str(post.title or "").split())
        if not title:
            return None
        permalink = PUBLIC_URL + str(post.permalink or "")
        link = permalink if post.is_self else str(post.url or permalink)
        subreddit = str(post.subreddit.display_name if post.subreddit else "unknown")
        flair = " ".join(str(post.link_flair_text or "").split())
        item = ContentItem.make(
            title=truncate(title, MAX_TITLE_CHARS),
            url=safe_link(link, f"reddit/r/{subreddit}"),
            source=f"reddit/r/{subreddit}",
            summary=truncate(" ".join(str(post.selftext or "").split()), MAX_SUMMARY_CHARS),
            published=datetime.fromtimestamp(float(post.created_utc), UTC)
            if post.created_utc
            else None,
            tags=tuple(t for t in (f"r/{subreddit}", flair[:60]) if t),
        )
        self._engagement[item.id] = engagement_of(int(post.score or 0), int(post.num_comments or 0))
        return item

    def fetch(self, max_items: int = 20) -> list[ContentItem]:
        """Up to ``max_items`` kept posts per subreddit; ``InputError`` when every one failed."""
        self.errors.clear()
        limit = MAX_LISTING  # one full page per subreddit: the filters may drop many
        items: list[ContentItem] = []
        for subreddit in self.subreddits:
            kept = 0
            try:
                for post in self._listing(subreddit, limit):
                    item = self._item(post)
                    if item is not None:
                        items.append(item)
                        kept += 1
                        if kept >= max_items:
                            break
            except (prawcore.exceptions.PrawcoreException, praw.exceptions.PRAWException) as e:
                self.errors[subreddit] = _reason(e)
                log.warning("reddit r/%s failed: %s", subreddit, self.errors[subreddit])
            except (KeyError, TypeError, ValueError, AttributeError) as e:  # a malformed listing
                self.errors[subreddit] = f"malformed listing ({type(e).__name__}: {e})"
                log.warning("reddit r/%s failed: %s", subreddit, self.errors[subreddit])
        if self.errors and len(self.errors) == len(self.subreddits):
            reasons = "; ".join(f"r/{s}: {r}" for s, r in self.errors.items())
            raise InputError(f"reddit: every subreddit failed ({reasons})")
        return items
