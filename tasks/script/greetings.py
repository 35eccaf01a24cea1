"""The offline script's greeting: by style, by time of day where the schedule runs, by
language, and not the same line in every video (chosen per item, the same on a rerun).

News anchors, briefings and lessons greet formally ("Good morning."), casual and
entertaining videos informally ("Hey everyone!"). The time of day is that of
``SCRAPE_TIMEZONE`` when the script is written. Japanese lines are in kana: eSpeak NG's
Japanese voice reads kana only.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from novaavatar.domain import utcnow
from novaavatar.languages import join_words, split_sentences

PARTS = ("morning", "afternoon", "evening", "night")
REGISTER = {
    "news_anchor": "formal",
    "professional": "formal",
    "educational": "formal",
    "casual": "informal",
    "entertaining": "informal",
}

# language → register → part of day → variants
GREETINGS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "en": {
        "formal": {
            "morning": ("Good morning.", "Good morning, and welcome.", "Hello, and good morning."),
            "afternoon": (
                "Good afternoon.",
                "Good afternoon, and welcome.",
                "Hello, and good afternoon.",
            ),
            "evening": ("Good evening.", "Good evening, and welcome.", "Hello, and good evening."),
            "night": (
                "Good evening.",
                "Hello, and thank you for joining us tonight.",
                "Good evening, and thank you for staying with us.",
            ),
        },
        "informal": {
            "morning": ("Morning, everyone!", "Hey everyone!", "Hi there, and happy morning!"),
            "afternoon": ("Hey everyone!", "Hi there!", "Good afternoon, everyone!"),
            "evening": ("Evening, everyone!", "Hey everyone!", "Hi there!"),
            "night": ("Hey, night owls!", "Hey everyone!", "Still up? Hi there!"),
        },
    },
    "es": {
        "formal": {
            "morning": ("Buenos días.", "Buenos días y bienvenidos."),
            "afternoon": ("Buenas tardes.", "Buenas tardes y bienvenidos."),
            "evening": ("Buenas noches.", "Buenas noches y bienvenidos."),
            "night": ("Buenas noches.", "Buenas noches y gracias por acompañarnos."),
        },
        "informal": {
            "morning": ("¡Buenos días a todos!", "¡Hola a todos!"),
            "afternoon": ("¡Hola a todos!", "¡Buenas tardes a todos!"),
            "evening": ("¡Hola a todos!", "¡Buenas noches a todos!"),
            "night": ("¡Hola a todos!", "¡Hola, noctámbulos!"),
        },
    },
    "fr": {
        "formal": {
            "morning": ("Bonjour.", "Bonjour et bienvenue."),
            "afternoon": ("Bonjour.", "Bonjour à tous."),
            "evening": ("Bonsoir.", "Bonsoir et bienvenue."),
            "night": ("Bonsoir.", "Bonsoir et merci d'être avec nous."),
        },
        "informal": {
            "morning": ("Salut tout le monde\u202f!", "Bonjour à tous\u202f!"),
            "afternoon": ("Salut tout le monde\u202f!", "Salut à tous\u202f!"),
            "evening": ("Bonsoir tout le monde\u202f!", "Salut à tous\u202f!"),
            "night": ("Salut les couche-tard\u202f!", "Salut tout le monde\u202f!"),
        },
    },
    "de": {
        "formal": {
            "morning": ("Guten Morgen.", "Guten Morgen und willkommen."),
            "afternoon": ("Guten Tag.", "Guten Tag und willkommen."),
            "evening": ("Guten Abend.", "Guten Abend und willkommen."),
            "night": ("Guten Abend.", "Guten Abend und danke, dass Sie dabei sind."),
        },
        "informal": {
            "morning": ("Moin zusammen!", "Hallo zusammen!"),
            "afternoon": ("Hallo zusammen!", "Hi, schön, dass ihr da seid!"),
            "evening": ("Hallo zusammen!", "Guten Abend zusammen!"),
            "night": ("Hallo, ihr Nachteulen!", "Hallo zusammen!"),
        },
    },
    "ar": {
        "formal": {
            "morning": ("صباح الخير.", "صباح الخير ومرحبا بكم."),
            "afternoon": ("مساء الخير.", "طاب يومكم."),
            "evening": ("مساء الخير.", "مساء الخير ومرحبا بكم."),
            "night": ("مساء الخير.", "مساء الخير وشكرا لمتابعتكم."),
        },
        "informal": {
            "morning": ("صباح الخير يا جماعة!", "مرحبا بالجميع!"),
            "afternoon": ("مرحبا بالجميع!", "أهلا بالجميع!"),
            "evening": ("مرحبا بالجميع!", "مساء الخير يا جماعة!"),
            "night": ("مرحبا بالجميع!", "أهلا بالساهرين!"),
        },
    },
    "zh": {
        "formal": {
            "morning": ("早上好。", "各位观众，早上好。"),
            "afternoon": ("下午好。", "各位观众，下午好。"),
            "evening": ("晚上好。", "各位观众，晚上好。"),
            "night": ("晚上好。", "感谢您深夜收看。"),
        },
        "informal": {
            "morning": ("大家早上好！", "大家好！"),
            "afternoon": ("大家好！", "哈喽，大家好！"),
            "evening": ("大家晚上好！", "大家好！"),
            "night": ("夜猫子们好！", "大家好！"),
        },
    },
    "ja": {
        "formal": {
            "morning": ("おはようございます。", "みなさん、おはようございます。"),
            "afternoon": ("こんにちは。", "みなさん、こんにちは。"),
            "evening": ("こんばんは。", "みなさん、こんばんは。"),
            "night": ("こんばんは。", "よるおそくまで、ありがとうございます。"),
        },
        "informal": {
            "morning": ("みなさん、おはよう！", "やあ、みなさん！"),
            "afternoon": ("みなさん、こんにちは！", "やあ、みなさん！"),
            "evening": ("みなさん、こんばんは！", "やあ、みなさん！"),
            "night": ("よふかしのみなさん、こんばんは！", "やあ、みなさん！"),
        },
    },
}

# Greetings the frames open with, written before greetings varied: replaced, never doubled.
_FRAME_GREETINGS = {
    "Hey everyone!",
    "Welcome.",
    "Welcome back!",
    "¡Hola a todos!",
    "Bienvenidos.",
    "¡Bienvenidos de nuevo!",
    "Bienvenue.",
    "Rebonjour\u202f!",
    "Willkommen.",
    "Willkommen zurück!",
    "أهلا بكم.",
    "أهلا بعودتكم!",
    "欢迎收看。",
    "欢迎回来！",
    "ようこそ。",
    "おかえりなさい！",
}
KNOWN = _FRAME_GREETINGS | {
    line
    for registers in GREETINGS.values()
    for parts in registers.values()
    for lines in parts.values()
    for line in lines
}


def part_of_day(when: datetime) -> str:
    """morning (5-12 h), afternoon (12-18 h), evening (18-22 h) or night."""
    if 5 <= when.hour < 12:
        return "morning"
    if 12 <= when.hour < 18:
        return "afternoon"
    return "evening" if 18 <= when.hour < 22 else "night"


def local_now(timezone: str | None = None) -> datetime:
    """Now where the schedule runs (``SCRAPE_TIMEZONE``; UTC for an unknown zone)."""
    if timezone is None:
        from novaavatar.settings import get_settings

        timezone = get_settings().scrape_timezone
    try:
        return utcnow().astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return utcnow()


def greeting(seed: str, style: str, language: str, when: datetime) -> str:
    """The greeting of one video: its style's register, ``when``'s part of day, chosen among
    the variants by ``seed`` (the item), so a rerun says the same and videos differ."""
    table = GREETINGS.get(language) or GREETINGS["en"]
    lines = table[REGISTER.get(style, "formal")][part_of_day(when)]
    pick = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big") % len(lines)
    return lines[pick]


def greeted(opening: str, hello: str) -> str:
    """``opening`` with ``hello`` in place of the greeting it starts with (or before it)."""
    parts = split_sentences(opening)
    if parts and parts[0] in KNOWN:
        parts = parts[1:]
    return join_words([hello, *parts])
