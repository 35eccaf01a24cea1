"""What must never be read aloud: feed boilerplate, run-on text, URLs and markup.

One list of patterns serves both ends: the scraper drops boilerplate from a feed's text
(:func:`is_boilerplate`), and the quality check flags whatever still reached a script
(:func:`script_problems`).
"""

from __future__ import annotations

import re

from novaavatar.languages import SENTENCE_ENDS, is_cjk_letter, split_sentences, units

# A sentence longer than this without a full stop is a run-on (list items glued together,
# a caption without punctuation): too long to say in one breath.
MAX_SENTENCE_WORDS = 45
MAX_SENTENCE_CJK = 90  # characters of Chinese or Japanese

# Whole blocks (or sentences) that are navigation, not news. Matched on the text with its
# trailing punctuation, ellipses and arrows removed, case-insensitive.
_BOILERPLATE = re.compile(
    r"^(?:"
    r"(?:continue|keep) reading(?: (?:the )?(?:full )?(?:story|article|post))?"
    r"(?: (?:at|on) .{1,60})?"
    r"|read (?:more|on|the (?:full |whole |rest of the )?(?:story|article|post|report|faq))"
    r"(?: (?:at|on|here) ?.{0,60})?"
    r"|(?:read|see|view|learn|find out|discover) more(?: (?:at|on|here|about) ?.{0,60})?"
    r"|(?:click|tap) here(?: .{0,60})?"
    r"|(?:the )?full (?:story|article|report|coverage)(?: (?:at|on|here) ?.{0,60})?"
    r"|(?:frequently asked questions|faqs?)(?: .{0,40})?"
    r"|the post .{1,200} appeared first on .{1,100}"
    r"|(?:share|tweet|email|print)(?: (?:this|on .{1,30}))?"
    r"|(?:subscribe|sign up)(?: now| here| today)?"
    r"(?: (?:to|for) (?:our|the|a) .{0,30}newsletters?)?"
    r"|(?:related|advertisement|sponsored|comments?|photo|image|video|source|via)(?: ?:.{0,80})?"
    r"|listen(?: to (?:this|the) (?:story|article|podcast))?"
    r"|\[?(?:…|\.\.\.)\]?"
    r")$",
    re.IGNORECASE,
)
_TRAILING = " .:;,!?…»›→>-–—|[]()\u00a0"
# a link as written: a scheme, "www.", or a domain with a path ("Amazon.com" alone is a name)
URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,6}/\S+", re.IGNORECASE)
MARKUP = re.compile(
    r"</?[a-z][\w-]*(?:\s[^<>]*)?/?>"  # an HTML tag
    r"|&(?:[a-z]{2,8}|#\d{2,6}|#x[0-9a-f]{2,5});"  # an HTML entity left undecoded
    r"|\*\*|__|\[[^\]]{1,80}\]\([^)]{1,200}\)"  # Markdown emphasis and links
    r"|^\s*#{1,6}\s|(?<!\w)[#*]{2,}",  # Markdown headings, stray symbol runs
    re.IGNORECASE | re.MULTILINE,
)


def is_boilerplate(text: str) -> bool:
    """Whether ``text`` (a block or a sentence) is feed navigation: "Read more", "Continue
    reading…", "Read the FAQ.", "The post … appeared first on …"."""
    core = text.strip().strip(_TRAILING).strip()
    return bool(core) and bool(_BOILERPLATE.match(core))


def _too_long(sentence: str) -> bool:
    cjk = sum(1 for ch in sentence if is_cjk_letter(ch))
    if cjk > len(sentence) / 3:
        return cjk > MAX_SENTENCE_CJK
    return units(sentence) > MAX_SENTENCE_WORDS


def script_problems(text: str) -> list[str]:
    """What a listener would hear wrong in ``text``, one short line each (empty: none)."""
    problems: list[str] = []
    for sentence in split_sentences(text):
        if is_boilerplate(sentence):
            problems.append(f"boilerplate read aloud: {sentence[:60]!r}")
        elif _too_long(sentence):
            problems.append(
                f"run-on sentence ({units(sentence)} words without a full stop): {sentence[:60]!r}…"
            )
    if url := URL.search(text):
        problems.append(f"URL read aloud: {url.group()[:60]!r}")
    if tag := MARKUP.search(text):
        problems.append(f"markup read aloud: {tag.group().strip()[:40]!r}")
    return problems


def as_sentence(text: str) -> str:
    """``text`` ending with a sentence stop (a full stop added where it has none)."""
    text = text.strip()
    if not text or text.rstrip("\"'”’»)」』）】").endswith(SENTENCE_ENDS):
        return text
    if text.endswith((":", ";", ",", "–", "—", "-")):
        text = text.rstrip(":;,–—- ")
    cjk = sum(1 for ch in text if is_cjk_letter(ch))
    return text + ("。" if cjk > len(text) / 3 else ".")
