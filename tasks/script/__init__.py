"""Script stage: a ContentItem → a VideoScript of the right length, in one of five styles.

The offline provider is extractive: it only says what the item says, framed by the style's
opening and closing lines, so it can never invent facts.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Protocol

from novaavatar.domain import (
    MAX_DURATION_S,
    MIN_DURATION_S,
    SCRIPT_STYLES,
    ContentItem,
    VideoScript,
)
from novaavatar.errors import InputError

_STOPWORDS = set(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "may",
        "more",
        "most",
        "new",
        "not",
        "of",
        "on",
        "or",
        "our",
        "over",
        "said",
        "says",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "up",
        "was",
        "we",
        "were",
        "what",
        "when",
        "which",
        "who",
        "will",
        "with",
        "would",
        "you",
        "your",
        "after",
        "about",
        "also",
        "amid",
        "against",
        "all",
        "before",
        "between",
        "during",
        "first",
        "last",
        "next",
        "one",
        "two",
        "three",
        "year",
        "years",
        "week",
        "today",
        "tonight",
        "yesterday",
    ]
)

# Style: opening (may use {source} and {topic}), bridge sentences that state no facts and
# may pad a thin item, closing line, and the call to action.
STYLE_FRAMES: dict[str, dict[str, object]] = {
    "news_anchor": {
        "open": "Good evening. Here is the latest from {source}.",
        "bridge": ["Here is what we know so far.", "We will keep following this story."],
        "close": "That is the latest on this story.",
        "cta": "Follow for more updates as this story develops.",
    },
    "casual": {
        "open": "Hey everyone! So, here's something from {source} you might want to hear.",
        "bridge": ["Okay, here's the gist.", "Pretty interesting, right?"],
        "close": "So yeah, that's the story for now.",
        "cta": "Let us know what you think in the comments.",
    },
    "educational": {
        "open": "Today, let's look at a story about {topic}, reported by {source}.",
        "bridge": ["Let's break down what was reported.", "That is the key point to remember."],
        "close": "And that is what this story tells us about {topic}.",
        "cta": "Follow to keep learning with us.",
    },
    "entertaining": {
        "open": "Here's a story that caught our eye, straight from {source}!",
        "bridge": ["Stay with us, because here's the good part.", "Now that is quite something."],
        "close": "What a story. We'll be watching what happens next!",
        "cta": "Share this with someone who needs to hear it.",
    },
    "professional": {
        "open": "This is a short briefing, based on reporting from {source}.",
        "bridge": ["The main points are as follows.", "Further details are expected."],
        "close": "That concludes this briefing.",
        "cta": "Subscribe for concise briefings on the stories that matter.",
    },
}


class ScriptProvider(Protocol):
    name: str

    def available(self) -> bool: ...

    def write(
        self,
        item: ContentItem,
        style: str,
        duration_s: float,
        words_per_second: float,
        variant: int = 0,
    ) -> VideoScript: ...


def sentences(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text).strip()
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'“])", text)
    return [p.strip() for p in parts if len(p.split()) >= 3]


def keywords_of(item: ContentItem, n: int = 6) -> tuple[str, ...]:
    """The item's most telling words: its tags first, then frequent non-stopwords."""
    words = re.findall(r"[A-Za-z][A-Za-z\-']{2,}", f"{item.title} {item.title} {item.summary}")
    counts = Counter(w.lower() for w in words if w.lower() not in _STOPWORDS)
    out: list[str] = [t.lower() for t in item.tags if t.strip()][:3]
    for w, _ in counts.most_common():
        if w not in out:
            out.append(w)
        if len(out) >= n:
            break
    return tuple(out[:n])


def _check(style: str, duration_s: float) -> None:
    if style not in SCRIPT_STYLES:
        raise InputError(f"unknown style {style!r}: choose one of {', '.join(SCRIPT_STYLES)}")
    if not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
        raise InputError(
            f"duration {duration_s:g} s is out of range: allowed {MIN_DURATION_S}–{MAX_DURATION_S} s"
        )


class TemplateScriptProvider:
    """Offline, extractive scripts: the item's own sentences in a style's frame."""

    name = "template"

    def available(self) -> bool:
        return True

    def write(
        self,
        item: ContentItem,
        style: str,
        duration_s: float,
        words_per_second: float,
        variant: int = 0,
    ) -> VideoScript:
        _check(style, duration_s)
        # a regenerated script ("variant") borrows the opening and closing of another style
        frame = dict(STYLE_FRAMES[style])
        if variant:
            other = STYLE_FRAMES[SCRIPT_STYLES[(SCRIPT_STYLES.index(style) + variant) % 5]]
            frame.update(open=other["open"], close=other["close"])
        kws = keywords_of(item)
        topic = " and ".join(kws[:2]) if kws else "the news"
        fill = {"source": item.source or "our newsroom", "topic": topic}
        opening = str(frame["open"]).format(**fill)
        closing = str(frame["close"]).format(**fill)
        cta = str(frame["cta"])
        bridges = [str(b) for b in frame["bridge"]]  # type: ignore[attr-defined]

        budget = int(duration_s * words_per_second)
        fixed = len(opening.split()) + len(closing.split()) + len(cta.split())
        body: list[str] = []
        title = item.title.strip().rstrip(".!?") + "."
        facts = [title] + [s for s in sentences(item.summary) if s.rstrip(".") not in title]
        used = fixed
        for s in facts:
            n = len(s.split())
            if used + n > budget and body:
                break
            if used + n > budget:  # even the headline is too long: cut it at a word
                s = " ".join(s.split()[: max(budget - used, 5)]).rstrip(",;:") + "."
                n = len(s.split())
            body.append(s)
            used += n
        # a thin item gets neutral bridge lines (no new facts) towards the target length
        for b in bridges:
            if used + len(b.split()) <= budget * 0.9:
                body.insert(1 if len(body) > 1 else len(body), b)
                used += len(b.split())
        text = " ".join([opening, *body, closing, cta])
        scene = (
            f"A clean modern news studio backdrop with abstract shapes suggesting {topic}; "
            f"calm, professional lighting; no text."
        )
        return VideoScript(
            text=text,
            style=style,  # type: ignore[arg-type]
            target_duration_s=duration_s,
            title=item.title,
            scene_description=scene,
            keywords=kws,
            call_to_action=cta,
            sources=(item.url,) if item.url else (),
            provider=self.name,
        )


def default_providers() -> list[ScriptProvider]:
    """OpenAI when a key is configured (env or Prefect block), then the offline template."""
    from blocks.credentials import openai_credentials
    from novaavatar.settings import get_settings
    from tasks.script.openai_script import OpenAIScriptProvider

    s = get_settings()
    key, base_url = openai_credentials(
        s.openai_api_key, s.openai_base_url, s.openai_credentials_block
    )
    openai = OpenAIScriptProvider(
        key,
        model=s.openai_model,
        base_url=base_url,
        timeout_s=s.openai_timeout,
        max_retries=s.openai_max_retries,
        deadline_s=s.openai_deadline,
    )
    return [openai, TemplateScriptProvider()]
