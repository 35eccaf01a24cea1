"""Languages a video can be made in: the script language, its eSpeak NG voice and how its
captions are written (direction and script)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Writing = Literal["latin", "cyrillic", "arabic", "hebrew", "cjk", "devanagari"]


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1 (or -3 where there is none)
    name: str
    voice: str  # the default eSpeak NG voice
    writing: Writing = "latin"

    @property
    def rtl(self) -> bool:
        return self.writing in ("arabic", "hebrew")

    @property
    def spaced(self) -> bool:
        """Whether words are separated by spaces (CJK text is not)."""
        return self.writing != "cjk"


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", "en-us"),
        Language("es", "Spanish", "es"),
        Language("fr", "French", "fr-fr"),
        Language("de", "German", "de"),
        Language("it", "Italian", "it"),
        Language("pt", "Portuguese", "pt-br"),
        Language("nl", "Dutch", "nl"),
        Language("pl", "Polish", "pl"),
        Language("tr", "Turkish", "tr"),
        Language("ru", "Russian", "ru", "cyrillic"),
        Language("uk", "Ukrainian", "uk", "cyrillic"),
        Language("ar", "Arabic", "ar", "arabic"),
        Language("fa", "Persian", "fa", "arabic"),
        Language("ur", "Urdu", "ur", "arabic"),
        Language("he", "Hebrew", "he", "hebrew"),
        Language("hi", "Hindi", "hi", "devanagari"),
        Language("zh", "Chinese (Mandarin)", "cmn", "cjk"),
        Language("ja", "Japanese", "ja", "cjk"),
        Language("ko", "Korean", "ko", "cjk"),
    )
}


def check_language(code: str) -> str:
    """The normalised code, or a ValueError that lists the supported ones."""
    c = code.strip().lower().replace("_", "-").split("-")[0]
    if c not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}: choose one of {', '.join(sorted(LANGUAGES))}")
    return c


def language(code: str) -> Language:
    return LANGUAGES[check_language(code)]
