"""Explainers: 1-5 minute videos told in titled scenes, each over its own background.

Scene scripts (offline and OpenAI through the real SDK against the loopback fake), one
background per scene, scene segments in the speech, the lite renderer's transitions
(pixels checked in the background away from the presenter), chapters in the MP4, and one
60 s explainer through the produce flow to the review queue.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeOpenAI, FakeReplicate
from PIL import Image
from review_pages import manual_page

from novaavatar.domain import (
    Chapter,
    ContentItem,
    ProduceOptions,
    ScriptScene,
    SpeechSegment,
    WordTiming,
)
from novaavatar.errors import InputError, ProviderError
from novaavatar.media import extract_frame, probe
from novaavatar.providers import run_chain
from tasks.background import ProceduralBackgroundProvider
from tasks.background.scenes import make_scene_backgrounds
from tasks.script import STYLE_FRAMES, keywords_of, sentences
from tasks.script.grounding import split_sentences, ungrounded_sentences
from tasks.script.openai_script import OpenAIScriptProvider
from tasks.script.scenes import (
    MAX_SCENES,
    MIN_SCENES,
    SCENE_FRAMES,
    OpenAISceneProvider,
    SceneTemplateProvider,
    joined_text,
    scene_count,
)
from tasks.speech import EspeakProvider
from tasks.speech.scenes import scene_segments

pytestmark = pytest.mark.timeout(120)

WPS = 2.85  # eSpeak en-us at 165 wpm, pauses included
RICH = ContentItem.make(
    title="Harbour city opens its first solar-powered ferry line",
    url="https://harbour-times.example/ferry",
    source="Harbour Times",
    summary=(
        "The city of Portwell launched its first solar-powered ferry on Monday morning. "
        "The boat carries up to 120 passengers between the old port and the university campus. "
        "Its roof is covered with solar panels that charge the batteries while it waits at the "
        "pier. On sunny days the ferry can run all day without drawing power from the grid. "
        "Engineers from the local shipyard spent two years building the hull from recycled "
        "aluminium. Officials said two more ferries will join the line next spring. Tickets "
        "cost the same as a bus ride, and bicycles travel free. The crossing takes eighteen "
        "minutes, about half the time of the trip by road during rush hour. Residents who "
        "tried the first crossing said the boat was quiet and smooth."
    ),
)
THIN = ContentItem.make(
    title="Library extends weekend opening hours",
    url="https://civic-wire.example/library-hours",
    source="Civic Wire",
    summary="The central library will now stay open until eight on Saturdays.",
)


def frame_lines(style: str, item: ContentItem) -> set[str]:
    """Every line the template may add around the item's facts (none states a fact)."""
    f, s = SCENE_FRAMES[style], STYLE_FRAMES[style]
    kws = keywords_of(item)
    fill = {"source": item.source, "topic": " and ".join(kws[:2]) if kws else "the news"}
    lines = [*f["bridge"], f["close"], s["cta"], f["open"]]  # type: ignore[misc]
    from tasks.script.greetings import KNOWN  # the greeting (varies by item and time of day)

    return KNOWN | {line for raw in lines for line in split_sentences(str(raw).format(**fill))}


# --- scene scripts ---------------------------------------------------------------------------


@pytest.mark.parametrize("duration", [60, 120])
def test_offline_explainer_is_scenes_of_the_items_own_sentences(duration: int) -> None:
    p = SceneTemplateProvider()
    s = p.write(RICH, "news_anchor", duration, WPS)
    assert MIN_SCENES <= len(s.scenes) <= MAX_SCENES
    assert s.text == joined_text(s.scenes) and s.provider == "template-scenes"
    assert s.word_count <= duration * WPS  # the words-per-second budget holds
    assert all(sc.title and sc.text and sc.scene_description for sc in s.scenes)
    assert len({sc.scene_description for sc in s.scenes}) == len(s.scenes)
    # the intro carries the headline, the outro the call to action
    assert RICH.title in s.scenes[0].text and s.scenes[-1].text.endswith(s.call_to_action)
    # nothing invented: every sentence is the item's, or a frame line that states no fact
    allowed = set(sentences(RICH.summary)) | frame_lines("news_anchor", RICH) | {f"{RICH.title}."}
    for sentence in split_sentences(s.text):
        assert sentence in allowed, sentence
    assert ungrounded_sentences(s.text, [RICH.title, RICH.summary], [RICH.source]) == []
    # every body scene is built around the item's facts, in the item's order
    body = " ".join(sc.text for sc in s.scenes[1:-1])
    facts = [f for f in sentences(RICH.summary) if f in body]
    assert facts == sorted(facts, key=body.index) and len(facts) >= len(s.scenes) - 2


def test_a_longer_target_gets_more_scenes_and_the_count_stays_in_range() -> None:
    counts = [scene_count(int(d * WPS)) for d in (60, 90, 150, 300)]
    assert counts == sorted(counts) and counts[0] >= MIN_SCENES and counts[-1] == MAX_SCENES
    short = SceneTemplateProvider().write(RICH, "educational", 60, WPS)
    long = SceneTemplateProvider().write(RICH, "educational", 120, WPS)
    assert len(long.scenes) > len(short.scenes) and long.word_count > short.word_count


def test_a_thin_item_gives_fewer_shorter_scenes_and_says_so() -> None:
    p = SceneTemplateProvider()
    s = p.write(THIN, "casual", 180, WPS)
    assert len(s.scenes) == MIN_SCENES
    assert s.word_count < 0.5 * 180 * WPS  # far from the target: nothing was padded in
    assert any("rather than invent facts" in n and "180 s" in n for n in p.notes), p.notes
    assert ungrounded_sentences(s.text, [THIN.title, THIN.summary], [THIN.source]) == []
    # a title with no summary still makes a valid explainer around the headline
    bare = ContentItem.make(title="Bridge reopens after repairs", url="", source="Civic Wire")
    b = p.write(bare, "professional", 60, WPS)
    assert len(b.scenes) == MIN_SCENES and "Bridge reopens after repairs" in b.scenes[1].text
    assert p.notes


def test_explainer_length_outside_60_to_300_s_is_refused() -> None:
    for bad in (30, 301):
        with pytest.raises(InputError, match="60–300"):
            SceneTemplateProvider().write(RICH, "news_anchor", bad, WPS)


# --- OpenAI scenes -----------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as f:
        yield f


def openai_scenes(fake: FakeOpenAI) -> OpenAISceneProvider:
    base = OpenAIScriptProvider(
        fake.api_key, base_url=fake.base_url, timeout_s=2.0, max_retries=2, deadline_s=10.0
    )
    return OpenAISceneProvider(base)


GROUNDED_SCENES = {
    "title": "Portwell's solar ferry, explained",
    "scenes": [
        {
            "title": "A new ferry",
            "text": "Good evening. Portwell launched its first solar-powered ferry on Monday.",
            "scene_description": "A harbour at dawn with a sleek electric ferry.",
        },
        {
            "title": "How it works",
            "text": "Its roof is covered with solar panels that charge the batteries.",
            "scene_description": "Solar panels on a boat roof under a bright sky.",
        },
        {
            "title": "What comes next",
            "text": "Officials said two more ferries will join the line next spring.",
            "scene_description": "A shipyard with a hull under construction.",
        },
        {
            "title": "Wrap-up",
            "text": "That is the story so far. Follow for more updates.",
            "scene_description": "A calm harbour at dusk.",
        },
    ],
    "call_to_action": "Follow for more updates.",
    "keywords": ["Ferry", "solar"],
}


def test_openai_writes_scenes_through_the_real_sdk(fake: FakeOpenAI) -> None:
    fake.scenes = GROUNDED_SCENES
    fake.fail(500)  # one server error first: retried within the deadline
    p = openai_scenes(fake)
    s = p.write(RICH, "news_anchor", 60, WPS)
    assert s.provider == "openai-scenes" and len(s.scenes) == 4
    assert [sc.title for sc in s.scenes] == [
        "A new ferry",
        "How it works",
        "What comes next",
        "Wrap-up",
    ]
    assert s.text == joined_text(s.scenes) and s.scenes[1].scene_description.startswith("Solar")
    assert s.keywords == ("ferry", "solar") and p.ungrounded == () and p.cost_usd > 0
    schema = fake.requests[-1]["response_format"]["json_schema"]
    assert schema["name"] == "ExplainerDraft" and "scenes" in schema["schema"]["properties"]
    system = fake.requests[-1]["messages"][0]["content"]
    assert f"AT MOST {int(60 * WPS)} words" in system and "scenes" in system


def test_openai_scenes_over_budget_are_trimmed_and_invented_facts_flagged(fake: FakeOpenAI) -> None:
    long = "Portwell launched its first solar-powered ferry on Monday. " * 30
    scenes = [dict(sc) for sc in GROUNDED_SCENES["scenes"]]  # type: ignore[union-attr]
    scenes[1]["text"] = "The ferry cost 40 million dollars, Mayor Quill said."
    scenes[2]["text"] = long.strip()
    fake.scenes = {**GROUNDED_SCENES, "scenes": scenes}
    p = openai_scenes(fake)
    s = p.write(RICH, "news_anchor", 60, WPS)
    assert s.word_count <= int(60 * WPS) and len(s.scenes) >= MIN_SCENES
    assert any("held to the budget" in n for n in p.notes)
    assert len(s.ungrounded) == 1 and "40" in s.ungrounded[0]


@pytest.mark.parametrize("answer", ["malformed", "two_scenes", "refusal"])
def test_a_bad_openai_answer_falls_back_to_the_offline_explainer(
    fake: FakeOpenAI, answer: str
) -> None:
    def bad_answer() -> None:
        if answer == "malformed":
            fake.reply_content('{"title": "x", "scenes": [{"title": ')
        elif answer == "refusal":
            fake.reply_content(None, refusal="I cannot help with that.")
        else:  # valid JSON, but too few scenes for an explainer
            fake.scenes = {**GROUNDED_SCENES, "scenes": GROUNDED_SCENES["scenes"][:2]}  # type: ignore[index]

    chain = [openai_scenes(fake), SceneTemplateProvider()]
    bad_answer()
    with pytest.raises(ProviderError):
        chain[0].write(RICH, "news_anchor", 60, WPS)
    bad_answer()
    result, used = run_chain("script", chain, lambda p: p.write(RICH, "news_anchor", 60, WPS))
    assert used.name == "template-scenes" and len(result.scenes) >= MIN_SCENES


# --- backgrounds, speech segments ------------------------------------------------------------

SCENES = (
    ScriptScene(
        text="Good evening. Here is a new ferry.",
        title="Intro",
        scene_description="A harbour at dawn.",
    ),
    ScriptScene(
        text="It runs on the sun all day long.",
        title="Solar",
        scene_description="Solar panels on a roof.",
    ),
    ScriptScene(
        text="Two more ferries will come next spring.",
        title="Next",
        scene_description="A shipyard.",
    ),
    ScriptScene(
        text="Follow for more updates.",
        title="Wrap-up",
        scene_description="A calm harbour at dusk.",
    ),
)


def test_each_scene_gets_its_own_visibly_different_background(tmp_path: Path) -> None:
    made = make_scene_backgrounds(
        ProceduralBackgroundProvider(), SCENES, ("ferry",), (192, 108), tmp_path
    )
    assert len(made) == len(SCENES) and len({seed for _, seed in made}) == len(SCENES)
    means = [np.asarray(Image.open(path), np.float32).mean(axis=(0, 1)) for path, _ in made]
    for a, b in itertools.pairwise(means):  # neighbours never look alike
        assert np.abs(a - b).max() > 8, (a, b)
    again = make_scene_backgrounds(
        ProceduralBackgroundProvider(), SCENES, ("ferry",), (192, 108), tmp_path / "again"
    )
    assert [s for _, s in again] == [s for _, s in made]  # deterministic


def test_flux_makes_one_prediction_per_scene(tmp_path: Path) -> None:
    from tasks.background.flux import FluxBackgroundProvider

    with FakeReplicate() as fake:
        flux = FluxBackgroundProvider(
            fake.token, base_url=fake.url, poll_interval_s=0.05, timeout_s=2.0, deadline_s=10.0
        )
        made = make_scene_backgrounds(flux, SCENES, ("ferry",), (320, 180), tmp_path)
        prompts = [c["input"]["prompt"] for c in fake.creates]
    assert len(prompts) == len(SCENES) and len(made) == len(SCENES)
    for scene, prompt in zip(SCENES, prompts, strict=True):
        assert prompt.startswith(scene.scene_description.rstrip("."))
    assert all(Image.open(p).size == (320, 180) for p, _ in made)


def _spoken(tmp_path: Path, scenes: tuple[ScriptScene, ...] = SCENES):
    return EspeakProvider().speak(joined_text(scenes), "en-us", 165, tmp_path / "speech.wav")


def test_scene_segments_cover_the_speech_in_order(tmp_path: Path) -> None:
    out = _spoken(tmp_path)
    segs = scene_segments([s.text for s in SCENES], out.words, out.duration_s)
    assert [s.scene for s in segs] == list(range(len(SCENES)))
    assert segs[0].start == 0 and segs[-1].end == pytest.approx(out.duration_s, abs=1e-3)
    for a, b in itertools.pairwise(segs):
        assert a.end == b.start and a.start < a.end
    # each scene's words are spoken inside its segment
    k = 0
    for seg, scene in zip(segs, SCENES, strict=True):
        for _ in scene.text.split():
            w = out.words[k]
            assert seg.start - 0.02 <= w.start and w.end <= seg.end + 0.02, (w, seg)
            k += 1


def test_scene_segments_survive_merged_and_missing_words(tmp_path: Path) -> None:
    out = _spoken(tmp_path)
    exact = scene_segments([s.text for s in SCENES], out.words, out.duration_s)
    words = list(out.words)
    # a provider that merged two tokens and dropped another (an aligner's output)
    merged = WordTiming(
        word=f"{words[1].word} {words[2].word}", start=words[1].start, end=words[2].end
    )
    rough = [words[0], merged, *words[3:9], *words[10:]]
    segs = scene_segments([s.text for s in SCENES], rough, out.duration_s)
    assert [round(s.start, 2) for s in segs] == [round(s.start, 2) for s in exact]
    # no timings at all: each scene gets its share of the words, still in order
    blind = scene_segments([s.text for s in SCENES], [], out.duration_s)
    assert [s.scene for s in blind] == [0, 1, 2, 3]
    assert all(a.end == b.start for a, b in itertools.pairwise(blind))


# --- rendering with transitions ----------------------------------------------------------

COLOURS = [(200, 40, 40), (40, 180, 60), (40, 60, 200)]
SIZE = (320, 180)
FPS = 25


def _solid(tmp_path: Path, colour: tuple[int, int, int], name: str) -> Path:
    p = tmp_path / f"{name}.png"
    Image.new("RGB", SIZE, colour).save(p)
    return p


def _patch(frame: np.ndarray) -> np.ndarray:
    """Mean colour of a background patch at the right edge, away from the presenter."""
    h, w = frame.shape[:2]
    return (
        frame[int(0.4 * h) : int(0.6 * h), int(0.9 * w) : int(0.97 * w)].reshape(-1, 3).mean(axis=0)
    )


def _render(tmp_path: Path, transition: str, name: str):
    from tasks.avatar.lite import render_lite
    from tasks.avatar.scenes import SceneBackground

    out = EspeakProvider().speak(
        "Here is the first scene of the story. And this is the second one, with more. "
        "Finally the third scene closes it.",
        "en-us",
        165,
        tmp_path / "s.wav",
    )
    bgs = [_solid(tmp_path, c, f"bg{i}") for i, c in enumerate(COLOURS)]
    starts = [0.0, 2.4, 4.4]
    scenes = [
        SceneBackground(b, t, f"Scene {i}")
        for i, (b, t) in enumerate(zip(bgs, starts, strict=True))
    ]
    mp4 = tmp_path / f"{name}.mp4"
    info = render_lite(
        bgs[0],
        tmp_path / "s.wav",
        out.phonemes,
        mp4,
        size=SIZE,
        fps=FPS,
        crf=12,
        preset="ultrafast",
        scenes=scenes,
        transition=transition,
    )
    assert info.frames == round(out.duration_s * FPS)
    return mp4, starts


def _at(mp4: Path, t: float) -> np.ndarray:
    """The frame shown at ``t`` (ffmpeg's seek lands on the first frame at or after it)."""
    return extract_frame(mp4, (round(t * FPS) - 0.5) / FPS)


def test_crossfade_switches_backgrounds_at_scene_boundaries(tmp_path: Path) -> None:
    from tasks.avatar.scenes import TRANSITION_S

    mp4, starts = _render(tmp_path, "crossfade", "fade")
    half = TRANSITION_S / 2
    for k in (1, 2):
        a, b = np.array(COLOURS[k - 1]), np.array(COLOURS[k])
        before = _patch(_at(mp4, starts[k] - half - 0.12))
        after = _patch(_at(mp4, starts[k] + half + 0.12))
        middle = _patch(_at(mp4, starts[k]))
        assert np.abs(before - a).max() < 12, (k, before)
        assert np.abs(after - b).max() < 12, (k, after)
        assert np.abs(middle - (a + b) / 2).max() < 30, (k, middle)  # a blend of both
        assert np.abs(middle - a).max() > 40 and np.abs(middle - b).max() > 40


def test_wipe_and_cut_transitions(tmp_path: Path) -> None:
    wipe, starts = _render(tmp_path, "wipe", "wipe")
    mid = _at(wipe, starts[1])
    h, w = mid.shape[:2]
    left = mid[int(0.4 * h) : int(0.6 * h), 2 : int(0.08 * w)].reshape(-1, 3).mean(axis=0)
    right = _patch(mid)
    assert np.abs(left - np.array(COLOURS[1])).max() < 15, left  # scene 2 came in from the left
    assert np.abs(right - np.array(COLOURS[0])).max() < 15, right  # scene 1 still on the right
    cut, starts = _render(tmp_path, "cut", "cut")
    assert np.abs(_patch(_at(cut, starts[1] - 1 / FPS)) - np.array(COLOURS[0])).max() < 12
    assert np.abs(_patch(_at(cut, starts[1] + 1 / FPS)) - np.array(COLOURS[1])).max() < 12


def test_bad_scenes_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    from tasks.avatar.lite import render_lite
    from tasks.avatar.scenes import SceneBackground

    out = EspeakProvider().speak("A short line to speak.", "en-us", 165, tmp_path / "s.wav")
    bg = _solid(tmp_path, COLOURS[0], "bg")
    cases = [
        ([SceneBackground(bg, 0.0), SceneBackground(bg, 0.0)], "crossfade", "strictly increasing"),
        (
            [SceneBackground(bg, 0.0), SceneBackground(tmp_path / "nope.png", 1.0)],
            "crossfade",
            "scene 1 background",
        ),
        ([SceneBackground(bg, 0.0)], "spin", "crossfade, wipe, cut"),
    ]
    for scenes, transition, message in cases:
        with pytest.raises(InputError, match=message):
            render_lite(
                bg,
                tmp_path / "s.wav",
                out.phonemes,
                tmp_path / "x.mp4",
                size=SIZE,
                fps=FPS,
                scenes=scenes,
                transition=transition,
            )
        assert not (tmp_path / "x.mp4").exists()


# --- chapters ---------------------------------------------------------------------------------


def test_chapters_go_into_the_mp4_and_the_chapter_files(tmp_path: Path) -> None:
    from tasks.compose.chapters import (
        chapters_for,
        read_chapters,
        timestamps,
        to_vtt_chapters,
        write_chapters,
    )

    mp4, _ = _render(tmp_path, "cut", "chap")
    dur = probe(mp4).duration_s
    segs = (
        SpeechSegment(start=0, end=2.4, scene=0),
        SpeechSegment(start=2.4, end=4.4, scene=1),
        SpeechSegment(start=4.4, end=dur, scene=2),
    )
    scenes = [ScriptScene(text="x", title=t) for t in ("Intro", "Costs; and = risks", "Wrap-up")]
    chapters = chapters_for(scenes, segs, dur)
    write_chapters(mp4, chapters)
    back = read_chapters(mp4)
    assert [c.title for c in back] == ["Intro", "Costs; and = risks", "Wrap-up"]
    assert [round(c.start, 2) for c in back] == [0.0, 2.4, 4.4]
    assert back[-1].end == pytest.approx(dur, abs=0.05)
    assert probe(mp4).has_audio and probe(mp4).duration_s == pytest.approx(dur, abs=0.05)
    vtt = to_vtt_chapters(chapters)
    assert (
        vtt.startswith("WEBVTT\n\n") and "00:00:02.400 --> 00:00:04.400\nCosts; and = risks" in vtt
    )
    assert (
        timestamps(
            [Chapter(title="Intro", start=0, end=70), Chapter(title="More", start=70, end=90)]
        )
        == "0:00 Intro\n1:10 More"
    )


# --- the whole flow ---------------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_an_explainer_goes_through_the_flow_to_the_review_queue(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.produce import produce_video
    from novaavatar import manifests
    from novaavatar.domain import ReviewState
    from novaavatar.settings import get_settings
    from tasks.compose.chapters import read_chapters

    monkeypatch.setenv("AVATAR_FPS", "12")  # the full 60 s at 720p, at half the frames
    get_settings.cache_clear()

    store.put_bytes(f"items/{RICH.id}.json", RICH.model_dump_json().encode(), "application/json")
    vid = produce_video(
        RICH.id, options=ProduceOptions(format="explainer", duration_s=60, aspect="16:9")
    )
    m, _ = manifests.load(store, vid)
    assert m.state is ReviewState.PENDING and m.final and m.quality and m.script
    assert m.quality.passed, m.quality.failed
    assert {c.name for c in m.quality.checks} >= {"duration", "chapters", "not_frozen"}
    n = len(m.script.scenes)
    assert MIN_SCENES <= n <= MAX_SCENES and m.options.format == "explainer"
    mp4 = store.materialize(m.final.key)
    info = probe(mp4)
    assert 39 <= info.duration_s <= 81 and (info.width, info.height) == (1280, 720)
    assert info.fps == 12
    # chapters: in the manifest, in the MP4, as a WebVTT chapters file
    assert [c.title for c in m.final.chapters] == [s.title for s in m.script.scenes]
    assert [c.title for c in read_chapters(mp4)] == [c.title for c in m.final.chapters]
    assert m.final.chapters_key and store.get_bytes(m.final.chapters_key).startswith(b"WEBVTT")
    starts = [c.start for c in m.final.chapters]
    assert starts[0] == 0 and starts == sorted(starts)
    # one background per scene, each a different image
    bg_keys = [k for k in m.stages["background"].keys if "background-scene" in k]
    assert len(bg_keys) == n and len({store.get_bytes(k) for k in bg_keys}) == n
    # captions follow the speech over the whole length
    srt = store.get_bytes(m.final.srt_key).decode()
    last = srt.strip().split("\n\n")[-1].splitlines()[1]
    end = last.split(" --> ")[1]
    h, mi, rest = end.split(":")
    assert abs(int(h) * 3600 + int(mi) * 60 + float(rest.replace(",", ".")) - info.duration_s) < 1.5


# --- title cards, typed scenes, how a user asks for an explainer ------------------------------


def test_scene_title_cards_sit_under_the_title_bar_on_the_reading_side() -> None:
    from tasks.avatar.scenes import render_scene_card

    img, x, y = render_scene_card("What comes next", 2, 5, 1280, 720)
    assert x == round(0.06 * 1280) and 0.15 * 720 < y < 0.3 * 720
    assert img.shape[1] <= 0.31 * 1280 + 40 and img[..., 3].max() > 0  # clear of the face
    rtl, xr, _ = render_scene_card("ما الذي يأتي بعد ذلك", 2, 5, 1280, 720)
    assert xr + rtl.shape[1] == 1280 - round(0.06 * 1280)  # right-aligned, read from the right


def test_typed_text_becomes_scenes_a_paragraph_each() -> None:
    from tasks.script.scenes import parse_scenes

    text = (
        "# The plan\nThe council approved the plan.\n\n"
        "Work starts next spring.\n\n# Wrap-up\nThat is all."
    )
    scenes = parse_scenes(text, "a calm city hall")
    assert [s.title for s in scenes] == ["The plan", "Work starts next spring", "Wrap-up"]
    assert (
        scenes[1].text == "Work starts next spring."
        and "a calm city hall" in scenes[0].scene_description
    )
    with pytest.raises(ValueError, match="3-8 scenes, one per paragraph"):
        parse_scenes("Only one paragraph here.")
    with pytest.raises(ValueError, match="nothing to say"):
        parse_scenes("# Intro\n\n# Empty\n\nText.")


def test_the_api_accepts_explainer_lengths_only_for_explainers() -> None:
    from pydantic import ValidationError

    from api.schemas import GenerateRequest

    ok = GenerateRequest(title="Ferry", format="explainer", duration_s=120, transition="wipe")
    assert ok.duration_s == 120 and ok.transition == "wipe"
    with pytest.raises(ValidationError, match="does not fit format 'single': use 15-90 seconds"):
        GenerateRequest(title="Ferry", duration_s=120)
    with pytest.raises(ValidationError, match="use 60-300 seconds"):
        GenerateRequest(title="Ferry", format="explainer", duration_s=30)


def test_manual_page_starts_an_explainer(
    store, monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> None:
    from novaavatar.service import jobs as actions

    at, started = manual_page(monkeypatch, prefect_server)
    at.toggle(key="manual_explainer").set_value(True).run()
    assert not at.exception, at.exception
    at.text_input(key="manual_title").input("Ferry explained")
    typed = "# Intro\nA new ferry.\n\n# How\nIt runs on the sun.\n\n# Next\nMore ferries come."
    at.text_area(key="manual_scenes").input(typed).run()
    next(b for b in at.button if b.label == "Create video").click().run()
    actions.wait_all(timeout=10)
    assert len(started) == 1 and started[0]["options"]["format"] == "explainer"
    assert started[0]["text"] == typed and started[0]["audio_key"] is None


def test_an_offline_explainer_in_chinese_and_its_scene_segments(tmp_path: Path) -> None:
    zh = ContentItem.make(
        title="城市开通首条太阳能渡轮航线",
        url="https://harbour-daily.example/zh",
        source="港口日报",
        summary="该市周一上午开通了首条太阳能渡轮航线。渡轮可载客一百二十人，往返于老港口和大学之间。"
        "官员表示，明年春天还将有两艘渡轮加入该航线。",
    )
    s = SceneTemplateProvider().write(zh, "news_anchor", 60, 4.0, language="zh")
    assert s.language == "zh" and s.scenes[-1].title == "总结" and len(s.scenes) >= MIN_SCENES
    assert " " not in s.text and s.text == joined_text(s.scenes)  # no spaces between sentences
    assert "官员表示，明年春天还将有两艘渡轮加入该航线。" in s.text
    out = EspeakProvider().speak(s.text, "cmn", 165, tmp_path / "zh.wav")
    segs = scene_segments([sc.text for sc in s.scenes], out.words, out.duration_s)
    assert [g.scene for g in segs] == list(range(len(s.scenes)))
    assert all(b.start - a.start > 2.0 for a, b in itertools.pairwise(segs))  # real scenes


@pytest.mark.parametrize("code", ["es", "ar"])
def test_an_offline_explainer_frames_its_scenes_in_the_videos_language(code: str) -> None:
    from novaavatar.languages import FUNCTION_WORDS, guess_language
    from tasks.script.frames import FRAMES
    from tasks.script.scenes import OUTRO_TITLES

    anon = RICH.model_copy(update={"source": ""})  # the newsroom is named in the language
    provider = SceneTemplateProvider()
    s = provider.write(anon, "educational", 90, 2.8, language=code)
    f = FRAMES[code]["educational"]
    newsroom = {"es": "nuestra redacción", "ar": "غرفة الأخبار"}[code]
    first, *rest = split_sentences(s.scenes[0].text)  # a greeting of the language, then
    assert " ".join(rest).startswith(str(f["open"]).format(source=newsroom))  # the frame
    assert guess_language(first) in (code, None)
    assert s.scenes[-1].title == OUTRO_TITLES[code] and s.scenes[-1].text.endswith(str(f["cta"]))
    # the lines the template adds (opening, bridges, closing, call to action) are in the
    # video's language; the item's own English sentences are kept and noted
    facts = set(sentences(f"{RICH.title}. {RICH.summary}"))
    added = [
        x for sc in s.scenes for x in split_sentences(sc.text) if x.rstrip(".") + "." not in facts
    ]
    assert any(str(b) in added for b in f["bridge"])  # type: ignore[attr-defined]
    words = {w.lower().strip(".,!?¿¡") for line in added for w in line.split()}
    assert not words & FUNCTION_WORDS["en"], words & FUNCTION_WORDS["en"]
    if code == "es":
        assert guess_language(" ".join(added)) == "es"
    else:
        assert all(re.search(r"[\u0600-\u06ff]", x) for x in added), added
    assert any("language mismatch" in n for n in provider.notes)
