"""RSS/Atom feeds into ``ContentItem``s: fetch with httpx, parse with feedparser, clean, rank.

Every failure of one feed is an ``InputError`` naming the feed and the reason; ``scrape``
collects those per source, so one bad feed never hides the others. The bundled sample
feeds are fiction: read only when asked for (the source ``sample``), their items carry
``sample=True``.
"""

from __future__ import annotations

import calendar
import io
import logging
import re
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import feedparser
import httpx

from novaavatar.domain import ContentItem, utcnow
from novaavatar.errors import InputError
from tasks.scrape.ranking import dedup, rank, safe_link

log = logging.getLogger(__name__)

USER_AGENT = "NovaAvatar/0.1 (+news-to-video)"
MAX_TITLE_CHARS = 300
MAX_SUMMARY_CHARS = 2000
MAX_TAGS = 12
MAX_FEED_BYTES = 10 * 1024 * 1024  # far above any real feed; stops a runaway download
MAX_CONCURRENT_FETCHES = 8
DATA_DIR = Path(__file__).parent / "data"
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)

# feedparser flags these as "bozo" although the feed is perfectly usable.
_HARMLESS_BOZO: tuple[type[Exception], ...] = (
    feedparser.CharacterEncodingOverride,
    feedparser.NonXMLContentType,
)


# --- text cleaning --------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    """Visible text of an HTML fragment; block tags become spaces, scripts and styles vanish."""

    _SKIP = frozenset({"script", "style", "noscript", "template"})
    _BREAKS = frozenset(
        {"br", "p", "div", "li", "ul", "ol", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6"}
        | {"blockquote", "figcaption", "img", "hr", "section", "article", "pre", "table"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BREAKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, entities decoded and whitespace collapsed."""
    parser = _TextExtractor()
    parser.feed(fragment)
    parser.close()
    return " ".join("".join(parser.parts).split())


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, ending in an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.6:  # a very long "word" (a URL) is cut hard instead
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—") + "…"


def _detail_text(entry: Any, key: str) -> str:
    value = entry.get(key) or ""
    kind = (entry.get(f"{key}_detail") or {}).get("type", "text/html")
    return html_to_text(value) if "html" in kind else " ".join(value.split())


# --- one feed -------------------------------------------------------------------------------


def _is_local(url: str) -> bool:
    scheme = urlsplit(url).scheme.lower()
    return scheme in ("", "file") or len(scheme) == 1  # one letter: a Windows drive


def _local_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        return Path(url2pathname(parts.path))
    return Path(url).expanduser()


def _read_local(url: str) -> bytes:
    path = _local_path(url)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise InputError(f"feed {url}: is a directory; give the path of an RSS or Atom file")
        if size > MAX_FEED_BYTES:
            raise InputError(
                f"feed {url}: file is {size} bytes, more than the {MAX_FEED_BYTES} allowed"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"feed {url}: no such file ({path}); a web feed needs its full http(s):// URL"
        ) from None
    except OSError as e:
        raise InputError(f"feed {url}: cannot read file: {e.strerror or e}") from None


_TIMEOUT_PHASE: dict[type[Exception], str] = {
    httpx.ConnectTimeout: " while connecting",
    httpx.PoolTimeout: " waiting for a free connection",
    httpx.ReadTimeout: " while reading the response",
}


def _retry_after(response: httpx.Response) -> str:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return ""
    return f"; retry after {value} s" if value.isdigit() else f"; retry after {value}"


def _download(url: str, client: httpx.Client, timeout: float) -> tuple[bytes, dict[str, str]]:
    """Body and headers of ``url``, within ``timeout`` seconds in total."""
    headers = {"Accept": _ACCEPT}
    if client.headers.get("user-agent", "").startswith("python-httpx"):
        headers["User-Agent"] = USER_AGENT  # keep a caller's own User-Agent
    deadline = time.monotonic() + timeout
    try:
        with client.stream(
            "GET", url, headers=headers, timeout=timeout, follow_redirects=True
        ) as response:
            if response.status_code >= 400:
                raise InputError(
                    f"feed {url}: HTTP {response.status_code} {response.reason_phrase}"
                    f"{_retry_after(response)}"
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_FEED_BYTES:
                raise InputError(
                    f"feed {url}: response is {declared} bytes, more than the "
                    f"{MAX_FEED_BYTES} allowed"
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_FEED_BYTES:
                    raise InputError(
                        f"feed {url}: response exceeds the {MAX_FEED_BYTES} bytes allowed"
                    )
                # httpx times each read; this bounds a server that trickles bytes forever.
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("total time exceeded")
            final = dict(response.headers)
            final["content-location"] = str(response.url)
            return bytes(body), final
    except httpx.TimeoutException as e:
        phase = _TIMEOUT_PHASE.get(type(e), "")
        raise InputError(f"feed {url}: timed out after {timeout:g} s{phase}") from None
    except httpx.TooManyRedirects:
        raise InputError(f"feed {url}: too many redirects") from None
    except httpx.InvalidURL as e:
        raise InputError(f"feed {url}: invalid URL ({e})") from None
    except httpx.HTTPError as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        raise InputError(f"feed {url}: could not connect ({reason})") from None


def _published(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)  # parsed is already UTC
    except (TypeError, ValueError, OverflowError):
        return None


def _tags(entry: Any) -> tuple[str, ...]:
    tags: list[str] = []
    for tag in entry.get("tags") or ():
        text = " ".join(html_to_text(tag.get("label") or tag.get("term") or "").split())
        if text and text.casefold() not in (t.casefold() for t in tags):
            tags.append(text[:60])
    return tuple(tags[:MAX_TAGS])


def _item(entry: Any, source: str) -> ContentItem | None:
    summary = _detail_text(entry, "summary")
    if not summary and entry.get("content"):
        content = entry["content"][0]
        value = content.get("value") or ""
        summary = html_to_text(value) if "html" in content.get("type", "html") else value
        summary = " ".join(summary.split())
    title = _detail_text(entry, "title") or truncate(summary, 120)
    if not title:
        return None
    return ContentItem.make(
        title=truncate(title, MAX_TITLE_CHARS),
        url=safe_link(str(entry.get("link") or ""), source),
        source=source,
        summary=truncate(summary, MAX_SUMMARY_CHARS),
        published=_published(entry),
        tags=_tags(entry),
    )


def _looks_like_html(body: bytes, content_type: str) -> bool:
    head = body[:512].lstrip().lower()
    return "html" in content_type or head.startswith((b"<!doctype html", b"<html"))


_DOCTYPE_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)
_ENTRY_END = re.compile(rb"</(?:[\w.-]+:)?(?:item|entry)\s*>", re.IGNORECASE)
_ROOT_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_TRIM_SLACK = 10  # entries kept beyond max_items, for ones without a title


def _refuse_entity_declarations(body: bytes, url: str) -> None:
    """Refuse a DOCTYPE that declares entities: the "billion laughs" shape, never a real feed."""
    head = body[:65536]
    match = _DOCTYPE_SUBSET.search(head)
    if match is None:
        return
    end = body.find(b"]", match.end())
    subset = body[match.end() : end if end >= 0 else len(body)]
    if b"<!ENTITY" in subset.upper():
        raise InputError(
            f"feed {url}: declares XML entities in its DOCTYPE; refused "
            "(entity expansion is never needed by an RSS or Atom feed)"
        )


def _trim_entries(body: bytes, max_items: int) -> bytes:
    """``body`` cut after its first ``max_items`` (+ slack) entries, root element closed again.

    A feed of 10,000 entries then costs what a feed of 30 does. Only plain byte
    encodings are trimmed (UTF-8, Latin-1 and the like); UTF-16 is parsed whole.
    """
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:64]:
        return body
    keep = max_items + _TRIM_SLACK
    cut = -1
    for count, match in enumerate(_ENTRY_END.finditer(body), start=1):
        if count == keep:
            cut = match.end()
            break
    if cut < 0 or _ENTRY_END.search(body, cut) is None:
        return body
    head = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"", body[:4096], flags=re.DOTALL)
    root = _ROOT_TAG.search(head)
    if root is None:
        return body
    name = root.group(1)
    closers = b"</channel>" if name.rsplit(b":", 1)[-1].lower() == b"rss" else b""
    return body[:cut] + closers + b"</" + name + b">"


def parse_feed(
    body: bytes,
    url: str,
    headers: dict[str, str] | None = None,
    *,
    max_items: int | None = None,
) -> list[ContentItem]:
    """Items of an RSS/Atom document; ``url`` names it in errors and resolves relative links.

    With ``max_items`` the document is cut after that many entries before parsing, so a
    huge feed stays cheap. A DOCTYPE declaring entities is refused (``InputError``).
    """
    headers = {"content-location": url, **(headers or {})}
    content_type = headers.get("content-type", "").lower()
    if not body.strip():
        raise InputError(f"feed {url}: empty response; expected an RSS or Atom document")
    _refuse_entity_declarations(body, url)
    if max_items is not None:
        body = _trim_entries(body, max_items)
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    error = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(error, _HARMLESS_BOZO):
        error = None

    title = html_to_text(parsed.feed.get("title") or "")
    source = truncate(title, 120) or urlsplit(url).hostname or _local_path(url).stem or url
    items = [item for entry in parsed.entries if (item := _item(entry, source))]
    if items:
        if error is not None:
            log.warning("feed %s is not well-formed (%s); kept %d items", url, error, len(items))
        return items
    if not parsed.get("version") and (error is None or _looks_like_html(body, content_type)):
        got = f"got {content_type.split(';')[0]}" if content_type else "no feed element"
        raise InputError(f"feed {url}: not an RSS or Atom feed ({got})")
    if error is not None:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise InputError(f"feed {url}: malformed XML ({reason}); expected an RSS or Atom document")
    return []  # a valid feed that has nothing in it right now


def _client(timeout: float) -> httpx.Client:
    return httpx.Client(
        headers={"User-Agent": USER_AGENT},
        timeout=timeout,
        follow_redirects=True,
        limits=httpx.Limits(max_connections=MAX_CONCURRENT_FETCHES),
    )


def fetch_feed(
    url: str,
    *,
    client: httpx.Client | None = None,
    timeout: float = 10.0,
    max_items: int = 20,
) -> list[ContentItem]:
    """The first ``max_items`` items of the feed at ``url`` (http(s), ``file://`` or a local path).

    Raises ``InputError`` naming ``url`` when it cannot be fetched or is not a usable
    feed; a valid feed without entries gives ``[]``.
    """
    url = url.strip()
    if max_items < 0:
        raise ValueError(f"max_items must be >= 0, got {max_items}")
    if _is_local(url):
        body, headers = _read_local(url), {"content-location": url}
    elif urlsplit(url).scheme.lower() in ("http", "https"):
        if client is None:
            with _client(timeout) as own:
                body, headers = _download(url, own, timeout)
        else:
            body, headers = _download(url, client, timeout)
    else:
        raise InputError(
            f"feed {url}: unsupported scheme {urlsplit(url).scheme!r}; "
            "use http(s)://, file:// or a local path"
        )
    items = parse_feed(body, url, headers, max_items=max_items)[:max_items]
    if _is_local(url) and is_sample_feed(_local_path(url)):
        items = [i.model_copy(update={"sample": True}) for i in items]
    return items


# --- sample feeds ---------------------------------------------------------------------------


def sample_feed_path() -> Path:
    """The bundled RSS sample feed: fictional, neutral stories for demos and tests."""
    return DATA_DIR / "sample_feed.xml"


def is_sample_feed(path: Path) -> bool:
    """Whether ``path`` is one of the bundled sample feeds (whose stories are fiction)."""
    try:
        return path.resolve().parent == DATA_DIR.resolve() and path.suffix == ".xml"
    except OSError:
        return False


def sample_feed_paths() -> list[Path]:
    """Every bundled sample feed (RSS first, then the Atom one)."""
    return [
        sample_feed_path(),
        *sorted(p for p in DATA_DIR.glob("*.xml") if p.name != "sample_feed.xml"),
    ]


def load_sample_items(max_items: int = 20) -> list[ContentItem]:
    """Items of all bundled sample feeds (``sample=True``), up to ``max_items`` from each, not
    yet deduplicated."""
    return [
        item for path in sample_feed_paths() for item in fetch_feed(str(path), max_items=max_items)
    ]


# --- many feeds -----------------------------------------------------------------------------


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
