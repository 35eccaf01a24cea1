"""Languages a video can be made in: the script language, its eSpeak NG voice and how its
captions are written (direction and script), plus the text helpers every stage shares.

Text is measured in *spoken units*: a word where words are separated by spaces, a character
in Chinese and Japanese (no spaces; eSpeak NG reads them character by character). Sentence
ends include the CJK full stops (``。！？``, no space after them) and the Arabic question mark
and Urdu full stop (``؟ ۔``); the Arabic comma ``،`` and ideographic comma ``、`` are commas.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Literal

Writing = Literal["latin", "cyrillic", "arabic", "hebrew", "cjk", "hangul", "devanagari"]


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1 (or -3 where there is none)
    name: str
    voice: str  # the default eSpeak NG voice
    writing: Writing = "latin"
    sample: str = ""  # a news-like reference sentence: the voice's speaking rate is measured on it

    @property
    def rtl(self) -> bool:
        return self.writing in ("arabic", "hebrew")

    @property
    def spaced(self) -> bool:
        """Whether words are separated by spaces (Chinese and Japanese are not; Korean is)."""
        return self.writing != "cjk"

    @property
    def unit(self) -> str:
        """What a script's length is counted in."""
        return "words" if self.spaced else "characters"


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language(
            "en",
            "English",
            "en-us",
            sample="Good evening. Here are the stories we are following tonight. Scientists have "
            "announced new results from a long study of ocean temperatures, and city leaders "
            "met to discuss plans for cleaner public transport over the next ten years.",
        ),
        Language(
            "es",
            "Spanish",
            "es",
            sample="Buenas noches. Estas son las noticias que seguimos hoy. Los científicos han "
            "presentado nuevos resultados de un largo estudio sobre la temperatura de los "
            "océanos, y el ayuntamiento se reunió para hablar del transporte público.",
        ),
        Language(
            "fr",
            "French",
            "fr",
            sample="Bonsoir. Voici les informations que nous suivons ce soir. Des scientifiques "
            "ont présenté les résultats d'une longue étude sur la température des océans, et "
            "les élus de la ville se sont réunis pour parler des transports publics.",
        ),
        Language(
            "de",
            "German",
            "de",
            sample="Guten Abend. Das sind die Nachrichten, die wir heute verfolgen. Forscher haben "
            "neue Ergebnisse einer langen Studie über die Temperatur der Ozeane vorgestellt, und "
            "die Stadt hat über Pläne für saubereren Nahverkehr beraten.",
        ),
        Language(
            "it",
            "Italian",
            "it",
            sample="Buonasera. Ecco le notizie che seguiamo oggi. Gli scienziati hanno presentato "
            "nuovi risultati di un lungo studio sulla temperatura degli oceani, e il comune si è "
            "riunito per discutere del trasporto pubblico.",
        ),
        Language(
            "pt",
            "Portuguese",
            "pt-br",
            sample="Boa noite. Estas são as notícias que acompanhamos hoje. Os cientistas "
            "apresentaram novos resultados de um longo estudo sobre a temperatura dos oceanos, e a "
            "prefeitura se reuniu para discutir o transporte público.",
        ),
        Language(
            "nl",
            "Dutch",
            "nl",
            sample="Goedenavond. Dit is het nieuws dat we vandaag volgen. Wetenschappers hebben "
            "nieuwe resultaten van een lang onderzoek naar de temperatuur van de oceanen "
            "gepresenteerd, en de gemeente sprak over schoner openbaar vervoer.",
        ),
        Language(
            "pl",
            "Polish",
            "pl",
            sample="Dobry wieczór. Oto wiadomości, które dziś śledzimy. Naukowcy przedstawili nowe "
            "wyniki długiego badania temperatury oceanów, a władze miasta rozmawiały o czystszym "
            "transporcie publicznym.",
        ),
        Language(
            "tr",
            "Turkish",
            "tr",
            sample="İyi akşamlar. Bugün takip ettiğimiz haberler bunlar. Bilim insanları okyanus "
            "sıcaklıkları üzerine uzun bir çalışmanın yeni sonuçlarını açıkladı ve belediye "
            "daha temiz toplu taşıma planlarını görüştü.",
        ),
        Language(
            "ru",
            "Russian",
            "ru",
            "cyrillic",
            sample="Добрый вечер. Вот новости, за которыми мы следим сегодня. Учёные представили "
            "новые результаты долгого исследования температуры океанов, а городские власти "
            "обсудили планы по развитию общественного транспорта.",
        ),
        Language(
            "uk",
            "Ukrainian",
            "uk",
            "cyrillic",
            sample="Добрий вечір. Ось новини, які ми стежимо сьогодні. Науковці представили нові "
            "результати тривалого дослідження температури океанів, а міська влада обговорила "
            "плани щодо громадського транспорту.",
        ),
        Language(
            "ar",
            "Arabic",
            "ar",
            "arabic",
            sample="مساء الخير. هذه هي الأخبار التي نتابعها اليوم. أعلن العلماء نتائج جديدة من "
            "دراسة طويلة عن حرارة المحيطات، واجتمع مسؤولو المدينة لمناقشة خطط النقل العام.",
        ),
        Language(
            "fa",
            "Persian",
            "fa",
            "arabic",
            sample="عصر بخیر. این خبرهایی است که امروز دنبال می‌کنیم. دانشمندان نتایج تازه‌ای از "
            "یک پژوهش طولانی درباره دمای اقیانوس‌ها اعلام کردند و شورای شهر درباره حمل و نقل "
            "عمومی گفتگو کرد.",
        ),
        Language(
            "ur",
            "Urdu",
            "ur",
            "arabic",
            sample="شام بخیر۔ یہ وہ خبریں ہیں جن پر ہم آج نظر رکھ رہے ہیں۔ سائنسدانوں نے سمندر کے "
            "درجہ حرارت پر ایک طویل تحقیق کے نئے نتائج کا اعلان کیا۔",
        ),
        Language(
            "he",
            "Hebrew",
            "he",
            "hebrew",
            sample="ערב טוב. אלה החדשות שאנחנו עוקבים אחריהן היום. מדענים הציגו תוצאות חדשות של "
            "מחקר ארוך על טמפרטורת האוקיינוסים, וראשי העיר דנו בתוכניות לתחבורה ציבורית.",
        ),
        Language(
            "hi",
            "Hindi",
            "hi",
            "devanagari",
            sample="शुभ संध्या। ये वे खबरें हैं जिन पर आज हमारी नज़र है। वैज्ञानिकों ने समुद्र के "
            "तापमान पर एक लंबे अध्ययन के नए नतीजे बताए, और शहर के अधिकारियों ने सार्वजनिक "
            "परिवहन पर चर्चा की।",
        ),
        Language(
            "zh",
            "Chinese (Mandarin)",
            "cmn",
            "cjk",
            sample="晚上好。这是我们今天关注的新闻。科学家公布了一项关于海洋温度的长期研究的新结果，"
            "城市官员也开会讨论了公共交通的计划。",
        ),
        Language(
            # eSpeak NG's Japanese reads kana; kanji are not in its dictionary
            "ja",
            "Japanese",
            "ja",
            "cjk",
            sample="こんばんは。きょうの ニュースを おつたえします。"
            "かがくしゃたちは うみの おんどに "
            "ついての ながい けんきゅうの あたらしい けっかを はっぴょうしました。",
        ),
        Language(
            "ko",
            "Korean",
            "ko",
            "hangul",
            sample="안녕하세요. 오늘 저희가 주목하는 소식입니다. 과학자들이 바다의 온도에 관한 긴 "
            "연구의 새로운 결과를 발표했고, 시의 관계자들은 대중교통 계획을 논의했습니다.",
        ),
    )
}


# "AI-generated" as each language writes it: the label on every frame of every video (see
# tasks.compose.label), so a viewer who never reads a description knows
AI_LABELS: dict[str, str] = {
    "en": "AI-generated",
    "es": "Generado con IA",
    "fr": "Généré par IA",
    "de": "KI-generiert",
    "it": "Generato con IA",
    "pt": "Gerado por IA",
    "nl": "Gemaakt met AI",
    "pl": "Wygenerowane przez AI",
    "tr": "Yapay zekâ ile üretildi",
    "ru": "Создано ИИ",
    "uk": "Створено ШІ",
    "ar": "مُنشأ بالذكاء الاصطناعي",
    "fa": "ساخته‌شده با هوش مصنوعی",
    "ur": "مصنوعی ذہانت سے تیار کردہ",
    "he": "נוצר בבינה מלאכותית",
    "hi": "एआई द्वारा निर्मित",
    "zh": "AI 生成",
    "ja": "AI 生成",
    "ko": "AI 생성",
}


def ai_label(code: str) -> str:
    """The AI-generated label in the language ``code`` (English for one it does not know)."""
    head = code.strip().lower().replace("_", "-").split("-")[0]
    return AI_LABELS.get(head, AI_LABELS["en"])


def check_language(code: str) -> str:
    """The normalised code, or a ValueError that lists the supported ones."""
    c = code.strip().lower().replace("_", "-").split("-")[0]
    if c not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}: choose one of {', '.join(sorted(LANGUAGES))}")
    return c


def language(code: str) -> Language:
    return LANGUAGES[check_language(code)]


def language_of_voice(voice: str) -> Language:
    """The language an eSpeak voice speaks (``cmn+f2`` → Chinese); English when unknown."""
    base = voice.partition("+")[0].strip().lower()
    for lang in LANGUAGES.values():
        if base == lang.voice or base == lang.code:
            return lang
    head = base.split("-")[0]
    return LANGUAGES.get(head) or LANGUAGES["en"]


# --- characters -----------------------------------------------------------------------------


def is_unspaced(ch: str) -> bool:
    """A character of a script written without spaces: Han, kana, CJK punctuation, fullwidth."""
    o = ord(ch)
    return (
        0x3000 <= o <= 0x30FF  # CJK symbols and punctuation, hiragana, katakana
        or 0x31F0 <= o <= 0x31FF  # katakana extensions
        or 0x3400 <= o <= 0x4DBF  # CJK extension A
        or 0x4E00 <= o <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= o <= 0xFAFF  # compatibility ideographs
        or 0xFF00 <= o <= 0xFFEF  # fullwidth and halfwidth forms
        or 0x20000 <= o <= 0x3FFFF  # CJK extensions B onwards
    )


def is_cjk_letter(ch: str) -> bool:
    """An unspaced character that is spoken (an ideograph or kana), not punctuation."""
    return is_unspaced(ch) and unicodedata.category(ch)[0] == "L"


def join_words(words: list[str] | tuple[str, ...]) -> str:
    """Words joined as they are written: with spaces, except next to Chinese/Japanese text."""
    out = ""
    for w in words:
        if out and w and not (is_unspaced(out[-1]) or is_unspaced(w[0])):
            out += " "
        out += w
    return out


def needs_space(before: str, after: str) -> bool:
    """Whether a space separates two adjacent words on screen."""
    return bool(before and after) and not (is_unspaced(before[-1]) or is_unspaced(after[0]))


_SPACED_TOKEN = re.compile(
    r"[^\s\u3000-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+"
)


def units(text: str) -> int:
    """Spoken units of ``text``: one per Chinese/Japanese character, one per other word."""
    cjk = sum(1 for ch in text if is_cjk_letter(ch))
    words = sum(1 for m in _SPACED_TOKEN.finditer(text) if any(c.isalnum() for c in m.group()))
    return cjk + words


def cut_units(text: str, n: int) -> str:
    """The first ``n`` spoken units of ``text`` (a word or a CJK character each)."""
    count = 0
    for m in _WORD_RUN.finditer(text):
        for i, ch in enumerate(m.group()):
            if is_cjk_letter(ch):
                count += 1
                if count > n:
                    return text[: m.start() + i].rstrip()
        if any(c.isalnum() and not is_unspaced(c) for c in m.group()):
            count += 1
            if count > n:
                return text[: m.start()].rstrip()
    return text


# --- sentences ----------------------------------------------------------------------------

SENTENCE_ENDS = (".", "!", "?", "…", "。", "！", "？", "؟", "۔", "।", "｡")
COMMAS = (",", "،", "、", "，", ";", "؛", "；", ":", "：")
CLOSERS = "\"'”’»)」』）】"
# ". " then a capital/caseless letter, digit or quote; or a CJK/Arabic/Devanagari stop anywhere
_SENTENCE_SPLIT = re.compile(
    rf"(?<=[.!?…])[{CLOSERS}]*\s+(?=[^\sa-zà-ÿ])|(?<=[.!?…])[{CLOSERS}]*(?=[\u3040-\u30ff\u3400-\u9fff])"
    rf"|(?<=[。！？｡])[{CLOSERS}]*\s*|(?<=[؟۔।])[{CLOSERS}]*\s*"
)


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` in any supported script, whitespace normalised, closers kept.

    A Latin full stop ends a sentence only before a space and a character that is not a
    lowercase letter ("3.5", "e.g. the" stay whole); CJK and Arabic stops need no space.
    """
    text = re.sub(r"[^\S\u00a0\u202f]+", " ", text).strip()
    out: list[str] = []
    pos = 0
    for m in _SENTENCE_SPLIT.finditer(text):
        end = m.start() + len(m.group().rstrip())
        piece = text[pos:end].strip()
        if piece:
            out.append(piece)
        pos = m.end()
    rest = text[pos:].strip()
    if rest:
        out.append(rest)
    return out


def ends_sentence(word: str) -> bool:
    return word.rstrip(CLOSERS).endswith(SENTENCE_ENDS)


def full_stop(code: str) -> str:
    """The full stop of a language: ``。`` for Chinese/Japanese, ``۔`` for Urdu, else ``.``."""
    c = check_language(code)
    return {"zh": "。", "ja": "。", "ur": "۔", "hi": "।"}.get(c, ".")


# --- guessing the language of a text ------------------------------------------------------

# The most frequent function words of each Latin-script language, for guessing only.
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    code: frozenset(words.split())
    for code, words in {
        "en": (
            "the and of to is in that for with on was are from this has have it will by at said "
            "its were after be we you they our your there what here about"
        ),
        "es": (
            "el la los las de del que y en un una es por con para se al lo más como su según fue "
            "han ha sus algo todos este esta estas esto eso muy pero hay nos qué"
        ),
        "fr": (
            "le la les de des du et est un une que qui dans pour pas sur au aux avec ce il sont "
            "été ont une nous vous je on elle ils leur mais cette ces son sa ses"
        ),
        "de": (
            "der die das und ist nicht mit den dem ein eine zu von auf für sich im des auch "
            "wird wurde hat wir ihr sie es euch uns noch nur aber schon"
        ),
        "it": "il lo gli le di del della che è un una per con non sono nel alla ha anche dalla",
        "pt": (
            "o os as de do da dos das que é um uma para com não em no na foi são pela pelo ao "
            "isso você muito mas"
        ),
        "nl": "de het een en van is dat op te met voor niet zijn wordt ook aan door naar",
        "pl": "i w na z się nie jest że do to jak od po przez dla są został oraz",
        "tr": "ve bir bu da de ile için olarak daha çok gibi olan ama değil",
    }.items()
}
_SCRIPT_OF: tuple[tuple[str, str], ...] = (
    ("ARABIC", "arabic"),
    ("HEBREW", "hebrew"),
    ("CYRILLIC", "cyrillic"),
    ("DEVANAGARI", "devanagari"),
    ("HANGUL", "hangul"),
    ("HIRAGANA", "kana"),
    ("KATAKANA", "kana"),
    ("CJK", "han"),
    ("LATIN", "latin"),
)


def _script(ch: str) -> str | None:
    name = unicodedata.name(ch, "")
    for key, script in _SCRIPT_OF:
        if name.startswith(key) or (key == "CJK" and "IDEOGRAPH" in name):
            return script
    return None


def guess_language(text: str) -> str | None:
    """The language ``text`` is most likely in, or None when it cannot tell.

    The script decides outside the Latin alphabet (kana → ja, Hangul → ko, Han → zh,
    Hebrew → he, Arabic script → ar, Cyrillic → ru); Latin text is told apart by its
    function words and needs at least two of them.
    """
    letters = Counter(s for s in map(_script, text) if s is not None)
    if not letters:
        return None
    if letters["kana"]:
        return "ja"
    top, n = letters.most_common(1)[0]
    if n < 2:
        return None
    if top != "latin":
        return {
            "han": "zh",
            "hangul": "ko",
            "arabic": "ar",
            "hebrew": "he",
            "cyrillic": "ru",
            "devanagari": "hi",
        }.get(top)
    words = re.findall(r"[^\W\d_]+", text.lower())
    scores = {c: sum(1 for w in words if w in fw) for c, fw in FUNCTION_WORDS.items()}
    best = max(scores, key=lambda c: scores[c])
    ranked = sorted(scores.values(), reverse=True)
    if ranked[0] < 2 or ranked[0] == ranked[1]:
        return None
    return best


def same_language(guessed: str | None, target: str) -> bool:
    """Whether a guess is compatible with ``target`` (a script-level guess matches its family)."""
    if guessed is None:
        return True
    target = check_language(target)
    if guessed == target:
        return True
    g, t = LANGUAGES[guessed], LANGUAGES[target]
    # the script alone cannot tell Arabic from Persian or Urdu, nor Russian from Ukrainian
    return g.writing == t.writing and g.writing in ("arabic", "cyrillic")


_WRITING_SCRIPTS: dict[str, set[str]] = {
    "latin": {"latin"},
    "cyrillic": {"cyrillic"},
    "arabic": {"arabic"},
    "hebrew": {"hebrew"},
    "cjk": {"han", "kana"},
    "hangul": {"hangul", "han"},
    "devanagari": {"devanagari"},
}


def dominant_script(text: str) -> str | None:
    """The script most letters of ``text`` are in ("latin", "han", "arabic"...), or None."""
    letters = Counter(s for s in map(_script, text) if s is not None)
    return letters.most_common(1)[0][0] if letters else None


def language_fits(text: str, target: str) -> tuple[bool, str]:
    """Whether ``text`` can be in ``target``, and what it was taken for: the guessed
    language's code, a script name when only the script is known ("latin"), or "?"."""
    guessed = guess_language(text)
    if guessed is not None and not same_language(guessed, target):
        # a Latin name inside an Arabic or Chinese sentence does not make it Latin: the
        # target's own letters (CJK ones count double, they carry more) must be rare too
        share = _script_share(text, target)
        return (share >= 0.2 if share is not None else False), guessed
    if guessed is not None:
        return True, guessed
    share = _script_share(text, target)
    script = dominant_script(text)
    if share is None or script is None:
        return True, "?"
    return share >= 0.2, script


def _script_share(text: str, target: str) -> float | None:
    """The share of ``text``'s letters written in ``target``'s script, or None without any
    letters; Latin targets count only for non-Latin texts (Latin is shared by many)."""
    want = _WRITING_SCRIPTS[LANGUAGES[check_language(target)].writing]
    weights: Counter[str] = Counter()
    for c in text:
        s = _script(c)
        if s is not None:
            weights[s] += 2 if s in ("han", "kana", "hangul") else 1
    total = sum(weights.values())
    if not total:
        return None
    if want == {"latin"} and weights["latin"] == total:
        return None  # Latin against Latin: only function words tell (see guess_language)
    return sum(weights[s] for s in want) / total


def foreign_sentences(text: str, target: str) -> list[tuple[str, str]]:
    """The sentences of ``text`` that are recognisably in another language than ``target``,
    each with what it was taken for (a language code, or a script name)."""
    out = []
    for s in split_sentences(text):
        fits, taken = language_fits(s, target)
        if not fits:
            out.append((s, taken))
    return out


# A word runs to the next space; no-break spaces (French "monde\u202f!") stay inside it.
_WORD_RUN = re.compile(r"(?:[^\s]|[\u00a0\u202f])+")


def tokens(text: str) -> list[tuple[int, int, str]]:
    """The words of ``text`` as (start, end, word): whitespace-separated words, with each
    Chinese/Japanese character its own word. Punctuation stays on the word before it (an
    opening bracket on the word after it), so no caption line starts with a full stop."""
    out: list[tuple[int, int, str]] = []
    for m in _WORD_RUN.finditer(text):
        chunk, base = m.group(), m.start()
        if not any(is_unspaced(c) for c in chunk):
            out.append((m.start(), m.end(), chunk))
            continue
        pieces: list[list[int]] = []  # [start, end) offsets in chunk
        i, opening = 0, -1
        while i < len(chunk):
            c = chunk[i]
            if is_cjk_letter(c):
                pieces.append([opening if opening >= 0 else i, i + 1])
                opening = -1
                i += 1
            elif c.isalnum():  # a Latin word or number inside CJK text stays whole
                j = i
                while j < len(chunk) and chunk[j].isalnum() and not is_unspaced(chunk[j]):
                    j += 1
                pieces.append([opening if opening >= 0 else i, j])
                opening = -1
                i = j
            elif unicodedata.category(c) in ("Ps", "Pi") and i + 1 < len(chunk):
                opening = i if opening < 0 else opening
                i += 1
            else:  # punctuation: onto the previous piece
                if pieces:
                    pieces[-1][1] = i + 1
                else:
                    pieces.append([i, i + 1])
                i += 1
        out.extend((base + a, base + b, chunk[a:b]) for a, b in pieces)
    return out
