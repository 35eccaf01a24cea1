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
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import feedparser
import httpx

from novaavatar.domain import ContentItem
from novaavatar.errors import InputError
from novaavatar.hygiene import URL, as_sentence, is_boilerplate
from novaavatar.languages import split_sentences
from tasks.scrape.ranking import safe_link

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


class _BlockExtractor(HTMLParser):
    """The blocks of an HTML fragment (paragraphs, list items, headings, table cells), each
    with its text and the part of it that is link text."""

    _SKIP = _TextExtractor._SKIP
    _BREAKS = _TextExtractor._BREAKS

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []  # (text, link text)
        self._text: list[str] = []
        self._link: list[str] = []
        self._skipping = 0
        self._in_link = 0

    def _flush(self) -> None:
        text = " ".join("".join(self._text).split())
        if text:
            self.blocks.append((text, " ".join("".join(self._link).split())))
        self._text, self._link = [], []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAKS:
            self._flush()
        elif tag == "a":
            self._in_link += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BREAKS:
            self._flush()
        elif tag == "a":
            self._in_link = max(0, self._in_link - 1)

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        self._text.append(data)
        if self._in_link:
            self._link.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def _spoken_blocks(blocks: list[tuple[str, str]]) -> str:
    """Blocks as sentences: each ends with a stop; link-only blocks, bare URLs and
    boilerplate ("Read more", "Continue reading…", "Read the FAQ.") are dropped."""
    kept = []
    for text, link in blocks:
        if link and link == text:  # a line that is only a link: navigation
            continue
        if URL.fullmatch(text) or is_boilerplate(text):
            continue
        sentences = [x for x in split_sentences(text) if not is_boilerplate(x)]
        if sentences:
            kept.append(as_sentence(" ".join(sentences)))
    return " ".join(kept)


def html_to_sentences(fragment: str) -> str:
    """The readable text of an HTML description as sentences: list items, headings and
    paragraphs each end with a stop; link-only lines and boilerplate are left out."""
    parser = _BlockExtractor()
    parser.feed(fragment)
    parser.close()
    return _spoken_blocks(parser.blocks)


def text_to_sentences(text: str) -> str:
    """A plain-text description the same way: a line is a block."""
    return _spoken_blocks([(line, "") for line in text.splitlines() if line.strip()])


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


def _description(entry: Any) -> str:
    """An entry's summary (else its content) as sentences fit to be read aloud."""
    value, kind = (
        entry.get("summary") or "",
        (entry.get("summary_detail") or {}).get("type", "text/html"),
    )
    if not value.strip() and entry.get("content"):
        content = entry["content"][0]
        value, kind = content.get("value") or "", content.get("type", "text/html")
    return html_to_sentences(value) if "html" in kind else text_to_sentences(value)


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
    summary = _description(entry)
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
