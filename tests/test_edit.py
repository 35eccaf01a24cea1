"""Edit before approve: a reviewer's script edit is a new take that re-runs only speech,
avatar, compose and quality; the history keeps the diff; refusals are clear."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from test_api import _finished, api_env, assert_problem, client, serve  # noqa: F401
from test_decision_events import wait_for_event

from novaavatar import manifests
from novaavatar.domain import ContentItem, ProduceOptions, ReviewState, VideoScript
from novaavatar.errors import InputError
from novaavatar.events import EDITED

ITEM = ContentItem.make(
    title="Harbour bridge reopens after repair",
    url="https://news.example.org/bridge",
    source="Coastal Times",
    summary="The harbour bridge reopened this morning after a two-year repair. "
    "Commuters crossed it again at dawn.",
)


def _script(**kw: Any) -> VideoScript:
    base: dict[str, Any] = dict(
        text="The harbour bridge reopened this morning. Commuters crossed it again at dawn.",
        style="news_anchor",
        target_duration_s=15,
        title="Bridge reopens",
        keywords=("bridge", "harbour"),
        call_to_action="Follow for more.",
    )
    return VideoScript(**(base | kw))


# --- the edit itself, without Prefect ----------------------------------------------------


def test_an_edit_keeps_the_shape_rechecks_grounding_and_diffs_one_line() -> None:
    from tasks.script.edit import apply_edit, editable_text, script_diff

    generated = _script()
    edited = apply_edit(
        generated, ITEM, "The harbour bridge reopened this morning. Commuters met Zorblax at dawn."
    )
    assert edited.title == generated.title and edited.keywords == generated.keywords
    assert edited.ungrounded and "Zorblax" in edited.ungrounded[0]  # a name not in the item
    diff = script_diff(generated, edited)
    assert "-Commuters crossed it again at dawn." in diff.splitlines()
    assert "+Commuters met Zorblax at dawn." in diff.splitlines()
    changed = [ln for ln in diff.splitlines()[2:] if ln[:1] in "+-"]
    assert len(changed) == 2  # one sentence changed: one line out, one in
    tagged = apply_edit(generated, ITEM, title="  Bridge  open ", keywords=["#Bridge", "city"])
    assert (tagged.title, tagged.keywords) == ("Bridge open", ("bridge", "city"))
    assert "+hashtags: #bridge #city" in script_diff(generated, tagged)

    turns = (
        ("host", "What happened at the harbour?"),
        ("guest", "The harbour bridge reopened this morning."),
        ("host", "Who crossed it?"),
        ("guest", "Commuters crossed it again at dawn."),
    )
    talk = _script(
        turns=tuple({"speaker": s, "text": t} for s, t in turns),
        text=" ".join(t for _, t in turns),
    )
    lines = editable_text(talk)
    assert lines.splitlines()[1] == "Guest: The harbour bridge reopened this morning."
    edited = apply_edit(talk, ITEM, lines.replace("Who crossed it?", "Who crossed it first?"))
    assert edited.turns[2].text == "Who crossed it first?" and edited.turns[2].speaker == "host"
    with pytest.raises(InputError, match="conversation text"):
        apply_edit(talk, ITEM, "Just one line without a speaker.")
    with pytest.raises(InputError, match="text is empty"):
        apply_edit(generated, ITEM, "  \n ")


def test_an_explainer_is_edited_as_titled_paragraphs() -> None:
    from tasks.script.edit import apply_edit, background_script, editable_text

    scenes = tuple(
        {
            "text": f"Scene {i} says the bridge reopened.",
            "title": f"Part {i}",
            "scene_description": f"bg {i}",
        }
        for i in range(4)
    )
    explainer = _script(
        scenes=scenes, text=" ".join(s["text"] for s in scenes), target_duration_s=60
    )
    text = editable_text(explainer)
    assert text.startswith("# Part 0\nScene 0 says") and text.count("\n\n") == 3
    edited = apply_edit(explainer, ITEM, text.replace("# Part 1", "# The middle"))
    assert [s.title for s in edited.scenes] == ["Part 0", "The middle", "Part 2", "Part 3"]
    # same scenes: their backgrounds (descriptions) stay, so the background comes from the cache
    assert [s.scene_description for s in edited.scenes] == ["bg 0", "bg 1", "bg 2", "bg 3"]
    assert background_script(explainer, edited) is explainer
    fewer = apply_edit(explainer, ITEM, text.rsplit("\n\n", 1)[0])
    assert len(fewer.scenes) == 3 and background_script(explainer, fewer) is fewer


# --- a real 15 s video: API, CLI, refusals ------------------------------------------------


def _stage(store: Any, vid: str, name: str) -> bytes:
    return bytes(store.get_bytes(f"videos/{vid}/stages/{name}.json"))


def _one_word_changed(text: str) -> tuple[str, str]:
    """The text with its first word of five or more lowercase letters replaced by a name
    the item does not contain (so grounding has something to flag)."""
    word = re.search(r"\b[a-z]{5,}\b", text)
    assert word is not None, text
    return text[: word.start()] + "Zorblax" + text[word.end() :], word.group()


@pytest.mark.usefixtures("prefect_harness")
def test_edit_one_word_through_the_api_then_the_cli(
    client: httpx.Client,  # noqa: F811
    store: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from flows.produce import produce_video
    from flows.scrape import scrape_content
    from novaavatar.cli import app
    from novaavatar.settings import get_settings

    get_settings.cache_clear()
    item_id = scrape_content(sample=True, limit=1)[0].id
    vid = produce_video(item_id, options=ProduceOptions(duration_s=15, aspect="1:1"))
    first, _ = manifests.load(store, vid)
    assert first.script is not None and first.final is not None
    before = {s: _stage(store, vid, s) for s in ("script", "background", "speech", "avatar")}

    # refusals first: a stale version, an empty text, nothing changed
    r = client.patch(f"/api/videos/{vid}/script", json={"text": "x", "expected_version": 0})
    assert_problem(r, 409, "changed since you opened it")
    r = client.patch(f"/api/videos/{vid}/script", json={"text": "  ", "reviewer": "ann"})
    assert_problem(r, 422, "text is empty")
    r = client.patch(f"/api/videos/{vid}/script", json={"text": first.script.text})
    assert_problem(r, 422, "changes nothing")

    text, word = _one_word_changed(first.script.text)
    r = client.patch(
        f"/api/videos/{vid}/script",
        json={"text": text, "reviewer": "ann", "expected_version": first.version},
    )
    assert r.status_code == 202, r.text
    job = _finished(client, r.json(), 180)
    assert job["state"] == "completed", job
    m, _ = manifests.load(store, vid)
    assert m.state is ReviewState.PENDING and m.script is not None and m.final is not None
    assert "Zorblax" in m.script.text and m.generated_script == first.script
    event = m.history[-1]
    assert (event.by, event.note) == ("ann", "edited the script: text")
    assert f"+{'Zorblax'}" in event.diff or "Zorblax" in event.diff
    assert any(line.startswith("-") and word in line for line in event.diff.splitlines())
    # only what the script feeds ran again: the background is the cached one
    assert _stage(store, vid, "background") == before["background"]
    for stage in ("script", "speech", "avatar"):
        assert _stage(store, vid, stage) != before[stage], stage
    assert m.stages["script"].provider == "edited"
    edited = wait_for_event(vid, EDITED, kind="script", by="ann", version=m.version)
    assert edited["resource"]["prefect.resource.id"] == f"novaavatar.video.{vid}"
    assert edited["resource"]["novaavatar.video-id"] == vid
    assert "Zorblax" in edited["payload"]["diff"]
    assert edited["payload"]["note"] == "edited the script: text"
    assert edited["related"][0]["prefect.resource.id"] == f"prefect.flow-run.{m.flow_run_id}"
    assert m.stages["background"].keys == first.stages["background"].keys
    assert m.final.key != first.final.key and store.exists(first.final.key)
    assert m.quality is not None
    grounding = next(c for c in m.quality.checks if c.name == "grounding")
    assert not grounding.passed and "Zorblax" in grounding.detail  # re-checked on the edit

    # the CLI: a new title; the edit of the text stays, the diff is still against the generated
    result = CliRunner().invoke(app, ["edit", vid, "--title", "Bridge open again", "--by", "bob"])
    assert result.exit_code == 0, result.output
    assert "+title: Bridge open again" in result.output
    m2, _ = manifests.load(store, vid)
    assert m2.script is not None and m2.script.title == "Bridge open again"
    assert "Zorblax" in m2.script.text and m2.generated_script == first.script
    assert (m2.history[-1].by, m2.history[-1].note) == ("bob", "edited the script: title")
    assert _stage(store, vid, "background") == before["background"]

    # a video that is approved is not edited
    manifests.decide(store, vid, ReviewState.APPROVED, by="ann")
    r = client.patch(f"/api/videos/{vid}/script", json={"text": "Something else."})
    assert_problem(r, 409, "approved")


# --- the review page -----------------------------------------------------------------------


@pytest.fixture
def page_env(monkeypatch: pytest.MonkeyPatch, prefect_server: str) -> None:
    """No login; the page's jobs run in this process against the session's Prefect server."""
    from novaavatar.service import jobs

    for name in ("REVIEW_PASSWORD", "REVIEWERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    jobs.wait_all()
    jobs.forget_finished()


@pytest.mark.usefixtures("page_env")
def test_page_edit_starts_a_take_with_the_edited_script(
    store: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page hands the edited script to ``produce_video`` as a regeneration with the
    version the reviewer saw; a stand-in applies the manifest change the real flow makes
    (the render itself is covered through the API above)."""
    pytest.importorskip("streamlit")
    from test_review_app import button, open_page, texts
    from test_review_app_support import add_video, tiny_mp4

    from flows import produce
    from novaavatar.domain import Regeneration
    from novaavatar.service import jobs
    from tasks.script.edit import script_diff

    m = add_video(store, 0, tiny_mp4(tmp_path / "tiny.mp4"), state=ReviewState.REJECTED)
    store.put_bytes(f"items/{m.item.id}.json", m.item.model_dump_json().encode())
    approved = add_video(store, 1, None, state=ReviewState.APPROVED)
    calls: list[Regeneration] = []

    def stand_in(item_id: str, options: dict, regenerate: dict) -> str:
        again = Regeneration.model_validate(regenerate)
        calls.append(again)
        assert item_id == m.item.id and again.script is not None

        def change(v: Any) -> None:
            diff = script_diff(v.script, again.script)
            v.generated_script, v.script = v.script, again.script
            v.reopen(by=again.reviewer, note="edited the script: text", diff=diff)

        manifests.update(store, m.video_id, change)
        return m.video_id

    monkeypatch.setattr(produce, "produce_video", stand_in)
    at = open_page("views/review.py", video=m.video_id)
    assert "Edit the script" in [e.label for e in at.expander]
    at.text_input(key="reviewer").input("Ada").run()
    assert m.script is not None
    new_text = m.script.text.replace("at dawn", "at sunrise")
    at.text_area(key=f"edit_text_{m.video_id}_{m.version}").input(new_text)
    button(at, "Re-render with this script").click().run()
    jobs.wait_all(timeout=90)
    at.run()
    assert not at.exception, at.exception
    assert len(calls) == 1, texts(at)
    assert calls[0].reviewer == "Ada" and calls[0].stages == ()
    assert calls[0].script is not None and "at sunrise" in calls[0].script.text
    edited, _ = manifests.load(store, m.video_id)
    assert edited.state is ReviewState.PENDING and edited.history[-1].by == "Ada"
    assert "Re-rendering" in texts(at) or "edit script of" in texts(at)
    assert any("+Commuters crossed it again at sunrise" in c.value for c in at.code)

    # an approved video offers no edit, and says why
    at = open_page("views/review.py", video=approved.video_id)
    assert "Edit the script" not in [e.label for e in at.expander]
    assert "not edited; reject it first" in texts(at)


# --- trim ----------------------------------------------------------------------------------


def _cues(srt: str) -> list[tuple[float, float]]:
    def secs(t: str) -> float:
        h, m, s = t.replace(",", ".").split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    found = re.findall(r"(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)", srt)
    return [(secs(a), secs(b)) for a, b in found]


def test_a_cut_keeps_the_words_and_chapters_inside_it() -> None:
    from novaavatar.domain import Chapter, FinalVideo, WordTiming
    from tasks.compose import trim as t

    full = FinalVideo(
        key="videos/vid-x/final.mp4",
        srt_key="videos/vid-x/c.srt",
        vtt_key="videos/vid-x/c.vtt",
        width=720,
        height=720,
        fps=25,
        duration_s=20.0,
        size_bytes=1,
        intro_s=2.0,
        outro_s=2.0,
        chapters=(Chapter(title="One", start=0, end=9), Chapter(title="Two", start=9, end=20)),
    )
    for start, end, why in (
        (0, 25, "past the video's end"),
        (3, 3.5, "keep at least"),
        (0, None, "whole video"),
    ):
        with pytest.raises(InputError, match=why):
            t.window(full, start, end)
    with pytest.raises(InputError, match="none of the speech"):
        t.kept_speech(full, (), t.window(full, 0, 1.5), full.key)
    w = t.window(full, 3.0, 12.0)
    words = (WordTiming(word="a", start=0.5, end=0.9), WordTiming(word="b", start=1.2, end=1.6))
    audio = t.kept_speech(full, words, w, full.key)
    # speech starts after the 2 s intro: "a" at 2.5 s is cut away, "b" at 3.2 s is kept
    assert [(x.word, x.start) for x in audio.words] == [("b", pytest.approx(0.2))]
    assert audio.duration_s == pytest.approx(9.0)
    assert [(c.title, c.start, c.end) for c in t.cut_chapters(full.chapters, w)] == [
        ("One", 0.0, 6.0),
        ("Two", 6.0, 9.0),
    ]


@pytest.mark.usefixtures("prefect_harness")
def test_trim_reencodes_the_final_video_without_rendering_again(
    client: httpx.Client,  # noqa: F811
    store: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from flows.produce import produce_video
    from flows.scrape import scrape_content
    from novaavatar.cli import app
    from novaavatar.media import probe
    from novaavatar.settings import get_settings

    get_settings.cache_clear()
    item_id = scrape_content(sample=True, limit=1)[0].id
    vid = produce_video(item_id, options=ProduceOptions(duration_s=15, aspect="1:1"))
    first, _ = manifests.load(store, vid)
    assert first.final is not None and first.quality is not None
    avatar_key = first.stages["avatar"].keys[0]
    avatar_path = store.materialize(avatar_key)
    avatar_bytes, avatar_mtime = avatar_path.read_bytes(), avatar_path.stat().st_mtime_ns
    stages_before = {s: _stage(store, vid, s) for s in ("speech", "avatar", "compose")}
    full = first.final.duration_s
    cues_before = _cues(store.get_bytes(first.final.srt_key).decode())

    r = client.post(f"/api/videos/{vid}/trim", json={"start_s": 0, "end_s": full + 5})
    assert_problem(r, 422, "past the video's end")
    r = client.post(f"/api/videos/{vid}/trim", json={"start_s": 5, "end_s": 5.5})
    assert_problem(r, 422, "keep at least")
    r = client.post(
        f"/api/videos/{vid}/trim",
        json={"start_s": 2, "end_s": 10, "reviewer": "ann", "expected_version": first.version},
    )
    assert r.status_code == 202, r.text
    job = _finished(client, r.json(), 120)
    assert job["state"] == "completed" and job["kind"] == "trim", job
    m, _ = manifests.load(store, vid)
    assert m.final is not None and m.quality is not None and m.trim is not None
    assert m.trim.untrimmed == first.final and (m.trim.start_s, m.trim.end_s) == (2, 10)
    assert abs(m.final.duration_s - 8.0) < 0.15 and m.final.key != first.final.key
    info = probe(store.materialize(m.final.key))
    assert info.has_audio and info.has_video and abs(info.duration_s - 8.0) < 0.15
    assert (m.history[-1].by, m.state) == ("ann", ReviewState.PENDING)
    assert m.history[-1].note.startswith("trimmed to 2–10 s of")
    edited = wait_for_event(vid, EDITED, kind="trim", by="ann", version=m.version)
    assert edited["payload"]["note"] == m.history[-1].note
    # nothing was rendered again: the avatar file and the stage records are untouched
    assert avatar_path.read_bytes() == avatar_bytes
    assert avatar_path.stat().st_mtime_ns == avatar_mtime
    assert {s: _stage(store, vid, s) for s in stages_before} == stages_before
    # the captions moved with the cut: they start with the first word wholly after 2 s, 2 s
    # earlier than it is said in the full video, and none runs past the cut's end
    from tasks.compose.trim import spoken_words

    cues = _cues(store.get_bytes(m.final.srt_key).decode())
    assert cues and all(0 <= a < b <= 8.0 + 1e-3 for a, b in cues)
    said = [w.start + first.final.intro_s for w in spoken_words(store, m)]
    assert abs(cues[0][0] - (min(t for t in said if t >= 2) - 2)) < 0.01, (cues[:2], said[:6])
    assert len(cues) < len(cues_before)
    # quality re-checked on the cut: streams and sync hold, the length is now off target
    checks = {c.name: c for c in m.quality.checks}
    assert checks["av_sync"].passed and checks["streams"].passed and checks["true_peak"].passed
    assert checks["duration"].value == pytest.approx(m.final.duration_s, abs=0.01)
    assert not checks["duration"].passed  # 8 s of a 15 s target: the reviewer sees it
    passed = sum(c.passed for c in m.quality.checks)
    assert m.stages["quality"].detail == f"{passed}/{len(m.quality.checks)} passed"

    # the CLI trims again from the full video, not from the cut
    result = CliRunner().invoke(app, ["trim", vid, "--start", "1", "--by", "bob"])
    assert result.exit_code == 0, result.output
    m2, _ = manifests.load(store, vid)
    assert m2.trim is not None and m2.trim.untrimmed == first.final
    assert m2.final is not None and abs(m2.final.duration_s - (full - 1)) < 0.15
    assert avatar_path.stat().st_mtime_ns == avatar_mtime

    # a cached rerun keeps the cut; an approved video is not trimmed
    assert produce_video(item_id, options=ProduceOptions(duration_s=15, aspect="1:1")) == vid
    m3, _ = manifests.load(store, vid)
    assert m3.final == m2.final and m3.trim == m2.trim
    manifests.decide(store, vid, ReviewState.APPROVED, by="ann")
    r = client.post(f"/api/videos/{vid}/trim", json={"start_s": 1})
    assert_problem(r, 409, "approved")


@pytest.mark.usefixtures("page_env")
def test_page_trim_starts_a_trim_of_the_full_video(
    store: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("streamlit")
    from test_review_app import button, open_page, texts
    from test_review_app_support import add_video, tiny_mp4

    from flows import trim
    from novaavatar.service import jobs

    m = add_video(store, 2, tiny_mp4(tmp_path / "tiny.mp4"))
    store.put_bytes(f"items/{m.item.id}.json", m.item.model_dump_json().encode())

    def longer(v: Any) -> None:  # the stand-in's metadata: a 12 s video
        v.final = v.final.model_copy(update={"duration_s": 12.0})

    m = manifests.update(store, m.video_id, longer)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(trim, "trim_video", lambda **kw: calls.append(kw) or kw["video_id"])
    at = open_page("views/review.py", video=m.video_id)
    assert "Trim" in [e.label for e in at.expander]
    at.text_input(key="reviewer").input("Ada").run()
    at.number_input(key=f"edit_start_{m.video_id}_{m.version}").set_value(1.5)
    at.number_input(key=f"edit_end_{m.video_id}_{m.version}").set_value(9.0)
    button(at, "Trim").click().run()
    jobs.wait_all(timeout=90)
    assert not at.exception, at.exception
    assert calls == [{"video_id": m.video_id, "start_s": 1.5, "end_s": 9.0, "reviewer": "Ada"}]
    assert "Trimming" in texts(at)


# --- swap the background -------------------------------------------------------------------


def _png(color: tuple[int, int, int], size: tuple[int, int] = (400, 300)) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.usefixtures("prefect_harness")
def test_swap_the_background_reruns_only_what_depends_on_it(
    client: httpx.Client,  # noqa: F811
    store: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    from typer.testing import CliRunner

    from flows.produce import produce_video
    from flows.scrape import scrape_content
    from novaavatar.cli import app
    from novaavatar.media import extract_frame
    from novaavatar.settings import get_settings

    get_settings.cache_clear()
    item_id = scrape_content(sample=True, limit=1)[0].id
    vid = produce_video(item_id, options=ProduceOptions(duration_s=15, aspect="1:1"))
    first, _ = manifests.load(store, vid)
    assert first.final is not None
    before = {s: _stage(store, vid, s) for s in ("script", "speech", "background", "avatar")}

    r = client.post(
        f"/api/videos/{vid}/background",
        files={"image": ("bg.png", b"not an image at all", "image/png")},
    )
    assert_problem(r, 422, "background image 'bg.png' is not a readable image")
    r = client.post(f"/api/videos/{vid}/background", data={"reviewer": "ann"})
    assert_problem(r, 422, "either an image or a prompt")

    magenta = (255, 0, 255)
    r = client.post(
        f"/api/videos/{vid}/background",
        files={"image": ("bg.png", _png(magenta), "image/png")},
        data={"reviewer": "ann", "expected_version": str(first.version)},
    )
    assert r.status_code == 202, r.text
    job = _finished(client, r.json(), 180)
    assert job["state"] == "completed", job
    m, _ = manifests.load(store, vid)
    assert m.state is ReviewState.PENDING and m.final is not None
    assert m.background_swap is not None and m.background_swap.image_key
    assert (m.history[-1].by, m.history[-1].note) == (
        "ann",
        "swapped the background: an uploaded image",
    )
    assert m.stages["background"].provider == "upload"
    edited = wait_for_event(vid, EDITED, kind="background", by="ann", version=m.version)
    assert edited["payload"]["note"] == "swapped the background: an uploaded image"
    for stage in ("script", "speech"):  # upstream of the background: from the cache
        assert _stage(store, vid, stage) == before[stage], stage
    for stage in ("background", "avatar"):
        assert _stage(store, vid, stage) != before[stage], stage
    assert m.final.key != first.final.key
    # the uploaded colour fills the frame's edges, where the presenter does not stand
    frame = extract_frame(store.materialize(m.final.key), 5.0)
    h, w = frame.shape[:2]
    edge = frame[h // 3 : h // 2, : w // 20].reshape(-1, 3).mean(axis=0)
    assert edge[0] > 200 and edge[1] < 60 and edge[2] > 200, edge

    # the CLI: a new prompt instead; the script and speech still from the cache
    result = CliRunner().invoke(
        app, ["background", vid, "--prompt", "a calm sea at dawn, no text", "--by", "bob"]
    )
    assert result.exit_code == 0, result.output
    m2, _ = manifests.load(store, vid)
    assert m2.background_swap is not None and m2.background_swap.prompt.startswith("a calm sea")
    assert m2.stages["background"].provider == "procedural"
    assert m2.history[-1].note == "swapped the background: prompt 'a calm sea at dawn, no text'"
    for stage in ("script", "speech"):
        assert _stage(store, vid, stage) == before[stage], stage
    assert m2.stages["background"].keys != first.stages["background"].keys


@pytest.mark.usefixtures("page_env")
def test_page_swaps_the_background_for_a_prompt(
    store: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("streamlit")
    from test_review_app import button, open_page, texts
    from test_review_app_support import add_video, tiny_mp4

    from flows import produce
    from novaavatar.domain import Regeneration
    from novaavatar.service import jobs

    m = add_video(store, 3, tiny_mp4(tmp_path / "tiny.mp4"), state=ReviewState.REJECTED)
    store.put_bytes(f"items/{m.item.id}.json", m.item.model_dump_json().encode())
    calls: list[Regeneration] = []

    def stand_in(item_id: str, options: dict, regenerate: dict) -> str:
        calls.append(Regeneration.model_validate(regenerate))
        return m.video_id

    monkeypatch.setattr(produce, "produce_video", stand_in)
    at = open_page("views/review.py", video=m.video_id)
    assert "Swap the background" in [e.label for e in at.expander]
    at.text_input(key="reviewer").input("Ada").run()
    at.text_input(key=f"edit_bg_prompt_{m.video_id}_{m.version}").input("a quiet library")
    button(at, "Swap the background").click().run()
    jobs.wait_all(timeout=90)
    assert not at.exception, at.exception
    assert len(calls) == 1 and calls[0].background is not None
    assert (calls[0].background.prompt, calls[0].reviewer) == ("a quiet library", "Ada")
    assert calls[0].script is None and calls[0].stages == ()
    assert "Swapping the background" in texts(at)
