"""Videos in many languages: scripts, voices, and right-to-left / CJK captions drawn right."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from items import ferry
from PIL import Image, ImageDraw, features
from review_pages import manual_page

from novaavatar.domain import ContentItem, ProduceOptions, WordTiming
from novaavatar.languages import (
    LANGUAGES,
    foreign_sentences,
    guess_language,
    split_sentences,
    tokens,
    units,
)
from tasks.compose import text as T
from tasks.compose.captions import build_captions, to_srt, to_vtt
from tasks.compose.text import title_lines
from tasks.compose.video import (
    CaptionPainter,
    FrameOverlay,
    line_layout,
    render_title,
    wrap_words,
)

ARABIC = "مساء الخير إليكم آخر الأخبار من المدينة اليوم"
HEBREW = "ערב טוב לכולם אלה החדשות האחרונות מהעיר הגדולה"
CHINESE = "晚上好。该市周一开通了首条太阳能渡轮航线，可载客一百二十人，往返于老港口和大学之间。"
JAPANESE = "こんばんは。東京で新しいフェリーが運航を始めました。"
ITEM = ferry()
LAYOUTS = ["raqm", "basic"]


@pytest.fixture(params=LAYOUTS)
def layout(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Draw with Pillow's raqm layout (where present) and with the basic layout that a
    machine without FriBiDi gets (python-bidi + arabic-reshaper do the work there)."""
    if request.param == "raqm" and not (features.check("raqm") and features.check("fribidi")):
        pytest.skip("Pillow has no raqm layout here")
    monkeypatch.setattr(T, "FORCE_BASIC_LAYOUT", request.param == "basic")
    yield request.param


def words_of(text: str, step: float = 0.3) -> list[WordTiming]:
    return [
        WordTiming(word=t, start=round(i * step, 3), end=round(i * step + 0.25, 3))
        for i, (_, _, t) in enumerate(tokens(text))
    ]


def ink(img: np.ndarray) -> np.ndarray:
    """Pixels of a premultiplied RGBA caption that are text, not the dark box."""
    return img[..., :3].astype(int).max(axis=2) > 150


def word_box(painter: CaptionPainter, caption, index: int) -> tuple[float, float]:
    """Where word ``index`` is drawn: the pixels that change when it is highlighted."""
    plain, _, _ = painter.render(caption, -1)
    lit, _, _ = painter.render(caption, index)
    diff = np.abs(plain.astype(int) - lit.astype(int)).sum(axis=2) > 60
    ys, xs = np.nonzero(diff)
    assert xs.size, f"word {index} ({caption.words[index].word!r}) was not drawn"
    return float(xs.mean()), float(ys.mean())


def glyph(ch: str, font) -> np.ndarray:
    im = Image.new("L", (96, 96))
    ImageDraw.Draw(im).text((8, 8), ch, font=font, fill=255)
    return np.asarray(im) > 0


# --- fonts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, sample",
    [
        ("en", "Breaking news"),
        ("ru", "Последние новости"),
        ("ar", ARABIC),
        ("he", HEBREW),
        ("zh", CHINESE),
        ("ja", JAPANESE),
        ("ko", "오늘의 뉴스입니다"),
        ("hi", "शुभ संध्या"),
    ],
    ids=["en", "ru", "ar", "he", "zh", "ja", "ko", "hi"],
)
def test_a_bundled_font_draws_every_character_of_each_script(code: str, sample: str) -> None:
    font = T.font_for(sample, 48)
    assert T.covers(font, sample), f"{code}: {font.path} lacks glyphs"
    tofu = glyph("\U0010fffd", font)  # a private-use code point: the font's .notdef box
    for ch in {c for c in sample if not c.isspace()}:
        assert not np.array_equal(glyph(ch, font), tofu), f"{ch!r} draws as a tofu box"


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_every_languages_words_and_ai_label_draw_without_a_tofu_box(code: str) -> None:
    """Each language's reference sentence and its AI-generated label: one font covers them
    (Urdu's heh goal and yeh barree come from the Noto Sans Arabic wheel)."""
    from novaavatar.languages import ai_label

    for text in (LANGUAGES[code].sample, ai_label(code)):
        font = T.font_for(text, 48)
        assert T.covers(font, text), f"{code}: {font.path} lacks glyphs for {text!r}"
        tofu = glyph("\U0010fffd", font)
        for ch in {c for c in text if not c.isspace() and ord(c) > 0x7F}:
            assert not np.array_equal(glyph(ch, font), tofu), f"{code}: {ch!r} is a tofu box"


def test_a_brand_font_without_the_glyphs_falls_back_to_one_with_them() -> None:
    latin = T.choose_font_file("Aa")
    assert latin is not None
    font = T.font_for(CHINESE, 40, family=latin.path)
    assert T.covers(font, CHINESE) and font.path != latin.path
    assert T.font_for("Plain English", 40, family=latin.path).path == latin.path
    with pytest.raises(ValueError, match="does not exist"):
        T.font_for("x", 40, family="/nowhere/brand.ttf")


# --- right to left ----------------------------------------------------------------------


def test_arabic_letters_are_joined(layout: str) -> None:
    font = T.font_for(ARABIC, 48)
    word = "السلام"
    if layout == "basic":  # reshaped to the joining presentation forms
        assert any(0xFE70 <= ord(c) <= 0xFEFF for c in T.shaped(word, font))
    joined = T.text_width(font, word)
    apart = T.text_width(font, "\u200c".join(word))  # ZWNJ: the same letters, unjoined
    assert joined < apart * 0.85


@pytest.mark.parametrize("text", [ARABIC, HEBREW], ids=["arabic", "hebrew"])
def test_rtl_caption_reads_right_to_left_and_lines_sit_flush_right(layout: str, text: str) -> None:
    painter = CaptionPainter(360, 640)
    cap = build_captions(words_of(text), max_chars=200, max_words=20)[0]
    img, _, _ = painter.render(cap, -1)
    _, lines = painter.layout(cap)
    assert len(lines) >= 2, "the sample should wrap"
    # the first word of the caption is at the right end of its line, the next one left of it
    first, second, last = (word_box(painter, cap, i) for i in (0, 1, len(cap.words) - 1))
    assert first[0] > second[0]
    assert first[1] < last[1]  # and the last word is on a lower line
    # every line ends at the same right edge (right-aligned), but starts where it may
    rows = ink(img)
    bands = np.array_split(np.arange(img.shape[0]), len(lines) * 2 + 1)[1::2]
    rights = [np.nonzero(rows[b].any(axis=0))[0].max() for b in bands]
    assert max(rights) - min(rights) <= 6, rights
    # wrapping keeps reading order: line one holds the first words
    assert [i for i, _ in lines[0]] == list(range(len(lines[0])))


def test_a_latin_name_inside_arabic_keeps_its_own_order(layout: str) -> None:
    words = words_of("قال Harbor Times اليوم")
    painter = FrameOverlay([*words, *words_of(ARABIC)], 720, 1280).painter
    assert painter.rtl  # the video's direction, from all its words
    cap = build_captions(words, max_chars=200)[0]
    xs = [word_box(painter, cap, i)[0] for i in range(4)]
    # on screen, left to right: اليوم | Harbor Times | قال
    assert xs[3] < xs[1] < xs[2] < xs[0]


def test_rtl_title_sits_on_the_right() -> None:
    from tasks.compose.text import ACCENT

    img, x, _ = render_title("عبارة شمسية جديدة", 720, 1280)  # type: ignore[misc]
    assert x + img.shape[1] > 720 * 0.9 and x > 720 * 0.3
    h = img.shape[0] // 2
    assert tuple(img[h, -2, :3]) == ACCENT and tuple(img[h, 1, :3]) != ACCENT  # stripe: right
    _, lx, _ = render_title("Solar ferry line opens", 720, 1280)  # type: ignore[misc]
    assert lx < 720 * 0.1


# --- Chinese and Japanese ---------------------------------------------------------------


@pytest.mark.parametrize("text", [CHINESE, JAPANESE], ids=["chinese", "japanese"])
def test_cjk_captions_join_without_spaces_and_wrap_between_characters(text: str) -> None:
    caps = build_captions(words_of(text))
    assert "".join(c.text for c in caps) == text  # nothing added, nothing lost
    assert all(" " not in c.text for c in caps)
    assert all(len(c.text) <= 18 for c in caps)  # 32 columns: 16 characters, a stop over
    assert not any(c.text[0] in "。，、！？" for c in caps)  # no line starts with a stop
    painter = CaptionPainter(360, 640)
    for cap in caps:
        font, lines = painter.layout(cap)
        shown = ["".join(t for _, t in ln) for ln in lines]
        assert "".join(shown) == cap.text and not any("-" in s for s in shown)
        for ln in lines:  # no space is inserted between the characters of a line
            _, width = line_layout(ln, font, False)
            assert width == pytest.approx(sum(T.text_width(font, t) for _, t in ln))
            assert width <= painter.max_text_w + 1


def test_a_long_cjk_word_wraps_at_characters_keeping_stops_with_them() -> None:
    font = T.font_for(CHINESE, 40)
    lines = wrap_words([CHINESE], font, 300)
    pieces = [t for ln in lines for _, t in ln]
    assert "".join(pieces) == CHINESE and len(pieces) > 2
    assert not any(p[0] in "。，" for p in pieces)


# --- caption files ----------------------------------------------------------------------


def test_srt_and_vtt_keep_logical_order_in_utf8() -> None:
    caps = build_captions(words_of("مساء الخير. إليكم آخر الأخبار"))
    srt, vtt = to_srt(caps), to_vtt(caps)
    assert "مساء الخير." in srt and "إليكم آخر الأخبار" in vtt  # reading order, not visual
    assert srt.encode("utf-8").decode("utf-8") == srt
    assert not re.search("[\u200e\u200f\u202a-\u202e]", srt + vtt)  # no bidi controls
    zh = to_srt(build_captions(words_of(CHINESE)))
    assert "晚上好。" in zh and "晚 上" not in zh


# --- scripts ----------------------------------------------------------------------------


def test_sentences_split_in_every_script() -> None:
    assert split_sentences("今天很好。我们去公园，好吗？好的！") == [
        "今天很好。",
        "我们去公园，好吗？",
        "好的！",
    ]
    assert split_sentences("مرحبا بكم. هل أنتم بخير؟ نعم، شكرا۔ وداعا") == [
        "مرحبا بكم.",
        "هل أنتم بخير؟",
        "نعم، شكرا۔",
        "وداعا",
    ]
    assert split_sentences("It costs 3.5 dollars. Then e.g. more.") == [
        "It costs 3.5 dollars.",
        "Then e.g. more.",
    ]
    assert units("今天很好。AI news") == 6 and units("Hello, world!") == 2


@pytest.mark.parametrize("code", ["es", "fr", "de", "ar", "zh", "ja"])
@pytest.mark.parametrize("style", ["news_anchor", "casual", "professional"])
def test_offline_script_in_another_language_frames_it_and_notes_the_mismatch(
    code: str, style: str
) -> None:
    from datetime import UTC, datetime

    from tasks.script import FRAMES, TemplateScriptProvider
    from tasks.script.greetings import greeted, greeting

    wps = 3.0 if LANGUAGES[code].spaced else 6.0
    evening = datetime(2026, 3, 10, 19, 30, tzinfo=UTC)
    provider = TemplateScriptProvider(clock=lambda: evening)
    s = provider.write(ITEM, style, 20, wps, language=code)
    frame = FRAMES[code][style]
    assert s.language == code
    hello = greeting(f"{ITEM.id}:0", style, code, evening)
    opening = greeted(str(frame["open"]).format(source="Harbor Times"), hello)
    assert s.text.startswith(opening) or s.text.startswith(opening.removeprefix(hello).strip())
    assert s.text.endswith(str(frame["cta"])) and s.call_to_action == frame["cta"]
    assert units(s.text) <= 20 * wps
    assert "City opens solar-powered ferry line." in s.text  # the facts, untranslated
    assert any("language mismatch" in n for n in provider.notes), provider.notes
    assert foreign_sentences(s.text, code), "the English facts are not in the target language"
    framed = [str(frame["open"]), str(frame["close"]), str(frame["cta"]), hello]
    for line in framed:  # the frame's own lines end with the language's own stops
        if code in ("zh", "ja"):
            assert line[-1] in "。！？" and "." not in line
        assert guess_language(line.format(source="")) in (code, None)
    if code in ("zh", "ja"):
        assert re.search(r"[\u3040-\u9fff] [\u3040-\u9fff]", s.text) is None  # no spaces


def test_offline_script_in_the_items_own_language_has_no_mismatch() -> None:
    from tasks.script import TemplateScriptProvider, keywords_of

    zh = ContentItem.make(
        title="城市开通太阳能渡轮航线",
        url="https://news.example/zh",
        source="港口时报",
        summary="该市周一开通了首条太阳能渡轮航线。渡轮可载客一百二十人，往返于老港口和大学之间。",
    )
    provider = TemplateScriptProvider()
    s = provider.write(zh, "news_anchor", 30, 3.3, language="zh")
    assert provider.notes == [] and not foreign_sentences(s.text, "zh")
    assert "城市开通太阳能渡轮航线。" in s.text and "该市周一开通了首条太阳能渡轮航线。" in s.text
    assert units(s.text) <= 30 * 3.3
    assert "渡轮" in keywords_of(zh)


def test_offline_script_refuses_a_language_it_has_no_frames_for() -> None:
    from novaavatar.errors import InputError
    from tasks.script import TemplateScriptProvider

    with pytest.raises(InputError, match="no frames in Korean"):
        TemplateScriptProvider().write(ITEM, "casual", 20, 2.0, language="ko")


def test_grounding_checks_numbers_across_languages_but_not_translated_names() -> None:
    from tasks.script.grounding import ungrounded_sentences

    sources = [ITEM.title, ITEM.summary]
    zh = ungrounded_sentences("渡轮可载客120人。渡轮可载客150人。", sources, language="zh")
    assert [f.unsupported for f in zh] == [("150",)]
    ar = ungrounded_sentences("يحمل القارب ١٢٠ راكبا. وقال إن ٥٠٠ آخرين.", sources, language="ar")
    assert [f.unsupported for f in ar] == [("٥٠٠",)]
    es = ungrounded_sentences(
        "Londres anunció el servicio. Lleva 120 pasajeros.", sources, language="es"
    )
    assert es == []  # "Londres" is a translation, not an invented name


# --- speech -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "voice, text",
    [
        ("cmn", "今天天气很好。我们去公园散步，好吗？"),
        ("ar", "مرحبا بكم. هذه آخر الأخبار من المدينة؟"),
    ],
    ids=["chinese", "arabic"],
)
def test_espeak_speaks_cjk_and_arabic_with_word_timings(voice: str, text: str) -> None:
    from tasks.speech import espeak

    speech = espeak.synthesize(text, voice)
    assert speech.duration_s > 1.0 and float(np.abs(speech.samples).max()) > 0.05
    words = speech.words
    assert [w for w, _, _ in words] == [t for _, _, t in tokens(text)]
    starts = [a for _, a, _ in words]
    assert starts == sorted(starts) and all(b > a for _, a, b in words)
    assert words[-1][2] <= speech.duration_s + 0.01
    caps = build_captions([WordTiming(word=w, start=a, end=b) for w, a, b in words])
    assert "".join(c.text for c in caps).replace(" ", "") == text.replace(" ", "")
    if voice == "cmn":  # one caption word per character, punctuation kept on it
        assert all(units(w) == 1 for w, _, _ in words)


def test_speaking_rate_counts_characters_for_chinese() -> None:
    from tasks.speech import espeak

    zh, en = espeak.words_per_second("cmn"), espeak.words_per_second("en-us")
    assert 2.0 < zh < 6.0 and 1.5 < en < 4.5  # characters/s and words/s: each near speech


def test_english_only_speech_providers_step_aside_for_other_languages() -> None:
    from tasks import speech

    class EnglishOnly:
        name = "dia"

        def available(self) -> bool:
            return True

    chain = [EnglishOnly(), speech.EspeakProvider()]
    kept, notes = speech.for_language(chain, "ar")  # type: ignore[arg-type]
    assert [p.name for p in kept] == ["espeak-ng"] and "English only" in notes[0]
    assert speech.for_language(chain, "en") == (chain, [])  # type: ignore[arg-type]
    assert "kana only" in speech.speech_notes("espeak-ng", "ja", JAPANESE)[0]


# --- through the pipeline ---------------------------------------------------------------


def test_openai_script_comes_back_in_the_language_asked_for(
    storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakes import FakeOpenAI

    from novaavatar.domain import ProduceOptions, video_id_for
    from novaavatar.settings import get_settings
    from tasks.pipeline import render_config
    from tasks.stages import write_script

    with FakeOpenAI() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        get_settings.cache_clear()
        for code, marker in (("es", "Buenas noches"), ("ar", "مساء الخير"), ("zh", "晚上好")):
            options = ProduceOptions(language=code, duration_s=20)
            script = write_script.fn(ITEM, options, video_id_for(ITEM, options), render_config())
            assert script.provider == "openai" and script.language == code
            assert script.text.startswith(marker) and not foreign_sentences(script.text, code)
            system = fake.requests[-1]["messages"][0]["content"]
            assert f"language code {code}" in system and LANGUAGES[code].name in system
        assert options.voice == "cmn"
    get_settings.cache_clear()


@pytest.mark.usefixtures("prefect_harness")
def test_one_english_item_becomes_three_language_versions(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.produce import produce_batch
    from novaavatar import manifests
    from novaavatar.settings import get_settings

    monkeypatch.setenv("AVATAR_FPS", "10")  # a quick render: this test is about languages
    get_settings.cache_clear()
    store.put_json(f"items/{ITEM.id}.json", ITEM.model_dump(mode="json"))
    videos = produce_batch(
        options=ProduceOptions(duration_s=15, aspect="16:9"),
        item_ids=[ITEM.id],
        languages=["es", "ar", "zh"],
    )
    assert len(set(videos)) == 3
    seen = {}
    for vid in videos:
        m, _ = manifests.load(store, vid)
        assert m.final is not None and m.quality is not None and m.script is not None
        code = m.options.language
        seen[code] = m.options.voice
        assert m.script.language == code
        assert "language mismatch" in m.stages["script"].detail
        check = next(c for c in m.quality.checks if c.name == "language")
        assert not check.passed and "cannot translate" in check.detail
        label = next(c for c in m.quality.checks if c.name == "ai_label")
        assert label.passed, label  # drawn in the video's language, found in its frames
        srt = store.get_bytes(m.final.srt_key).decode("utf-8")
        first = srt.split("\n")[2]  # the first cue: the script's first words, reading order
        assert m.script.text.startswith(first) and first.split()[0] in m.script.text.split()[0]
    assert seen == {"es": "es", "ar": "ar", "zh": "cmn"}
    get_settings.cache_clear()


def test_the_api_and_manual_creation_take_a_language() -> None:
    from pydantic import ValidationError

    from api.schemas import GenerateRequest

    assert GenerateRequest(title="T", language="AR").language == "ar"
    assert GenerateRequest(title="T").language is None  # unset: the template's, then "en"
    with pytest.raises(ValidationError, match="unknown language 'xx': choose one of ar, de"):
        GenerateRequest(title="T", language="xx")


@pytest.mark.usefixtures("prefect_harness")
def test_manual_creation_refuses_an_unknown_language(store) -> None:
    from novaavatar.errors import InputError
    from novaavatar.service import production

    with pytest.raises(InputError, match="unknown language 'klingon'"):
        production.options_from({"language": "klingon"})


def test_the_manual_page_starts_a_video_in_the_chosen_language(
    store, monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> None:
    from novaavatar.service import jobs as actions

    at, started = manual_page(monkeypatch, prefect_server)
    assert not at.exception, at.exception
    at.selectbox(key="manual_language").set_value("ar")
    at.text_input(key="manual_title").input("أخبار المساء")
    at.text_area(key="manual_text").input("مساء الخير. هذه آخر الأخبار.").run()
    next(b for b in at.button if b.label == "Create video").click().run()
    actions.wait_all(timeout=10)
    assert started and started[0]["options"]["language"] == "ar"


def test_speech_from_another_tts_is_aligned_per_chinese_character() -> None:
    """OpenAI TTS and Dia audio get their word timings by alignment: in Chinese, per character."""
    import soxr

    from tasks.speech import espeak
    from tasks.speech.align import align

    text = "今天天气很好。我们去公园散步。"
    other = espeak.synthesize(text, "cmn", rate_wpm=200)  # stands in for another engine's voice
    samples = soxr.resample(other.samples, other.sample_rate, 16000)
    timed = align(text, samples, 16000, voice="cmn")
    assert [w.word for w in timed.words] == [t for _, _, t in tokens(text)]
    starts = [w.start for w in timed.words]
    assert starts == sorted(starts) and timed.words[-1].end <= len(samples) / 16000 + 0.01
    # the reference pace is counted in characters, so the two tracks are of similar length
    assert 120 <= timed.reference_wpm <= 300


def test_title_lines_wrap_chinese_between_characters_and_cut_to_fit() -> None:
    """One wrap for every title (title bar, scene card, intro card): Chinese wraps between
    characters with no hyphen or space added, and a cut last line still fits with its "…"."""
    font = T.font_for(CHINESE, 40)
    full = title_lines(CHINESE, font, 300, max_lines=99)
    assert len(full) > 2 and "".join(full) == CHINESE
    assert all(T.text_width(font, line) <= 300 for line in full)
    cut = title_lines(CHINESE, font, 300, max_lines=2)
    assert cut[0] == full[0] and cut[1].endswith("…")
    assert all(T.text_width(font, line) <= 300 for line in cut)
    english = "Harbour city opens its first solar-powered ferry line, officials said."
    lines = title_lines(english, T.font_for(english, 40), 320, max_lines=2)
    assert lines[1].endswith("…") and not lines[1].endswith((",…", ".…"))
