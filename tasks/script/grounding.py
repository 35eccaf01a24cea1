"""Grounding check: which sentences of a script state facts its sources do not contain.

A generated script may only say what the item says. This check is deliberately simple and
explainable: a sentence is flagged when it states a number, a name (capitalised words that
are not just the start of the sentence) or a quotation that cannot be found in the sources.
It cannot judge paraphrased claims; it catches the inventions that matter most on air.

Other languages: numbers are checked in any script (Arabic-Indic and other Unicode digits
count as their values), spelled-out numbers only in English. Names and quotations are
compared only when the script and its sources are in the same language, written in a cased
script (Latin or Cyrillic) and not German (which capitalises every noun): a translated
script renames things ("London" → "Londres") and re-words quotes, and Chinese, Japanese,
Arabic and Hebrew have no capital letters to find names by.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from novaavatar.languages import LANGUAGES, check_language, guess_language
from novaavatar.languages import split_sentences as _split_any

# a number not glued to a Latin word ("covid19"); CJK text writes numbers against its letters
_NUMBER = re.compile(r"(?<![A-Za-zÀ-ÖØ-öø-ÿ\d_.])[-+]?\$?\d[\d,٬]*(?:[.٫]\d+)?[%٪]?")
_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][\w'’\-]*")
_QUOTE = re.compile(r"[\"“«„]\s*([^\"”»“]{8,}?)\s*[\"”»“]")
NUMBER_WORDS = {
    w: n
    for n, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "thousand": 1000}
# Capitalised words that start sentences or address the viewer without naming anything.
_COMMON = set(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "but",
        "by",
        "for",
        "from",
        "good",
        "hello",
        "hey",
        "here",
        "how",
        "i",
        "if",
        "in",
        "it",
        "it's",
        "its",
        "let's",
        "meanwhile",
        "more",
        "now",
        "of",
        "on",
        "or",
        "our",
        "so",
        "stay",
        "thanks",
        "that",
        "that's",
        "the",
        "their",
        "there",
        "these",
        "they",
        "this",
        "those",
        "today",
        "tonight",
        "we",
        "we'll",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "why",
        "with",
        "yes",
        "you",
        "your",
        "okay",
        "well",
        "welcome",
        "follow",
        "subscribe",
        "share",
        "like",
        "comment",
    ]
)


@dataclass(frozen=True)
class UngroundedSentence:
    sentence: str
    unsupported: tuple[str, ...]  # the numbers, names or quotes not found in the sources

    def __str__(self) -> str:
        return f"{self.sentence} [not in sources: {', '.join(self.unsupported)}]"


def split_sentences(text: str) -> list[str]:
    """Every sentence of ``text``, short ones included, whitespace normalised (any script:
    CJK and Arabic stops too, see :func:`novaavatar.languages.split_sentences`)."""
    return _split_any(text)


def _norm_number(token: str) -> str:
    ascii_digits = "".join(
        str(unicodedata.digit(c)) if c.isdigit() else c for c in token.replace("٫", ".")
    )
    return ascii_digits.strip("$%+٪").replace(",", "").replace("٬", "").removesuffix(".0")


def _numbers(text: str) -> set[str]:
    found = {_norm_number(m.group()) for m in _NUMBER.finditer(text)}
    found |= {
        str(NUMBER_WORDS[w.lower()]) for w in _WORD.findall(text) if w.lower() in NUMBER_WORDS
    }
    return found


def _words(text: str) -> set[str]:
    out = set()
    for w in _WORD.findall(text):
        w = w.lower().replace("’", "'").removesuffix("'s")
        out.add(w)
        out.update(p for p in w.split("-") if p)
    return out


def _names(sentence: str) -> list[str]:
    """Capitalised words, except a sentence's first word when it is an ordinary word."""
    words = _WORD.findall(sentence)
    names = []
    for i, w in enumerate(words):
        if not w[0].isupper():
            continue
        bare = w.lower().replace("’", "'")
        if i == 0 and (bare in _COMMON or not (len(words) > 1 and words[1][0].isupper())):
            continue  # "The", "Officials" at the start: capitalised by grammar, not a name
        names.append(w.replace("’", "'").removesuffix("'s"))
    return names


def names_comparable(script: str, sources: str, language: str | None = None) -> bool:
    """Whether names and quotes of ``script`` can be looked up in ``sources`` (see above)."""
    lang = check_language(language) if language else guess_language(script) or "en"
    said = guess_language(sources) or lang
    return said == lang and LANGUAGES[lang].writing in ("latin", "cyrillic") and lang != "de"


def ungrounded_sentences(
    script: str, sources: Iterable[str], allowed: Iterable[str] = (), language: str | None = None
) -> list[UngroundedSentence]:
    """Sentences of ``script`` with a number, name or quote absent from ``sources``.

    ``allowed`` are words the presenter may always say (the source's name, the show's name).
    ``language`` is the script's (guessed when None); across languages only numbers count.
    """
    source_text = " ".join(sources)
    by_name = names_comparable(script, source_text, language)
    english = (check_language(language) if language else guess_language(script)) in ("en", None)
    known_numbers = _numbers(source_text)
    known_words = _words(source_text) | _words(" ".join(allowed))
    flat_source = re.sub(r"\s+", " ", source_text).lower()
    flagged = []
    for sentence in split_sentences(script):
        missing: list[str] = []
        for m in _NUMBER.finditer(sentence):
            if _norm_number(m.group()) not in known_numbers:
                missing.append(m.group())
        for w in _WORD.findall(sentence) if english else ():
            n = NUMBER_WORDS.get(w.lower())
            if n is not None and n > 1 and str(n) not in known_numbers:
                missing.append(w)
        for name in _names(sentence) if by_name else ():
            parts = [p for p in name.lower().split("-") if p]
            if not all(p in known_words for p in parts) and name not in missing:
                missing.append(name)
        for q in _QUOTE.findall(sentence) if by_name else ():
            if re.sub(r"\s+", " ", q).lower().strip() not in flat_source:
                missing.append(f'"{q}"')
        if missing:
            flagged.append(UngroundedSentence(sentence, tuple(dict.fromkeys(missing))))
    return flagged
