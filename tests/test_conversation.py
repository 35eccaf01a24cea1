"""Two-presenter conversations: the dialogue script, two voices in one track, the duo render
and a whole conversation produced through the flow."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fakes import FakeOpenAI
from items import MAYOR, TICKETS, ferry
from PIL import Image
from review_pages import manual_page
from test_omniavatar_stage import omni_env  # noqa: F401  (a fixture)

from novaavatar.domain import ContentItem, ProduceOptions, ScriptTurn, SpeechSegment, WordTiming
from novaavatar.errors import InputError, ProviderError
from novaavatar.languages import (
    FUNCTION_WORDS,
    guess_language,
    is_cjk_letter,
    join_words,
    units,
)
from novaavatar.media import iter_frames, probe
from novaavatar.providers import run_chain
from tasks.script import STYLE_FRAMES
from tasks.script.dialogue import (
    MAX_TURNS,
    MIN_TURNS,
    DialogueTemplateProvider,
    OpenAIDialogueProvider,
    check_turns,
    dialogue_frames,
    joined_text,
    parse_dialogue,
    speaker_lines,
)
from tasks.script.grounding import split_sentences, ungrounded_sentences
from tasks.script.openai_script import OpenAIScriptProvider
from tasks.speech import EspeakProvider
from tasks.speech.audio import split_sentences as speech_chunks
from tasks.speech.dialogue import (
    dia_dialogue_text,
    guest_voice_for,
    speak_dialogue,
    turn_segments,
)

pytestmark = pytest.mark.timeout(120)

ITEM = ferry(TICKETS, MAYOR)
WPS = 2.85  # eSpeak en-us at 165 wpm
TURNS = (
    ScriptTurn(speaker="host", text="Good evening. What happened at the harbour today?"),
    ScriptTurn(speaker="guest", text="The city launched its first solar powered ferry on Monday."),
    ScriptTurn(speaker="host", text="What else do we know?"),
    ScriptTurn(
        speaker="guest", text="The boat carries passengers between the port and the campus."
    ),
)


# --- script ----------------------------------------------------------------------------------


@pytest.mark.parametrize("duration", [15, 30, 60])
def test_offline_dialogue_alternates_fits_the_budget_and_only_the_guest_states_facts(
    duration: float,
) -> None:
    s = DialogueTemplateProvider().write(ITEM, "news_anchor", duration, WPS)
    check_turns(s.turns)  # alternating, host first, 4-12
    assert MIN_TURNS <= len(s.turns) <= MAX_TURNS
    assert s.text == joined_text(s.turns) and s.provider == "template-dialogue"
    assert s.word_count <= duration * WPS  # the turns' pauses come out of the budget too
    sources = [ITEM.title, ITEM.summary]
    assert ungrounded_sentences(s.text, sources, allowed=[ITEM.source]) == []
    # the host introduces and asks: no number, name or sentence of the item
    host = " ".join(speaker_lines(s, "host"))
    assert ungrounded_sentences(host, [], allowed=[ITEM.source]) == []
    item_sentences = set(split_sentences(f"{ITEM.title}. {ITEM.summary}"))
    assert not item_sentences & set(split_sentences(host))
    # the guest says the item's own sentences (extractive)
    guest = split_sentences(" ".join(speaker_lines(s, "guest")))
    facts = [g for g in guest if g in item_sentences]
    assert facts and facts[0] == f"{ITEM.title}."


def test_longer_conversations_have_more_turns_and_takes_differ() -> None:
    p = DialogueTemplateProvider()
    counts = [len(p.write(ITEM, "casual", d, WPS).turns) for d in (15, 30, 60, 90)]
    assert counts == sorted(counts) and counts[0] < counts[-1] <= MAX_TURNS
    first, second = p.write(ITEM, "casual", 30, WPS), p.write(ITEM, "casual", 30, WPS, variant=1)
    assert first.turns[0].text != second.turns[0].text
    assert speaker_lines(first, "guest") == speaker_lines(second, "guest")  # same facts


def test_typed_conversation_is_parsed_and_bad_text_is_named() -> None:
    turns = parse_dialogue(
        "Host: Good evening.\nWhat happened?\n\nguest: A ferry opened.\nHost: And?\n"
        "Guest: It is solar powered."
    )
    assert [t.speaker for t in turns] == ["host", "guest", "host", "guest"]
    assert turns[0].text == "Good evening. What happened?"
    with pytest.raises(ValueError, match="Host:"):
        parse_dialogue("Good evening, no speaker here.")
    with pytest.raises(ValueError, match="turns"):
        parse_dialogue("Host: Hi.\nGuest: Hello.")


# --- other languages -------------------------------------------------------------------------

ZH_ITEM = ContentItem.make(
    title="城市开通太阳能渡轮航线",
    url="https://news.example/zh",
    source="港口时报",
    summary=(
        "该市周一开通了首条太阳能渡轮航线。渡轮可载客一百二十人，往返于老港口和大学之间。"
        "官员表示，明年春天还将有两艘渡轮加入这条航线。票价与公交车相同。"
    ),
)
ENGLISH_WORDS = FUNCTION_WORDS["en"] | {"thank", "thanks", "what", "welcome", "story", "so"}


def _host_words(s, source: str) -> list[str]:
    host = " ".join(speaker_lines(s, "host")).replace(source, " ")
    return re.findall(r"[^\W\d_]+", host.lower())


@pytest.mark.parametrize(
    ("code", "item", "wps", "duration"),
    [
        ("es", ITEM, 2.8, 30),
        ("ar", ITEM, 2.5, 30),
        ("zh", ZH_ITEM, 4.0, 20),
        ("zh", ZH_ITEM, 4.0, 45),
    ],
)
@pytest.mark.parametrize("style", ["news_anchor", "casual", "educational"])
def test_offline_conversation_host_speaks_the_videos_language(
    code: str, item: ContentItem, wps: float, duration: float, style: str
) -> None:
    p = DialogueTemplateProvider()
    s = p.write(item, style, duration, wps, language=code)
    check_turns(s.turns)
    frame = dialogue_frames(code)[style]  # type: ignore[index]
    assert s.language == code and s.text == joined_text(s.turns)
    # the frame's opening after a greeting of the video's language (it varies per item)
    from tasks.script.greetings import KNOWN, greeted

    opening = greeted(str(frame["open"]).format(source=item.source), "")
    assert opening in s.turns[0].text
    assert split_sentences(s.turns[0].text)[0] in KNOWN or s.turns[0].text.startswith(opening)
    assert units(s.text) <= duration * wps  # words, or characters for Chinese
    words = _host_words(s, item.source)
    assert words and not set(words) & ENGLISH_WORDS, words
    for line in speaker_lines(s, "host"):
        rest = line.replace(item.source, "")
        if code == "ar":
            assert re.search(r"[\u0600-\u06ff]", rest) and not re.search(r"[A-Za-z]", rest)
        elif code == "zh":
            assert any(is_cjk_letter(c) for c in rest) and not re.search(r"[A-Za-z]", rest)
            assert rest[-1] in "。！？"  # Chinese stops, no spaces between the sentences
            assert re.search(r"[\u3040-\u9fff] [\u3040-\u9fff]", line) is None
    if code == "es":  # all the host says together reads as Spanish
        host = " ".join(speaker_lines(s, "host")).replace(item.source, "")
        assert guess_language(host) == "es", host
    # the host states no facts: none of the item's sentences, no number; the guest's lines
    # are the item's own sentences (the English item is kept as it is, and noted)
    item_sentences = set(
        split_sentences(
            f"{item.title}。{item.summary}" if code == "zh" else f"{item.title}. {item.summary}"
        )
    )
    host_sentences = set(split_sentences(" ".join(speaker_lines(s, "host"))))
    assert not item_sentences & host_sentences and not re.search(r"\d", " ".join(words))
    guest = split_sentences(join_words(speaker_lines(s, "guest")))
    assert guest and set(guest) <= item_sentences | {str(frame["thin"])}, guest
    assert (
        ungrounded_sentences(
            s.text, [item.title, item.summary], allowed=[item.source], language=code
        )
        == []
    )
    assert any("language mismatch" in n for n in p.notes) == (item is ITEM)


def test_every_framed_language_has_conversation_lines_and_takes_differ() -> None:
    from tasks.script import template_languages

    for code in template_languages():
        frames = dialogue_frames(code)
        assert frames is not None and set(frames) == set(STYLE_FRAMES), code
        for style, f in frames.items():
            assert len(f["ask"]) == 5 and all(
                f[k] for k in ("open", "thin", "close", "thanks", "cta")
            ), (code, style)  # type: ignore[arg-type]
            assert "{source}" in str(f["open"]), (code, style)
    p = DialogueTemplateProvider()
    first = p.write(ITEM, "casual", 30, 2.8, language="fr")
    second = p.write(ITEM, "casual", 30, 2.8, language="fr", variant=1)
    assert first.turns[0].text != second.turns[0].text
    assert speaker_lines(first, "guest") == speaker_lines(second, "guest")
    # no source: the newsroom is named in the video's language
    anon = ContentItem.make(title=ITEM.title, url=ITEM.url, source="", summary=ITEM.summary)
    assert "nuestra redacción" in p.write(anon, "casual", 30, 2.8, language="es").turns[0].text


def test_a_conversation_in_a_language_without_frames_is_refused_clearly() -> None:
    with pytest.raises(InputError, match=r"no frames in Korean \(ko\): choose one of en, es, fr"):
        DialogueTemplateProvider().write(ITEM, "casual", 30, 2.0, language="ko")
    with pytest.raises(InputError, match="unknown language 'xx'"):
        DialogueTemplateProvider().write(ITEM, "casual", 30, 2.0, language="xx")


# --- OpenAI ----------------------------------------------------------------------------------

GROUNDED_DIALOGUE = {
    "title": "A solar ferry for the city",
    "turns": [
        {"speaker": "host", "text": "Good evening. What happened at the harbour?"},
        {"speaker": "guest", "text": "The city launched its first solar-powered ferry on Monday."},
        {"speaker": "host", "text": "Who can ride it?"},
        {
            "speaker": "guest",
            "text": "The boat carries 120 passengers between the old port and the university.",
        },
        {"speaker": "host", "text": "Thank you. Follow for more updates."},
    ],
    "call_to_action": "Follow for more updates.",
    "scene_description": "A sunny harbour studio with two chairs.",
    "keywords": ["Ferry", "solar"],
}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as f:
        f.dialogue = dict(GROUNDED_DIALOGUE)
        yield f


def _chain(fake: FakeOpenAI) -> list:
    openai = OpenAIScriptProvider(
        fake.api_key, base_url=fake.base_url, timeout_s=2.0, max_retries=1, deadline_s=10.0
    )
    return [OpenAIDialogueProvider(openai), DialogueTemplateProvider()]


def test_openai_dialogue_is_structured_turns_through_the_sdk(fake: FakeOpenAI) -> None:
    s, used = run_chain("script", _chain(fake), lambda p: p.write(ITEM, "casual", 30, WPS))
    assert used.name == "openai-dialogue" and s.provider == "openai-dialogue"
    assert [t.speaker for t in s.turns] == ["host", "guest", "host", "guest", "host"]
    assert s.text == joined_text(s.turns) and s.ungrounded == ()
    assert s.keywords == ("ferry", "solar") and used.cost_usd > 0
    (req,) = fake.requests
    schema = req["response_format"]["json_schema"]
    assert schema["name"] == "DialogueDraft" and schema["strict"] is True
    turn = schema["schema"]["$defs"]["DialogueTurnDraft"]["properties"]["speaker"]
    assert turn["enum"] == ["host", "guest"]
    assert "alternating host and guest" in req["messages"][0]["content"]


def test_openai_dialogue_flags_invented_facts_and_merges_repeated_speakers(
    fake: FakeOpenAI,
) -> None:
    turns = [dict(t) for t in GROUNDED_DIALOGUE["turns"]]
    turns[3]["text"] = "The boat carries 500 passengers, said Admiral Nelson."
    turns.insert(2, {"speaker": "host", "text": "Interesting."})  # host twice in a row
    fake.reply({**GROUNDED_DIALOGUE, "turns": turns})
    p = _chain(fake)[0]
    s = p.write(ITEM, "news_anchor", 30, WPS)
    check_turns(s.turns)
    assert s.turns[2].text == "Interesting. Who can ride it?"
    assert len(s.ungrounded) == 1 and "500" in s.ungrounded[0] and "Nelson" in s.ungrounded[0]


def test_malformed_or_unusable_dialogue_falls_back_to_the_offline_one(fake: FakeOpenAI) -> None:
    fake.reply_content('{"title": "cut off", "turns": [{"speaker": "ho')
    s, used = run_chain("script", _chain(fake), lambda p: p.write(ITEM, "casual", 30, WPS))
    assert used.name == "template-dialogue" and s.provider == "template-dialogue"
    check_turns(s.turns)
    # a guest who opens, or too few turns, is refused the same way
    fake.reply({**GROUNDED_DIALOGUE, "turns": GROUNDED_DIALOGUE["turns"][1:]})
    with pytest.raises(ProviderError, match="starts with the host"):
        _chain(fake)[0].write(ITEM, "casual", 30, WPS)


def test_an_overlong_dialogue_is_reasked_then_trimmed_whole(fake: FakeOpenAI) -> None:
    long = "The city launched its first solar-powered ferry on Monday. " * 6
    turns = [dict(t) for t in GROUNDED_DIALOGUE["turns"]]
    turns[1]["text"] = long.strip()
    fake.reply({**GROUNDED_DIALOGUE, "turns": turns})
    fake.reply({**GROUNDED_DIALOGUE, "turns": turns})  # the re-ask is too long as well
    p = _chain(fake)[0]
    s = p.write(ITEM, "casual", 15, WPS)
    assert len(fake.requests) == 2 and any("re-asked" in n for n in p.notes)
    assert s.word_count <= 15 * WPS
    check_turns(s.turns)
    assert all(t.text.endswith((".", "?", "!")) for t in s.turns)  # whole sentences


# --- speech ----------------------------------------------------------------------------------


def _pitch_hz(x: np.ndarray, rate: int) -> float:
    """Median F0 of the voiced 40 ms frames (autocorrelation peak in 70-400 Hz)."""
    size, hop = int(0.04 * rate), int(0.01 * rate)
    found = []
    for a in range(0, x.size - size, hop):
        w = x[a : a + size] - x[a : a + size].mean()
        if np.sqrt(np.mean(w**2)) < 0.02:
            continue
        ac = np.correlate(w, w, "full")[size - 1 :]
        lo, hi = rate // 400, rate // 70
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.3 * ac[0]:
            found.append(rate / k)
    return float(np.median(found))


@pytest.fixture(scope="module")
def dialogue_speech(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("dialogue") / "speech.wav"
    guest = guest_voice_for("en-us")
    return speak_dialogue(EspeakProvider(), TURNS, "en-us", guest, 165, out), out


def test_turns_become_one_track_with_segments_in_order_and_two_voices(dialogue_speech) -> None:
    speech, wav = dialogue_speech
    assert guest_voice_for("en-us") == "en-us+f3" and guest_voice_for("en-us+f2") == "en-us+m3"
    assert guest_voice_for("en-us", "de") == "de"
    segs = speech.segments
    assert [s.speaker for s in segs] == [t.speaker for t in TURNS]
    assert segs[0].start == 0.0 and segs[-1].end == pytest.approx(speech.duration_s, abs=0.01)
    for a, b in pairwise(segs):
        assert a.start < a.end <= b.start and 0.1 < b.start - a.end < 0.6  # a short pause
    # every turn's words fall inside its segment, in order
    counts = [len(t.text.split()) for t in TURNS]
    assert len(speech.words) == sum(counts)
    k = 0
    for seg, n in zip(segs, counts, strict=True):
        for w in speech.words[k : k + n]:
            assert seg.start - 0.01 <= w.start <= w.end <= seg.end + 0.01
        k += n
    x, rate = sf.read(wav, dtype="float32")
    assert x.size / rate == pytest.approx(speech.duration_s, abs=0.01)
    pitch = {s.speaker: [] for s in segs}
    level = {s.speaker: [] for s in segs}
    for s in segs:
        part = x[int(s.start * rate) : int(s.end * rate)]
        pitch[s.speaker].append(_pitch_hz(part, rate))
        level[s.speaker].append(20 * np.log10(np.sqrt(np.mean(part**2))))
    host, guest = np.mean(pitch["host"]), np.mean(pitch["guest"])
    assert guest > 1.5 * host, (host, guest)  # two different voices
    assert abs(np.mean(level["host"]) - np.mean(level["guest"])) < 3.0  # levelled together
    assert speech.voice == "host en-us, guest en-us+f3"


def test_dia_gets_speaker_tags_at_every_chunk_and_turns_from_word_timings() -> None:
    turns = (
        ScriptTurn(speaker="host", text="Welcome. What happened?"),
        ScriptTurn(
            speaker="guest",
            text="A ferry opened. It runs on solar power. It carries many people. "
            "It crosses the harbour twice an hour.",
        ),
        ScriptTurn(speaker="host", text="Thank you."),
        ScriptTurn(speaker="guest", text="You are welcome."),
    )
    text = dia_dialogue_text(turns, max_chars=60)
    assert text.startswith("[S1] Welcome.") and text.count("[S1]") >= 2
    chunks = speech_chunks(text, 60)
    assert len(chunks) > 2 and all(c.startswith(("[S1]", "[S2]")) for c in chunks)
    # a chunk inside the guest's long turn is tagged as the guest
    assert any(c.startswith("[S2] It") for c in chunks)
    counts = [len(t.text.split()) for t in turns]
    words, t = [], 0.0
    for n in counts:
        for _ in range(n):
            words.append(WordTiming(word="w", start=t, end=t + 0.3))
            t += 0.3
        t += 0.4
    segs = turn_segments(turns, counts, tuple(words), t)
    assert [s.speaker for s in segs] == ["host", "guest", "host", "guest"]
    assert segs[1].start == pytest.approx(3 * 0.3 + 0.2, abs=1e-3)  # mid-pause
    assert segs[-1].end == t


# --- render ----------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["drawn", "portrait"])
def test_each_presenters_mouth_moves_only_in_its_own_turns(
    dialogue_speech, tmp_path: Path, layout: str
) -> None:
    from tasks.avatar.duo import make_seats, mouth_rect, render_duo, speaking_mask
    from tasks.render.photo import load_portrait, locate_face

    speech, wav = dialogue_speech
    size = (480, 270) if layout == "drawn" else (360, 640)
    portraits: tuple[Path | None, Path | None] = (None, None)
    if layout == "portrait":  # the host a photo in a panel, the guest drawn in the other
        photo = tmp_path / "host.png"
        Image.fromarray(pytest.importorskip("skimage.data").astronaut()).save(photo)
        portraits = (photo, None)
    bg = tmp_path / "bg.png"
    Image.new("RGB", size, (40, 60, 90)).save(bg)
    out = tmp_path / "duo.mp4"
    info = render_duo(
        bg, wav, speech.phonemes, speech.segments, out, size=size, fps=25, portraits=portraits
    )
    assert (info.width, info.height) == size and probe(out).has_audio
    imgs = [np.asarray(load_portrait(p)) if p else None for p in portraits]
    seats = make_seats(size, imgs, [locate_face(i) if i is not None else None for i in imgs])
    boxes = [mouth_rect(seat) for seat in seats]
    mouths: list[list[np.ndarray]] = [[], []]
    for gray in iter_frames(out, gray=True):  # the mouth boxes only: little memory
        for k, (x0, y0, x1, y1) in enumerate(boxes):
            mouths[k].append(gray[y0:y1, x0:x1].astype(np.float32))
    times = (np.arange(1, len(mouths[0])) + 0.5) / 25
    assert [s.speaker for s in seats] == ["host", "guest"]
    for seat, crops in zip(seats, mouths, strict=True):
        motion = np.abs(np.diff(np.stack(crops), axis=0)).mean(axis=(1, 2))
        own = speaking_mask(speech.segments, seat.speaker, times)
        other = speaking_mask(speech.segments, "guest" if seat.speaker == "host" else "host", times)
        r_own = np.corrcoef(motion, own)[0, 1]
        r_other = np.corrcoef(motion, other)[0, 1]
        assert r_own > 0.35 and r_other < -0.35, (seat.speaker, r_own, r_other)
        assert motion[own].mean() > 5 * motion[other].mean()


def test_a_photo_presenter_breathes_while_the_other_speaks(dialogue_speech, tmp_path: Path) -> None:
    """The conversation uses the solo animator's breathing: a photo host's shoulders rise
    through the guest's turns (a listener breathes), the drawn guest has no body to lift."""
    from tasks.avatar.duo import plan_duo, speaking_mask

    speech, _ = dialogue_speech
    photo, bg = tmp_path / "host.png", tmp_path / "bg.png"
    Image.fromarray(pytest.importorskip("skimage.data").astronaut()).save(photo)
    Image.new("RGB", (360, 640), (40, 60, 90)).save(bg)
    plan = plan_duo(
        bg,
        speech.phonemes,
        speech.segments,
        speech.duration_s,
        size=(360, 640),
        fps=25,
        seed=0,
        portraits=(photo, None),
    )
    host, guest = plan.seats
    levels = plan.breaths[0]
    times = (np.arange(len(levels)) + 0.5) / 25
    listening = speaking_mask(speech.segments, "guest", times)
    assert levels[listening].max() >= 3 and levels[:12].max() == 0  # breathes in as it listens
    (x, y, still), (x2, y2, lifted) = host.body(0), host.body(int(levels.max()))
    assert (x, y) == (x2, y2) and np.abs(still.astype(int) - lifted.astype(int)).max() > 20
    assert guest.body(3) is None


def test_both_looks_differ_and_every_aspect_keeps_faces_apart() -> None:
    from tasks.avatar.duo import compose_seats, make_seats

    for size in ((1280, 720), (720, 1280), (1080, 1080)):
        seats = make_seats(size)
        base = compose_seats(np.full((size[1], size[0], 3), 80, np.uint8), seats)
        (hx, hy), (gx, gy) = seats[0].face, seats[1].face
        assert hx < size[0] / 2 < gx and abs(hy - gy) < 1
        assert 0.25 * size[1] < hy < 0.6 * size[1]  # between the title and the captions
        # the jackets differ in colour: the guest is another person
        a = seats[0].presenter.a
        y, dx = min(size[1] - 2, int(hy + 3.0 * a)), int(1.5 * a)
        host_col, guest_col = base[y, int(hx) + dx].astype(int), base[y, int(gx) + dx].astype(int)
        assert np.abs(host_col - guest_col).sum() > 80, (size, host_col, guest_col)


# --- the whole flow --------------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_conversation_is_produced_offline_into_the_review_queue(store) -> None:
    from flows.produce import produce_video
    from flows.scrape import scrape_content
    from novaavatar import manifests
    from novaavatar.domain import ReviewState

    item_id = scrape_content(sample=True, limit=3)[0].id
    vid = produce_video(
        item_id, options=ProduceOptions(format="conversation", duration_s=15, aspect="16:9")
    )
    m, _ = manifests.load(store, vid)
    assert m.state is ReviewState.PENDING and m.options.format == "conversation"
    assert m.script is not None and m.script.provider == "template-dialogue"
    check_turns(m.script.turns)
    assert m.stages["avatar"].provider == "lite"
    assert "host and guest" in m.stages["avatar"].detail
    assert m.quality is not None and m.quality.passed, m.quality.failed
    assert "host en-us, guest en-us+f3" in m.stages["speech"].detail


def test_the_api_and_the_manual_flow_take_a_conversation() -> None:
    from pydantic import ValidationError

    from api.schemas import GenerateRequest
    from flows.manual import _conversation_turns
    from novaavatar.errors import InputError

    req = GenerateRequest(title="T", format="conversation", guest_voice="en-gb+f2")
    assert req.format == "conversation" and req.guest_voice == "en-gb+f2"
    with pytest.raises(ValidationError, match="format"):
        GenerateRequest(title="T", format="podcast")
    with pytest.raises(ValidationError, match="guest_voice"):
        GenerateRequest(title="T", guest_voice="not a voice!")
    text = "Host: Hello.\nGuest: Hi.\nHost: What happened?\nGuest: A ferry opened."
    assert len(_conversation_turns(text, None)) == 4
    with pytest.raises(InputError, match="not from one uploaded audio"):
        _conversation_turns(text, "uploads/a.wav")
    with pytest.raises(InputError, match="conversation text.*Host:"):
        _conversation_turns("Just one voice talking.", None)


@pytest.mark.usefixtures("omni_env")
def test_omniavatar_animates_each_speaker_and_the_panels_are_composited(
    store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from novaavatar.settings import get_settings

    monkeypatch.setenv("AVATAR_FPS", "10")  # fewer frames: the tiny model's decode is slow on CPU
    get_settings.cache_clear()
    from novaavatar.domain import GeneratedAudio, GeneratedImage, ProduceOptions, RenderConfig
    from tasks.common import read_stage_records
    from tasks.stages import render_avatar

    bg, wav = tmp_path / "bg.png", tmp_path / "s.wav"
    Image.new("RGB", (256, 144), (40, 60, 90)).save(bg)
    t = np.arange(int(16000 * 0.6)) / 16000
    tone = np.where(t < 0.3, np.sin(2 * np.pi * 140 * t), np.sin(2 * np.pi * 260 * t))
    sf.write(wav, (0.3 * tone).astype(np.float32), 16000)
    segs = (
        SpeechSegment(start=0.0, end=0.3, speaker="host"),
        SpeechSegment(start=0.3, end=0.6, speaker="guest"),
    )
    image = GeneratedImage(key=store.put_file("videos/vid-duo01/bg.png", bg), width=256, height=144)
    audio = GeneratedAudio(
        key=store.put_file("videos/vid-duo01/s.wav", wav), duration_s=0.6, segments=segs
    )
    options = ProduceOptions(aspect="16:9", format="conversation")
    video = render_avatar.fn(image, audio, options, "vid-duo01", RenderConfig(store_uri=store.uri))
    record = read_stage_records(store, "vid-duo01")["avatar"]
    assert video.provider == record.provider == "omniavatar", record.detail
    assert "per speaker" in record.detail
    info = probe(store.materialize(video.key))
    assert (info.width, info.height) == (256, 144) and info.has_audio
    assert abs(info.duration_s - 0.6) < 0.15


def test_the_review_page_starts_a_typed_conversation(
    store, monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> None:
    pytest.importorskip("streamlit")
    from novaavatar.service import jobs as actions

    at, started = manual_page(monkeypatch, prefect_server)
    assert not at.exception, at.exception
    at.text_input(key="manual_title").input("Ferry talk")
    at.toggle(key="manual_conversation").set_value(True).run()
    assert not [r for r in at.radio if r.key == "manual_mode"]  # text only
    at.text_input(key="manual_guest_voice").input("en-gb+f2")
    text = "Host: What happened?\nGuest: A ferry opened.\nHost: And?\nGuest: It is solar."
    at.text_area(key="manual_dialogue").input(text).run()
    next(b for b in at.button if b.label == "Create video").click().run()
    actions.wait_all(timeout=10)
    (params,) = started
    options = params["options"]
    assert options["format"] == "conversation" and options["guest_voice"] == "en-gb+f2"
    assert params["text"] == text and "guest_portrait_key" not in options


def test_the_produce_deployments_take_the_options_as_one_typed_object() -> None:
    import yaml
    from prefect.utilities.callables import parameter_schema

    from flows.produce import produce_batch, produce_video

    spec = yaml.safe_load((Path(__file__).resolve().parents[1] / "prefect.yaml").read_text())
    entrypoints = {d["entrypoint"] for d in spec["deployments"]}
    assert {"flows/produce.py:produce_video", "flows/produce.py:produce_batch"} <= entrypoints
    for flow_fn in (produce_video, produce_batch):
        schema = parameter_schema(flow_fn.fn).model_dump()
        assert "format" not in schema["properties"], flow_fn.name  # not loose parameters
        options = schema["definitions"]["ProduceOptions"]["properties"]
        assert {"format", "guest_voice", "language", "template"} <= set(options), flow_fn.name


def test_openai_tts_speaks_each_turn_in_its_own_voice(tmp_path: Path) -> None:
    from fakes_tts import KEY, fake_openai_tts

    from tasks.speech.audio import native_wav_path
    from tasks.speech.openai_tts import OpenAITTSOptions, OpenAITTSProvider

    out = tmp_path / "speech.wav"
    with fake_openai_tts() as fake:
        opts = OpenAITTSOptions(api_key=KEY, base_url=fake.url, timeout_s=5.0, voice="alloy")
        speech = speak_dialogue(
            OpenAITTSProvider(opts), TURNS, "en-us", guest_voice_for("en-us"), 165, out
        )
    voices = [r["voice"] for r in fake.requests]
    assert voices[0] == voices[2] == "alloy" and voices[1] == voices[3] != "alloy"
    assert [r["input"] for r in fake.requests] == [t.text for t in TURNS]
    assert [s.speaker for s in speech.segments] == ["host", "guest", "host", "guest"]
    assert speech.voices[0].endswith(":alloy") and speech.voices[1].endswith(f":{voices[1]}")
    native, rate = sf.read(native_wav_path(out), dtype="float32")
    assert rate == 24_000 and native.size / rate == pytest.approx(speech.duration_s, abs=0.05)


def test_dia_speaks_the_whole_conversation_with_its_speaker_tags(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    import torch
    from test_speech_dia import TOKENS, build_tiny_dia

    from tasks.speech.dia import DiaOptions, DiaProvider

    said: list[str] = []

    class Recording(DiaProvider):
        def speak(self, text: str, voice: str, speed: int, out_wav: Path):  # type: ignore[no-untyped-def]
            said.append(text)
            return super().speak(text, voice, speed, out_wav)

    model = build_tiny_dia(tmp_path_factory.mktemp("dia") / "Dia-tiny")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model's ops only contend across threads
    try:
        dia = Recording(DiaOptions(model_path=model, device="cpu", max_new_tokens=TOKENS, seed=7))
        speech = speak_dialogue(dia, TURNS, "en-us", "en-us+f3", 165, tmp_path / "speech.wav")
    finally:
        torch.set_num_threads(threads)
    (text,) = said  # one generation for the whole conversation
    assert text.startswith("[S1] Good evening.") and text.count("[S2]") == 2
    assert [s.speaker for s in speech.segments] == ["host", "guest", "host", "guest"]
    bounds = [s.start for s in speech.segments] + [speech.segments[-1].end]
    assert bounds == sorted(bounds) and bounds[0] == 0 and bounds[-1] == speech.duration_s
    assert speech.voices == ("dia:seed7:S1", "dia:seed7:S2")


@pytest.mark.parametrize(
    "aspect, photo", [("16:9", False), ("1:1", False), ("9:16", False), ("9:16", True)]
)
def test_the_name_tags_stay_clear_of_the_brands_lower_third(
    tmp_path: Path, aspect: str, photo: bool
) -> None:
    """The lower third is drawn over the presenters; in the 16:9 studio it used to cover the
    host's "Host" tag. A tag under it moves just below (or above) it."""
    from novaavatar.domain import ASPECT_SIZES
    from novaavatar.templates import Brand, resolve
    from tasks.avatar.duo import _lower_third, make_seats, name_tags
    from tasks.compose.video import FrameOverlay
    from tasks.render.photo import locate_face

    size = ASPECT_SIZES[aspect]
    host = pytest.importorskip("skimage.data").astronaut() if photo else None
    seats = make_seats(size, [host, None], [locate_face(host) if photo else None, None])
    brand = Brand(template=resolve("news"), source="NovaAvatar Sample Newswire", date="9 Mar")
    box = _lower_third(FrameOverlay((), *size, brand=brand))
    assert box is not None
    ax, ay, aw, ah = box
    clear = name_tags(seats, size, ("Host", "Guest"), box)
    for tag in clear:
        img = tag[0]
        x, y, th, tw = img.x, img.y, *img.y_keep.shape
        assert not (x < ax + aw and ax < x + tw and y < ay + ah and ay < y + th), (x, y)
        assert y >= 0 and y + th <= size[1]
    if aspect == "16:9":  # there the host's tag lay under the lower third and has moved
        assert name_tags(seats, size, ("Host", "Guest"))[0][0].y != clear[0][0].y
