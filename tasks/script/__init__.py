"""Script stage: a ContentItem → a VideoScript of the right length, in one of five styles
and in the video's language.

The offline provider is extractive: it only says what the item says, framed by the style's
opening and closing lines, so it can never invent facts. It frames in English, Spanish,
French, German, Arabic, Chinese and Japanese; it cannot translate the item itself, and says
so (a "language mismatch" note) when the item is in another language than the video.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from novaavatar.domain import (
    MAX_DURATION_S,
    MIN_DURATION_S,
    SCRIPT_STYLES,
    ContentItem,
    VideoScript,
)
from novaavatar.errors import InputError
from novaavatar.languages import (
    FUNCTION_WORDS,
    LANGUAGES,
    check_language,
    cut_units,
    full_stop,
    guess_language,
    join_words,
    language_fits,
    split_sentences,
    units,
)
from tasks.script.frames import FRAMES
from tasks.script.greetings import greeted, greeting, local_now

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


# A/B takes (ProduceOptions.hook): the offline template's opening line for each hook, in
# English (other languages keep the style's opening), and what the OpenAI prompt asks for.
HOOK_OPENINGS: dict[str, str] = {
    "headline": "Straight to the news from {source}.",
    "question": "Have you heard what {source} is reporting about {topic}?",
    "stakes": "This story about {topic} could matter to you, so here is what {source} reports.",
    "surprise": "Here is a story about {topic} from {source} that you might not expect.",
}
HOOK_GUIDES: dict[str, str] = {
    "headline": "open with the news itself: the headline fact in the first sentence",
    "question": "open with one short question to the viewer that the story then answers",
    "stakes": "open by saying why this story matters to the viewer, then give the facts",
    "surprise": "open with the most unexpected fact the article states",
}


def hook_instruction(hook: str | None) -> str:
    """The prompt's line about the opening (``hook xxx`` marks it for fakes); empty: none."""
    if hook is None:
        return ""
    if hook not in HOOK_GUIDES:
        raise InputError(f"unknown hook {hook!r}: choose one of {', '.join(HOOK_GUIDES)}")
    return f"Opening (hook {hook}): {HOOK_GUIDES[hook]}."


class ScriptProvider(Protocol):
    """Writes a script for an item; ``language`` is the video's (a code of
    :data:`novaavatar.languages.LANGUAGES`) and ``words_per_second`` counts its spoken units
    (characters for Chinese and Japanese)."""

    name: str

    def available(self) -> bool: ...

    def write(
        self,
        item: ContentItem,
        style: str,
        duration_s: float,
        words_per_second: float,
        variant: int = 0,
        language: str = "en",
        hook: str | None = None,
    ) -> VideoScript: ...


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (any script) that say something: at least three units."""
    return [s for s in split_sentences(text) if units(s) >= 3]


def _stopwords(code: str | None) -> set[str]:
    return _STOPWORDS | set(FUNCTION_WORDS.get(code or "", ()))


def keywords_of(item: ContentItem, n: int = 6) -> tuple[str, ...]:
    """The item's most telling words: its tags first, then frequent non-stopwords.

    Spaced scripts count words of three letters or more; Chinese counts two-character
    sequences of ideographs, Japanese runs of kanji or katakana (content words there).
    """
    text = f"{item.title} {item.title} {item.summary}"
    lang = guess_language(text)
    stop = _stopwords(lang)
    found: list[str] = []
    if lang == "ja":
        found = re.findall(r"[\u4e00-\u9fff]{2,}|[\u30a0-\u30ff]{2,}", text)
    elif lang == "zh":
        for run in re.findall(r"[\u4e00-\u9fff]{2,}", text):
            found += [run[i : i + 2] for i in range(len(run) - 1)]
    else:
        found = [
            w.lower()
            for w in re.findall(r"[^\W\d_][\w\-'’]{2,}", text)
            if w.lower() not in stop and not w.isdigit()
        ]
    counts = Counter(found)
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
            f"duration {duration_s:g} s is out of range: "
            f"allowed {MIN_DURATION_S}–{MAX_DURATION_S} s"
        )


def frames_for(language: str) -> dict[str, dict[str, object]] | None:
    """The offline style frames of a language, or None where there are none."""
    return STYLE_FRAMES if language == "en" else FRAMES.get(language)


def template_languages() -> tuple[str, ...]:
    """Languages the offline template provider frames in."""
    return ("en", *FRAMES)


def language_mismatch(item: ContentItem, language: str) -> str | None:
    """Why the item's own text cannot serve a ``language`` video offline, or None when it can."""
    fits, said = language_fits(f"{item.title}. {item.summary}", language)
    if fits:
        return None
    name = LANGUAGES[said].name if said in LANGUAGES else f"{said} script"
    return (
        f"language mismatch: the item is in {name} but the video is in "
        f"{LANGUAGES[language].name} ({language}); the offline template cannot translate, so "
        f"the item's own sentences are kept as they are — set OPENAI_API_KEY for a "
        f"translated script"
    )


def video_language(language: str) -> str:
    """The video's language code, normalised; InputError listing the supported ones."""
    try:
        return check_language(language)
    except ValueError as e:
        raise InputError(str(e)) from None


def item_facts(item: ContentItem, language: str) -> tuple[str, list[str], str]:
    """The item's facts for an extractive script: its headline as a sentence, the summary's
    other sentences, and the full stop of the item's own language (the video's ``language``
    where it cannot be told), which ends a fact cut to fit."""
    said = guess_language(f"{item.title}. {item.summary}") or language
    stop = full_stop(said)
    headline = item.title.strip().rstrip(".!?。！？؟۔") + stop
    rest = [s for s in sentences(item.summary) if s.rstrip(".。") not in headline]
    return headline, rest, stop


def pick_facts(facts: list[str], budget: int, stop: str | None = None) -> list[str]:
    """The first ``facts`` that fit ``budget`` units. With a full stop ``stop`` at least the
    first is kept, cut at a word (or a CJK character) if need be and ended with ``stop``;
    without one, none that does not fit."""
    chosen: list[str] = []
    used = 0
    for s in facts:
        n = units(s)
        if used + n > budget:
            if chosen or stop is None:
                break
            s = cut_units(s, max(budget - used, 5)).rstrip(",;:、，،") + stop
            n = units(s)
        chosen.append(s)
        used += n
    return chosen


def balanced(facts: list[str], groups: int) -> list[list[str]]:
    """``facts`` in order in ``groups`` runs of about equal length (spoken units), none
    empty while there are enough facts."""
    total = sum(units(f) for f in facts)
    out: list[list[str]] = [[] for _ in range(groups)]
    acc, g = 0, 0
    for i, f in enumerate(facts):
        left = len(facts) - i  # never leave a later group without a fact
        if (
            out[g]
            and g < groups - 1
            and (acc >= total * (g + 1) / groups or left <= groups - 1 - g)
        ):
            g += 1
        out[g].append(f)
        acc += units(f)
    return out


def video_script(
    item: ContentItem,
    style: str,
    duration_s: float,
    language: str,
    provider: str,
    **fields: Any,
) -> VideoScript:
    """The VideoScript every provider returns: the request's style, length and language, the
    item's link as the source, and the provider's ``fields`` (text, title, turns, ...)."""
    return VideoScript(
        style=style,  # type: ignore[arg-type]
        target_duration_s=duration_s,
        language=language,
        sources=(item.url,) if item.url else (),
        provider=provider,
        **fields,
    )


@dataclass(frozen=True)
class Framing:
    """An offline template's lines for one item: the style's frame (with another style's
    opening and closing for a new take), filled with the item's source and topic."""

    language: str
    frame: dict[str, object]
    keywords: tuple[str, ...]
    topic: str
    opening: str
    closing: str
    cta: str

    def lines(self, key: str) -> list[str]:
        """A list of the frame's lines ("bridge", "ask")."""
        return [str(line) for line in self.frame[key]]  # type: ignore[attr-defined]


class TemplateProvider:
    """What the offline, extractive providers of every format share: the request's checks,
    the frames of the video's language, the "language mismatch" note and the filled frame.
    A format names itself (``kind``) and gives its frames and length check."""

    name = "template"
    kind = "script"  # what an error calls the offline format

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.notes: list[str] = []
        # the greeting's time of day: now where the schedule runs (SCRAPE_TIMEZONE)
        self.clock = clock or local_now

    def available(self) -> bool:
        return True

    def check(self, style: str, duration_s: float) -> None:
        _check(style, duration_s)

    def frames(self, language: str) -> dict[str, dict[str, object]] | None:
        return frames_for(language)

    def framing(
        self,
        item: ContentItem,
        style: str,
        duration_s: float,
        variant: int,
        language: str,
        hook: str | None = None,
    ) -> Framing:
        """Check the request and fill the style's frame for ``item`` (resets ``notes``); a
        ``hook`` (an A/B take's) replaces the style's opening line."""
        hook_instruction(hook)  # an unknown hook is an InputError naming it
        self.check(style, duration_s)
        language = video_language(language)
        frames = self.frames(language)
        if frames is None:
            raise InputError(
                f"the offline {self.kind} has no frames in {LANGUAGES[language].name} "
                f"({language}): choose one of {', '.join(template_languages())}, or set "
                "OPENAI_API_KEY"
            )
        self.notes = []
        if mismatch := language_mismatch(item, language):
            self.notes.append(mismatch)
        frame = dict(frames[style])
        if variant:  # a new take borrows another style's opening and closing
            other = frames[SCRIPT_STYLES[(SCRIPT_STYLES.index(style) + variant) % 5]]
            frame.update(open=other["open"], close=other["close"])
        if hook is not None and language == "en":
            frame["open"] = HOOK_OPENINGS[hook]
        elif hook is not None:
            self.notes.append(f"hook {hook}: the offline opening lines are English only")
        kws = keywords_of(item)
        topic = " and ".join(kws[:2]) if kws else "the news"
        fill = {"source": item.source or _NEWSROOM.get(language, "our newsroom"), "topic": topic}
        hello = greeting(f"{item.id}:{variant}", style, language, self.clock())
        return Framing(
            language=language,
            frame=frame,
            keywords=kws,
            topic=topic,
            opening=greeted(str(frame["open"]).format(**fill), hello),
            closing=str(frame["close"]).format(**fill),
            cta=str(frame["cta"]),
        )

    def script(
        self, item: ContentItem, style: str, duration_s: float, f: Framing, **fields: Any
    ) -> VideoScript:
        """The VideoScript of a template: the item's headline and keywords, ``fields`` (text,
        scene description, turns or scenes, call to action if not the frame's)."""
        fields = {"call_to_action": f.cta, **fields}
        return video_script(
            item,
            style,
            duration_s,
            f.language,
            self.name,
            title=item.title,
            keywords=f.keywords,
            **fields,
        )


class TemplateScriptProvider(TemplateProvider):
    """Offline, extractive scripts: the item's own sentences in a style's frame.

    Frames exist for English and the languages of :mod:`tasks.script.frames`. The item's
    sentences are used as they are: an item in another language than the video's is noted
    (``notes``, "language mismatch") and the quality report's ``language`` check fails,
    since this provider cannot translate.
    """

    def write(
        self,
        item: ContentItem,
        style: str,
        duration_s: float,
        words_per_second: float,
        variant: int = 0,
        language: str = "en",
        hook: str | None = None,
    ) -> VideoScript:
        f = self.framing(item, style, duration_s, variant, language, hook)
        opening, closing = f.opening, f.closing
        budget = int(duration_s * words_per_second)
        # the facts come first: where the frame would leave them under half the budget (a
        # short video, a slow voice), drop the closing line, then the opening's greeting
        while units(opening) + units(closing) + units(f.cta) > budget * 0.5:
            if closing:
                closing = ""
            elif len(split_sentences(opening)) > 1:
                opening = " ".join(split_sentences(opening)[1:])
            else:
                break
        fixed = units(opening) + units(closing) + units(f.cta)
        headline, rest, stop = item_facts(item, f.language)
        body = pick_facts([headline, *rest], budget - fixed, stop)
        used = fixed + sum(units(s) for s in body)
        # a thin item gets neutral bridge lines (no new facts) towards the target length
        for b in f.lines("bridge"):
            if used + units(b) <= budget * 0.9:
                body.insert(1 if len(body) > 1 else len(body), b)
                used += units(b)
        scene = (
            f"A clean modern news studio backdrop with abstract shapes suggesting {f.topic}; "
            f"calm, professional lighting; no text."
        )
        text = join_sentences([opening, *body, closing, f.cta])
        return self.script(item, style, duration_s, f, text=text, scene_description=scene)


_NEWSROOM = {
    "es": "nuestra redacción",
    "fr": "notre rédaction",
    "de": "unserer Redaktion",
    "ar": "غرفة الأخبار",
    "zh": "本台",
    "ja": "ニュースきょく",
}


def join_sentences(parts: list[str]) -> str:
    """Sentences joined as written: a space after Latin or Arabic stops, none after CJK ones."""
    return join_words([p.strip() for p in parts if p.strip()])
