"""Every page of the review app, run with Streamlit's AppTest against a temporary store."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from test_review_app_support import add_video, tiny_mp4

from novaavatar import manifests
from novaavatar.domain import ContentItem, ReviewState
from novaavatar.settings import DEFAULT_FEEDS
from novaavatar.store import ArtifactStore

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "review_app" / "app.py"


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_mp4(tmp_path_factory.mktemp("media") / "tiny.mp4")


@pytest.fixture(autouse=True)
def _no_login(monkeypatch: pytest.MonkeyPatch, prefect_server: str) -> None:
    """No login; jobs the page starts run in this process (the session's server has no
    deployments) instead of each waiting for a temporary server to start."""
    from novaavatar.service import jobs as actions

    for name in ("REVIEW_PASSWORD", "REVIEWERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    actions.wait_all()
    actions.forget_finished()  # jobs other tests ran in this process are not this page's


def open_page(page: str | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params.update(query)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    """Everything the page shows as text, to assert on."""
    parts: list[str] = []
    for kind in (
        "title",
        "subheader",
        "markdown",
        "caption",
        "error",
        "warning",
        "info",
        "success",
    ):
        parts += [str(e.value) for e in at.get(kind)]
    return "\n".join(parts)


def button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def state_of(store: ArtifactStore, vid: str) -> ReviewState:
    return manifests.load(store, vid)[0].state


# -- Dashboard ---------------------------------------------------------------------------


def test_dashboard_counts_states_and_links_runs(store: ArtifactStore) -> None:
    add_video(store, 0, None)
    add_video(store, 1, None, failed_check=True)
    add_video(store, 2, None, state=ReviewState.APPROVED)
    at = open_page()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Pending"] == "2"
    assert metrics["Needs attention"] == "1"
    assert metrics["Approved"] == "1"
    assert metrics["Rejected"] == "0"
    assert "Videos per day" in texts(at)
    recent = at.dataframe[-1].value
    assert list(recent["video"]) == [f"./review?video=vid-test000{n}" for n in (2, 1, 0)]


def test_dashboard_with_an_empty_store_says_what_to_do(store: ArtifactStore) -> None:
    at = open_page()
    assert "No videos yet" in texts(at)


# -- Review queue ------------------------------------------------------------------------


def test_review_shows_video_script_sources_stages_and_failed_checks(
    store: ArtifactStore, mp4: Path
) -> None:
    add_video(store, 0, mp4, failed_check=True)
    at = open_page("views/review.py")
    shown = texts(at)
    assert "Harbour bridge reopens" in shown
    assert "[https://news.example.org/story-0]" not in shown  # links are shortened
    assert "news.example.org/story-0](https://news.example.org/story-0)" in shown
    assert "1 of 3 checks failed:** loudness" in shown
    assert len(at.get("video")) == 1
    quality = at.dataframe[0].value
    assert (quality["result"][0], quality["check"][0]) == ("FAILED", "loudness")
    assert "Quality check failed — loudness:** -31.0" in shown  # beside the buttons too
    stages = at.dataframe[1].value
    assert dict(zip(stages["stage"], stages["provider"], strict=True))["avatar"] == "lite"
    assert list(stages["stage"]) == ["script", "background", "speech", "avatar", "compose"]


def test_stage_tables_keep_pipeline_order(store: ArtifactStore, mp4: Path) -> None:
    from novaavatar.domain import StageRecord
    from novaavatar.service.lookup import stage_averages

    m = add_video(store, 0, mp4)
    # a manifest whose stages were written alphabetically (as a JSON round trip may leave them)
    shuffled = {n: m.stages[n] for n in sorted(m.stages)} | {
        "quality": StageRecord(provider="checks")
    }
    m = m.model_copy(update={"stages": dict(sorted(shuffled.items()))})
    assert next(iter(m.stages)) == "avatar"
    manifests.save(store, m, store.get_with_etag(m.key_for(m.video_id))[1])
    at = open_page("views/review.py")
    stages = at.dataframe[1].value
    assert list(stages["stage"]) == [
        "script",
        "background",
        "speech",
        "avatar",
        "compose",
        "quality",
    ]
    assert list(stage_averages([m])) == list(stages["stage"])
    assert at.query_params["video"] == "vid-test0000"


def test_review_warns_when_the_avatar_fell_back_to_lite(store: ArtifactStore, mp4: Path) -> None:
    why = (
        "OmniAvatar did not render this video (no face found in the reference frame); "
        "the lite renderer made it"
    )
    add_video(store, 0, mp4, avatar_warnings=(why,))
    at = open_page("views/review.py")
    assert f"**Avatar:** {why}" in [w.value for w in at.warning]


def test_approve_and_reject_are_recorded_with_reviewer_and_move_on(
    store: ArtifactStore, mp4: Path
) -> None:
    add_video(store, 0, mp4)
    add_video(store, 1, mp4)
    at = open_page("views/review.py")
    first = at.query_params["video"]
    assert first == "vid-test0001"  # newest first

    button(at, "Approve").click().run()  # nobody named yet: refused
    assert "Enter your name in the sidebar" in texts(at)
    assert state_of(store, first) is ReviewState.PENDING

    at.text_input(key="reviewer").input("Ada").run()
    button(at, "Approve").click().run()
    assert not at.exception
    m, _ = manifests.load(store, first)
    assert m.state is ReviewState.APPROVED
    assert (m.history[-1].by, m.history[-1].state) == ("Ada", ReviewState.APPROVED)
    assert at.query_params["video"] == "vid-test0000"  # moved on to the next one

    button(at, "Reject").click().run()  # a rejection needs a note
    assert "A rejection needs a note" in texts(at)
    assert state_of(store, "vid-test0000") is ReviewState.PENDING

    at.text_input(key="review_note").input("the presenter mispronounces the city")
    button(at, "Reject").click().run()
    m, _ = manifests.load(store, "vid-test0000")
    assert m.state is ReviewState.REJECTED
    assert m.history[-1].note == "the presenter mispronounces the city"
    assert m.history[-1].by == "Ada"
    assert "No pending videos" in texts(at)


def test_a_rejection_and_next_in_one_run_keep_the_note(store: ArtifactStore, mp4: Path) -> None:
    """Enter in the note then J at once: Streamlit merges the two into one run whose
    callbacks both fire. Moving on must not clear the note before the rejection has read it."""
    for n in range(3):
        add_video(store, n, mp4)
    at = open_page("views/review.py")
    at.text_input(key="reviewer").input("Ada").run()
    shown = at.query_params["video"]
    at.text_input(key="review_note").input("wrong name in the second sentence")
    button(at, "Next").click()  # the J, registered first
    button(at, "Reject").click().run()
    assert not at.exception
    m, _ = manifests.load(store, shown)
    assert m.state is ReviewState.REJECTED, texts(at)
    assert m.history[-1].note == "wrong name in the second sentence"
    assert at.query_params["video"] != shown
    assert at.text_input(key="review_note").value == ""  # the next video's note starts empty


def test_a_concurrent_decision_is_shown_not_overwritten(store: ArtifactStore, mp4: Path) -> None:
    add_video(store, 0, mp4)
    at = open_page("views/review.py")
    at.text_input(key="reviewer").input("Ada").run()
    # Someone else rejects the video while Ada is watching it.
    manifests.decide(store, "vid-test0000", ReviewState.REJECTED, by="Grace", note="off topic")
    button(at, "Approve").click().run()
    shown = texts(at)
    assert "Conflict — not saved" in shown
    assert "by Grace (rejected)" in shown
    m, _ = manifests.load(store, "vid-test0000")
    assert m.state is ReviewState.REJECTED and m.history[-1].by == "Grace"


@pytest.mark.parametrize("raw", ["../../x", "vid-doesnotexist", "VID-0000"])
def test_unknown_or_path_like_video_in_the_url_is_not_found(store: ArtifactStore, raw: str) -> None:
    add_video(store, 0, None)
    at = open_page("views/review.py", video=raw)
    assert len(at.error) == 1
    assert "Not found." in at.error[0].value
    assert raw in at.error[0].value
    button(at, "Open the first video in the queue").click().run()
    assert at.query_params["video"] == "vid-test0000"
    assert not at.error


def test_a_shared_root_link_opens_the_video_in_the_queue(store: ArtifactStore) -> None:
    add_video(store, 0, None)
    add_video(store, 1, None)
    at = open_page(video="vid-test0000")
    assert "Library lends" not in texts(at)
    assert "Harbour bridge reopens" in texts(at)


def test_regenerate_reruns_one_stage_and_returns_the_video_to_the_queue(
    store: ArtifactStore, mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page starts ``produce_video`` with the video's own options and a regeneration in
    the background; a stand-in records the call and applies the manifest change the real
    flow makes (a full re-render is not needed to test the page)."""
    from flows import produce
    from novaavatar.service import jobs as actions

    add_video(store, 0, mp4, state=ReviewState.REJECTED)
    calls = []

    video_id = "vid-test0000"
    made_with, _ = manifests.load(store, video_id)

    def fake_regenerate(item_id: str, options: dict, regenerate: dict) -> str:
        from novaavatar.domain import ProduceOptions

        stages, reviewer = list(regenerate["stages"]), regenerate["reviewer"]
        calls.append((item_id, stages, reviewer))
        # every option as the video was made, so its id cannot change
        assert ProduceOptions.model_validate(options).chosen() == made_with.options.chosen() | {
            "template": "none",
            "presenter": "none",
        }

        def change(m: Any) -> None:
            m.takes = {**m.takes, **{s: m.takes.get(s, 0) + 1 for s in stages}}
            m.reopen(by=reviewer, note=f"regenerated: {', '.join(stages)}")

        manifests.update(store, video_id, change)
        return video_id

    monkeypatch.setattr(produce, "produce_video", fake_regenerate)
    at = open_page("views/review.py", video="vid-test0000")
    at.text_input(key="reviewer").input("Ada").run()
    at.selectbox(key="regen_stage").select("voice").run()
    button(at, "Regenerate").click().run()
    actions.wait_all(timeout=10)
    at.run()
    assert calls == [(made_with.item.id, ["speech"], "Ada")]
    m, _ = manifests.load(store, "vid-test0000")
    assert m.state is ReviewState.PENDING and m.takes == {"speech": 1}
    assert (m.history[-1].by, m.history[-1].note) == ("Ada", "regenerated: speech")
    assert "regenerate speech of vid-test0000** — done" in texts(at)


def test_a_corrupt_manifest_is_reported_and_the_rest_still_shows(
    store: ArtifactStore, mp4: Path
) -> None:
    add_video(store, 0, mp4)
    store.put_bytes("videos/vid-broken01/manifest.json", b'{"video_id": "vid-broken01", "ver')
    at = open_page("views/review.py")
    assert "1 manifest(s) could not be read" in at.warning[0].value
    assert "videos/vid-broken01/manifest.json" in at.warning[0].value
    assert "Harbour bridge reopens" in texts(at)


def test_an_unusable_store_shows_a_banner_not_a_traceback(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from novaavatar.settings import get_settings

    monkeypatch.setenv("TTS_SPEED", "5")  # settings cannot load, so neither can the store
    get_settings.cache_clear()
    for page in (None, "views/review.py", "views/exports.py", "views/settings.py"):
        at = open_page(page)
        assert "Store unavailable." in at.error[0].value
        assert "TTS_SPEED" in at.error[0].value


# -- Sources -----------------------------------------------------------------------------


def _scraped(store: ArtifactStore, n: int = 3) -> list[ContentItem]:
    items = [
        ContentItem.make(
            title=f"Story number {i}",
            url=f"https://example.org/{i}",
            source="Wire",
            score=1 - i / 10,
        )
        for i in range(n)
    ]
    for i in items:
        store.put_bytes(f"items/{i.id}.json", i.model_dump_json().encode())
    store.put_json(
        "items/latest.json",
        {"ids": [i.id for i in items], "errors": {"https://down.example": "timed out"}},
    )
    return items


def test_sources_lists_items_and_produces_the_chosen_ones(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows import produce, scrape
    from novaavatar.service import jobs as actions

    items = _scraped(store)
    batches: list[dict[str, Any]] = []
    scrapes: list[dict[str, Any]] = []
    monkeypatch.setattr(produce, "produce_batch", lambda **kw: batches.append(kw) or [])
    monkeypatch.setattr(scrape, "scrape_content", lambda **kw: scrapes.append(kw) or items)

    at = open_page("views/sources.py")
    table = at.dataframe[0].value
    assert list(table["title"]) == [i.title for i in items]
    assert "Source `https://down.example` failed" in texts(at)

    at.multiselect(key="produce_items").select(items[2].id).select(items[0].id)
    at.selectbox(key="produce_style").select("casual")
    at.selectbox(key="produce_aspect").select("16:9")
    next(b for b in at.form_submit_button if b.label == "Produce").click().run()
    at.text_input(key="scrape_keywords").input("bridge, harbour")
    next(b for b in at.form_submit_button if b.label == "Scrape").click().run()
    actions.wait_all(timeout=10)
    assert batches == [
        {
            "item_ids": [items[2].id, items[0].id],
            "top": 2,
            # only what was chosen: the format's default template fills the rest
            "options": {
                "style": "casual",
                "duration_s": 30.0,
                "aspect": "16:9",
                "format": "single",
            },
            "languages": ["en"],
        }
    ]
    # the feed list starts as RSS_FEEDS: the original design's outlets
    assert scrapes == [
        {"sources": list(DEFAULT_FEEDS.values()), "keywords": ["bridge", "harbour"], "limit": 20}
    ]


def _produce_page(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> tuple[AppTest, list[ContentItem], list[dict[str, Any]]]:
    from flows import produce

    items = _scraped(store)
    batches: list[dict[str, Any]] = []
    monkeypatch.setattr(produce, "produce_batch", lambda **kw: batches.append(kw) or [])
    return open_page("views/sources.py"), items, batches


def _submit(at: AppTest) -> None:
    from novaavatar.service import jobs as actions

    next(b for b in at.form_submit_button if b.label == "Produce").click().run()
    assert not at.exception, at.exception
    actions.wait_all(timeout=10)


def test_sources_produce_a_conversation_in_two_languages_with_a_template(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    at, items, batches = _produce_page(store, monkeypatch)
    at.selectbox(key="produce_format").select("conversation").run()
    slider = at.slider(key="produce_duration")
    assert (slider.min, slider.max) == (15, 90)
    assert not [s for s in at.selectbox if s.key == "produce_transition"]  # explainers only
    template = at.selectbox(key="produce_template")
    assert (
        template.options[0] == "format's default (news)" and "none (plain look)" in template.options
    )
    at.multiselect(key="produce_items").select(items[1].id)
    at.multiselect(key="produce_languages").select("es").select("ar").unselect("en")
    at.selectbox(key="produce_template").set_value("shorts@1")
    at.slider(key="produce_duration").set_value(45)
    _submit(at)
    assert batches == [
        {
            "item_ids": [items[1].id],
            "top": 1,
            "options": {
                "style": "news_anchor",
                "duration_s": 45.0,
                "aspect": "9:16",
                "format": "conversation",
                "template": "shorts@1",
            },
            "languages": ["es", "ar"],
        }
    ]


def test_sources_produce_an_explainer_takes_its_own_range_and_transition(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    at, items, batches = _produce_page(store, monkeypatch)
    at.selectbox(key="produce_format").select("explainer").run()
    slider = at.slider(key="produce_duration")
    assert (slider.min, slider.max, slider.value) == (60, 300, 60)  # the range follows
    assert at.selectbox(key="produce_template").options[0] == "format's default (explainer)"
    at.multiselect(key="produce_items").select(items[0].id)
    at.selectbox(key="produce_template").set_value("none")
    at.selectbox(key="produce_transition").select("wipe")
    at.slider(key="produce_duration").set_value(120)
    _submit(at)
    assert batches == [
        {
            "item_ids": [items[0].id],
            "top": 1,
            "options": {
                "style": "news_anchor",
                "duration_s": 120.0,
                "aspect": "9:16",
                "format": "explainer",
                "template": "none",  # the plain look
                "transition": "wipe",
            },
            "languages": ["en"],
        }
    ]


def test_sources_refuse_options_that_do_not_fit_and_start_nothing(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from novaavatar.errors import InputError
    from novaavatar.service import jobs as actions
    from novaavatar.service.production import options_from, produce

    at, items, batches = _produce_page(store, monkeypatch)
    # no language: the page says so and starts nothing
    at.multiselect(key="produce_items").select(items[0].id)
    at.multiselect(key="produce_languages").unselect("en")
    _submit(at)
    assert "Nothing was started: languages: choose at least one" in texts(at)
    assert batches == [] and actions.jobs() == []
    # the page's slider cannot offer 30 s for an explainer; the action refuses it anyway
    with pytest.raises(InputError, match=r"does not fit format 'explainer': use 60-300 seconds"):
        options_from(dict(style="casual", duration_s=30, format="explainer"))
    with pytest.raises(InputError, match="unknown language 'xx'"):
        produce(store, [items[0].id], options_from({"style": "casual"}), ["en", "xx"])
    actions.wait_all(timeout=10)
    assert batches == [] and actions.jobs() == []


def test_sources_without_a_scrape_says_so(store: ArtifactStore) -> None:
    at = open_page("views/sources.py")
    assert "No items yet" in texts(at)
    assert "Load sample stories" in [b.label for b in at.button]


def test_sources_without_network_say_so_and_load_the_sample_only_on_request(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows import scrape
    from novaavatar.service import jobs as actions

    errors = {
        url: f"feed {url}: could not connect ([Errno -3] Temporary failure in name resolution)"
        for url in DEFAULT_FEEDS.values()
    }
    store.put_json("items/latest.json", {"ids": [], "errors": errors, "all_failed": True})
    scrapes: list[dict[str, Any]] = []
    monkeypatch.setattr(scrape, "scrape_content", lambda **kw: scrapes.append(kw) or [])
    at = open_page("views/sources.py")
    shown = texts(at)
    assert "No network." in shown and "None of the 5 sources could be reached" in shown
    assert "No items yet" not in shown and scrapes == []  # nothing substituted by itself
    button(at, "Load sample stories").click().run()
    actions.wait_all(timeout=10)
    assert scrapes == [{"sources": [], "keywords": [], "limit": 20, "sample": True}]


def test_sample_items_and_videos_are_badged(store: ArtifactStore, mp4: Path) -> None:
    from tasks.scrape import load_sample_items

    items = load_sample_items(max_items=2)
    for i in items:
        store.put_bytes(f"items/{i.id}.json", i.model_dump_json().encode())
    store.put_json("items/latest.json", {"ids": [i.id for i in items], "errors": {}})
    at = open_page("views/sources.py")
    assert "SAMPLE — not real news:** 4 of these items" in texts(at)
    assert all("SAMPLE — not real news" in s for s in at.dataframe[0].value["source"])

    add_video(store, 0, mp4, sample=True)
    add_video(store, 1, mp4)
    at = open_page("views/review.py", video="vid-test0000")
    assert "SAMPLE — not real news.** This story comes from the bundled sample feed" in texts(at)
    at = open_page("views/review.py", video="vid-test0001")
    assert "SAMPLE" not in texts(at)


# -- Exports -----------------------------------------------------------------------------


def test_exports_exports_approved_videos_and_offers_downloads(
    store: ArtifactStore, mp4: Path
) -> None:
    add_video(store, 0, mp4, state=ReviewState.APPROVED)
    add_video(store, 1, mp4)  # pending: not offered
    at = open_page("views/exports.py")
    assert "Approved, not exported yet · 1" in texts(at)
    # an export is recorded with who did it: nobody named, nothing exported
    assert "Enter your name in the sidebar to export" in texts(at)
    assert button(at, "Export 1 approved video(s)").disabled
    at.text_input(key="reviewer").input("Ada").run()
    button(at, "Export 1 approved video(s)").click().run()
    assert state_of(store, "vid-test0000") is ReviewState.EXPORTED
    exported, _ = manifests.load(store, "vid-test0000")
    assert (exported.history[-1].state, exported.history[-1].by) == (ReviewState.EXPORTED, "Ada")
    assert state_of(store, "vid-test0001") is ReviewState.PENDING
    assert "Exported 1 video(s): vid-test0000" in texts(at)
    labels = [d.label for d in at.get("download_button")]
    assert labels == ["MP4 video", "Captions (SRT)", "Captions (VTT)", "Metadata (JSON)"]
    meta = json.loads(store.get_bytes("exports/vid-test0000/metadata.json"))
    assert meta["approved_by"] == "earlier reviewer"


# -- Settings ----------------------------------------------------------------------------


def test_settings_show_config_and_providers_but_never_secrets(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from novaavatar.settings import get_settings

    secret = "sk-test-do-not-show-4242"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("REVIEW_PASSWORD", "hunter2-secret")
    get_settings.cache_clear()
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["signed_in"] = True
    at.session_state["reviewer"] = "Ada"
    at.run().switch_page("views/settings.py").run()
    assert not at.exception
    config = at.dataframe[1].value
    values = dict(zip(config["setting"], config["value"], strict=True))
    assert values["OPENAI_API_KEY"] == "set"
    assert values["REPLICATE_API_TOKEN"] == "not set"
    assert values["TTS_SPEED"] == "165"
    providers = at.dataframe[0].value
    assert {"script", "background", "speech", "avatar"} <= set(providers["stage"])
    everything = texts(at) + config.to_csv() + providers.to_csv()
    assert secret not in everything and "hunter2-secret" not in everything
    assert "password set" in everything


# -- Manual creation ---------------------------------------------------------------------


def test_manual_creation_checks_uploads_by_content_and_starts_the_flow(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    from flows import manual
    from novaavatar.service import jobs as actions

    started: list[dict[str, Any]] = []
    monkeypatch.setattr(manual, "manual_create", lambda **kw: started.append(kw) or "vid-manual")
    at = open_page("views/manual.py")
    assert button(at, "Create video").disabled
    at.file_uploader(key="manual_portrait").upload(
        "face.png", b"GIF89a not really", "image/png"
    ).run()
    assert "is not a readable image" in at.error[0].value
    good = io.BytesIO()
    Image.new("RGB", (256, 320), "white").save(good, format="JPEG")
    at.file_uploader(key="manual_portrait").upload("face.png", good.getvalue(), "image/png").run()
    assert not at.error
    at.radio(key="manual_mode").set_value("Uploaded audio").run()
    at.file_uploader(key="manual_audio").upload("speech.wav", b"", "audio/wav").run()
    assert "is empty (0 bytes)" in at.error[0].value
    at.radio(key="manual_mode").set_value("Text to speech").run()
    at.text_input(key="manual_title").input("Welcome")
    at.text_area(key="manual_text").input("Hello and welcome to the evening news.").run()
    # a portrait is a real person's likeness: no video without the attestation and a name
    assert button(at, "Create video").disabled and "consent box ticked" in texts(at)
    at.checkbox(key="manual_consent").check().run()
    assert button(at, "Create video").disabled  # nobody named yet
    at.text_input(key="manual_consent_by").input("Ada Lovelace").run()
    assert not button(at, "Create video").disabled
    button(at, "Create video").click().run()
    actions.wait_all(timeout=10)
    assert len(started) == 1
    params = started[0]
    portrait_key = params["options"]["portrait_key"]
    assert portrait_key.startswith("uploads/") and portrait_key.endswith(".jpg")
    assert store.exists(portrait_key)
    from novaavatar.consent import consent_for

    recorded = consent_for(store, portrait_key)
    assert recorded is not None and (recorded.by, recorded.via) == ("Ada Lovelace", "review page")
    assert (params["title"], params["text"], params["audio_key"]) == (
        "Welcome",
        "Hello and welcome to the evening news.",
        None,
    )


# -- Access ------------------------------------------------------------------------------


def test_password_login_gates_the_pages_and_names_the_reviewer(
    store: ArtifactStore, mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_video(store, 0, mp4)
    monkeypatch.setenv("REVIEW_PASSWORD", "open sesame")
    monkeypatch.setenv("REVIEWERS", "Ada, Grace")
    at = open_page()
    assert not at.metric  # nothing behind the login shows
    at.text_input(key="login_name").input("Ada")
    at.text_input(key="login_password").input("wrong")
    at.form_submit_button[0].click().run()
    assert at.error[0].value == "Wrong password."
    at.text_input(key="login_name").input("Mallory")
    at.text_input(key="login_password").input("open sesame")
    at.form_submit_button[0].click().run()
    assert "not one of the configured reviewers" in at.error[0].value
    at.text_input(key="login_name").input("Grace")
    at.form_submit_button[0].click().run()
    assert {m.label for m in at.metric} >= {"Pending", "Approved"}
    assert "Signed in as **Grace**" in texts(at)
    at.switch_page("views/review.py").run()
    button(at, "Approve").click().run()
    m, _ = manifests.load(store, "vid-test0000")
    assert (m.state, m.history[-1].by) == (ReviewState.APPROVED, "Grace")
