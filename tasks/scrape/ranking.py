"""Deduplicate and score scraped items so the review page shows each story once, best first."""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rapidfuzz import fuzz

from novaavatar.domain import ContentItem

# Query parameters that only track the click; they never change which article a URL names.
_TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}

TITLE_SIMILARITY = 90.0  # rapidfuzz token_set_ratio at or above which two titles are one story
_MIN_TITLE_TOKENS = 3  # token_set_ratio scores any subset as 100; too few words is not evidence
COMMON_WORD_MIN = 50  # see dedup: words in more titles than max(this, n/100) are not probed

HALF_LIFE_H = 24.0
UNKNOWN_AGE_RECENCY = 0.2  # an undated item ranks like one a little over two days old
RICH_SUMMARY_WORDS = 60
W_RECENCY, W_KEYWORDS, W_RICHNESS = 0.55, 0.30, 0.15
MAX_SOURCE_WEIGHT = 2.0
W_ENGAGEMENT = 0.20  # share of the score taken by engagement, for items that report one


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name.startswith("utm_") or name in _TRACKING_PARAMS


def clean_url(url: str) -> str:
    """``url`` without tracking parameters or fragment, scheme and host lowercased.

    This is what an item keeps as its link: still a working URL, but the same article
    gets the same link (and so the same id) however it was shared.
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return url
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    try:
        port = parts.port
    except ValueError:  # a non-numeric port: leave the URL as the feed gave it
        return url
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username or parts.password:
        netloc = f"{parts.netloc.rsplit('@', 1)[0]}@{netloc}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


SAFE_SCHEMES = ("http", "https")


def safe_link(url: str, source: str) -> str:
    """:func:`clean_url` of an http(s) link; any other link (``javascript:``, ``data:``,
    ``file:``...) is dropped with a note in the log, so it never reaches a page, an
    artifact or a publish package."""
    url = url.strip()
    if not url:
        return ""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SAFE_SCHEMES:
        shown = f"a {scheme}: link" if scheme else "a link without http(s)://"
        logging.getLogger("novaavatar.scrape").warning(
            "%s: dropped %s (only http and https links are kept)", source, shown
        )
        return ""
    return clean_url(url)


def canonical_url(url: str) -> str:
    """A comparison key for "is this the same article": no scheme, ``www.``, tracking or
    trailing slash.

    Not a URL to visit; ``http://www.Example.com/a/?utm_source=x#top`` and
    ``https://example.com/a`` both give ``example.com/a``.
    """
    cleaned = clean_url(url)
    parts = urlsplit(cleaned)
    if not parts.netloc:
        return cleaned
    host = parts.netloc.removeprefix("www.")
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    key = host + parts.path.rstrip("/")
    return f"{key}?{query}" if query else key


def normalise_title(title: str) -> str:
    """Casefolded words without accents or punctuation, for fuzzy comparison."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def _same_story(a: str, b: str) -> bool:
    if a == b:
        return bool(a)
    if min(len(a.split()), len(b.split())) < _MIN_TITLE_TOKENS:
        return False
    return fuzz.token_set_ratio(a, b, score_cutoff=TITLE_SIMILARITY) > 0


def _more_informative(a: ContentItem, b: ContentItem) -> ContentItem:
    """The item a reader would rather see: the fuller summary, else the earlier report."""
    words_a, words_b = len(a.summary.split()), len(b.summary.split())
    if abs(words_a - words_b) >= 10 or (words_a == 0) != (words_b == 0):
        return a if words_a > words_b else b
    if a.published and b.published and a.published != b.published:
        return a if a.published < b.published else b
    if bool(a.url) != bool(b.url):
        return a if a.url else b
    return a


@dataclass
class _Story:
    best: ContentItem
    titles: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def _common_limit(n: int) -> int:
    """Words in more than this many titles are too common to point at a duplicate."""
    return max(COMMON_WORD_MIN, n // 100)


def dedup(items: Iterable[ContentItem]) -> list[ContentItem]:
    """One item per story, in order of first appearance.

    Two items are the same story when their canonical URLs are equal (see
    :func:`canonical_url`) or their normalised titles have a rapidfuzz
    ``token_set_ratio`` of at least ``TITLE_SIMILARITY`` (titles of fewer than three
    words only match exactly). Of a story's items the one with the fuller summary is
    kept (ties: the earlier published, then the first seen), carrying the union of
    all their tags.

    Indexed, so 10,000 items take seconds, not hours: URLs and exact titles by
    dictionary, and fuzzy comparison only between titles that share a distinctive word
    (one in at most ``max(50, n/100)`` of the titles; a title with none uses its two
    rarest words). Titles sharing only very common words are not compared.
    """
    items = list(items)
    prepared = [
        (item, canonical_url(item.url) if item.url else "", normalise_title(item.title))
        for item in items
    ]
    frequency: Counter[str] = Counter()
    for _, _, title in prepared:
        frequency.update(set(title.split()))
    limit = _common_limit(len(prepared))

    stories: list[_Story] = []
    by_url: dict[str, int] = {}
    by_title: dict[str, int] = {}
    by_word: dict[str, list[int]] = defaultdict(list)
    for item, url, title in prepared:
        words = set(title.split())
        candidates: set[int] = set()
        if url and url in by_url:
            candidates.add(by_url[url])
        if title and title in by_title:
            candidates.add(by_title[title])
        probe: list[str] = []
        if len(words) >= _MIN_TITLE_TOKENS:
            probe = [w for w in words if frequency[w] <= limit]
            if not probe:
                probe = sorted(words, key=lambda w: (frequency[w], w))[:2]
            for word in probe:
                candidates.update(by_word.get(word, ()))
        index = next(
            (
                i
                for i in sorted(candidates)
                if (url and by_url.get(url) == i)
                or by_title.get(title) == i
                or any(_same_story(title, seen) for seen in stories[i].titles)
            ),
            None,
        )
        if index is None:
            index = len(stories)
            stories.append(_Story(best=item))
        else:
            stories[index].best = _more_informative(stories[index].best, item)
        story = stories[index]
        if url:
            by_url.setdefault(url, index)
        if title:
            by_title.setdefault(title, index)
        if len(words) >= _MIN_TITLE_TOKENS:
            for word in words:
                postings = by_word[word]
                if not postings or postings[-1] != index:
                    postings.append(index)
        story.titles.append(title)
        story.tags.extend(t for t in item.tags if t not in story.tags)
    out = []
    for story in stories:
        tags = tuple(story.tags)
        best = story.best
        out.append(best if best.tags == tags else best.model_copy(update={"tags": tags}))
    return out


def _keyword_pattern(keyword: str) -> re.Pattern[str] | None:
    words = normalise_title(keyword).split()
    if not words:
        return None
    return re.compile(r"\b" + r"\s+".join(map(re.escape, words)) + r"\b")


def score(
    item: ContentItem,
    *,
    now: datetime,
    keywords: Sequence[str] = (),
    source_weights: Mapping[str, float] | None = None,
    engagement: Mapping[str, float] | None = None,
) -> float:
    """Relevance of ``item`` at time ``now``, in 0..1 for the default source weight.

    ``score = w_source * (0.55*recency + 0.30*keywords + 0.15*richness)`` where

    - ``recency = 0.5 ** (age_hours / 24)`` (half-life 24 h; future dates count as
      now; an undated item gets 0.2);
    - ``keywords = min(1, hits / min(3, len(keywords)))``: each keyword (a word or
      phrase, matched as whole words ignoring case and accents) adds 1 when it is in
      the title, 0.5 when only in the summary or tags; with no keywords this term is
      dropped and the other two weights are scaled to sum to 1;
    - ``richness = min(1, summary_words / 60)``;
    - ``w_source = source_weights.get(item.source, 1.0)``, clamped to 0..2;
    - when ``engagement`` has the item's id (a 0..1 popularity, e.g. Reddit points and
      comments), ``base = 0.8*base + 0.2*engagement``; other items are scored as above.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if item.published is None:
        recency = UNKNOWN_AGE_RECENCY
    else:
        published = item.published
        if published.tzinfo is None:
            published = published.replace(tzinfo=UTC)
        age_h = max(0.0, (now - published).total_seconds() / 3600)
        recency = math.pow(0.5, age_h / HALF_LIFE_H)

    richness = min(1.0, len(item.summary.split()) / RICH_SUMMARY_WORDS)

    patterns = [p for p in map(_keyword_pattern, keywords) if p is not None]
    if patterns:
        title = normalise_title(item.title)
        rest = normalise_title(" ".join((item.summary, *item.tags)))
        hits = sum(1.0 if p.search(title) else 0.5 if p.search(rest) else 0.0 for p in patterns)
        keyword = min(1.0, hits / min(3, len(patterns)))
        base = W_RECENCY * recency + W_KEYWORDS * keyword + W_RICHNESS * richness
    else:
        base = (W_RECENCY * recency + W_RICHNESS * richness) / (W_RECENCY + W_RICHNESS)

    if engagement and item.id in engagement:
        popularity = min(1.0, max(0.0, float(engagement[item.id])))
        base = (1 - W_ENGAGEMENT) * base + W_ENGAGEMENT * popularity

    weight = (source_weights or {}).get(item.source, 1.0)
    weight = min(MAX_SOURCE_WEIGHT, max(0.0, weight))
    return weight * base


def rank(
    items: Iterable[ContentItem],
    *,
    now: datetime,
    keywords: Sequence[str] = (),
    source_weights: Mapping[str, float] | None = None,
    engagement: Mapping[str, float] | None = None,
) -> list[ContentItem]:
    """Copies of ``items`` with ``score`` set, best first (ties: newer, then by id)."""
    scored = [
        item.model_copy(
            update={
                "score": round(
                    score(
                        item,
                        now=now,
                        keywords=keywords,
                        source_weights=source_weights,
                        engagement=engagement,
                    ),
                    6,
                )
            }
        )
        for item in items
    ]

    def order(item: ContentItem) -> tuple[float, float, str]:
        published = item.published.timestamp() if item.published else float("-inf")
        return (-item.score, -published, item.id)

    return sorted(scored, key=order)
