"""A/B takes: one item made as 2-4 videos whose scripts differ in hook and style, reviewed
side by side; choosing one rejects the others, and the wins show per style and hook."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes import FakeOpenAI
from pydantic import ValidationError
from test_api import api_env, client, serve  # noqa: F401  (fixtures)
from test_review_app_support import add_video, tiny_mp4
from typer.testing import CliRunner

from novaavatar import manifests
from novaavatar.domain import (
    HOOKS,
    VARIANT_LOST,
    ContentItem,
    ProduceOptions,
    ReviewState,
    VariantTake,
    VideoManifest,
    utcnow,
    variant_takes,
    video_id_for,
)
from novaavatar.service import decisions
from novaavatar.stats import WinRate, usage
from novaavatar.store import ArtifactStore

ITEM = ContentItem.make(
    title="Harbour ferry runs on sunlight",
    url="https://news.example/ferry-ab",
    source="Coast Times",
    summary="The city launched its first solar ferry on Monday. It carries 120 passengers. "
    "Tickets cost two euros.",
)


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_mp4(tmp_path_factory.mktemp("media") / "tiny.mp4")


def _group(
    store: ArtifactStore, mp4: Path | None, n: int = 2, first: int = 0
) -> list[VideoManifest]:
    """``n`` pending takes of one item in one group, as the produce flow records them
    (videos ``vid-test<first>`` on)."""
    takes = variant_takes(ITEM, ProduceOptions(variants=n))
    out = []
    for i, (options, take) in enumerate(takes):
        vid = add_video(store, first + i, mp4).video_id

        def mark(m: VideoManifest, options: ProduceOptions = options, take: Any = take) -> None:
            m.item, m.options, m.variant = ITEM, options, take
            m.created_at = utcnow()  # in the window `stats` counts

        out.append(manifests.update(store, vid, mark))
    return out


# -- which takes, with which ids -----------------------------------------------------------


def test_takes_differ_in_hook_and_style_have_own_ids_and_single_ids_stay() -> None:
    # ids a single video had before takes existed (computed by the code before this change)
    assert video_id_for(ITEM, ProduceOptions()) == "vid-16bea095decd"
    plain = ProduceOptions(style="casual", duration_s=20, aspect="16:9")
    assert video_id_for(ITEM, plain) == "vid-793dfaab5727"
    assert video_id_for(ITEM, ProduceOptions(variants=1)) == "vid-16bea095decd"

    takes = variant_takes(ITEM, ProduceOptions(variants=3, style="casual"))
    assert [t.label for _, t in takes if t] == ["A", "B", "C"]
    assert len({t.group for _, t in takes if t}) == 1
    assert len({o.hook for o, _ in takes}) == 3 and len({o.style for o, _ in takes}) == 3
    assert takes[0][0].style == "casual"  # the first take keeps the chosen style
    assert all(o.variants == 1 and t and (o.hook, o.style) == (t.hook, t.style) for o, t in takes)
    ids = {video_id_for(ITEM, o) for o, _ in takes}
    assert len(ids) == 3 and "vid-793dfaab5727" not in ids
    assert variant_takes(ITEM, ProduceOptions(variants=3, style="casual")) == takes  # stable
    chosen = variant_takes(ITEM, ProduceOptions(variants=2, hook="question"))
    assert [o.hook for o, _ in chosen] == ["question", HOOKS[HOOKS.index("question") + 1]]
    assert variant_takes(ITEM, ProduceOptions()) == [(ProduceOptions(), None)]
    # a take regenerated later is made with its own options: same id, one video, no new group
    from novaavatar import templates
    from novaavatar.service.production import as_chosen

    for o, take in variant_takes(ITEM, templates.build_options({"variants": 2})):
        m = VideoManifest(video_id=video_id_for(ITEM, o), item=ITEM, options=o, variant=take)
        again = templates.build_options(as_chosen(m).chosen())  # as the flow resolves it
        assert video_id_for(ITEM, again) == m.video_id
        assert variant_takes(ITEM, again)[0][1] is None
    with pytest.raises(ValidationError, match="less than or equal to 4"):
        ProduceOptions(variants=5)
    with pytest.raises(ValidationError, match="hook"):
        ProduceOptions(hook="clickbait")  # type: ignore[arg-type]


def test_the_offline_template_opens_each_take_with_its_hook() -> None:
    from tasks.script import TemplateScriptProvider

    takes = variant_takes(ITEM, ProduceOptions(variants=4, duration_s=20))
    texts = {
        o.hook: TemplateScriptProvider().write(ITEM, o.style, 20, 2.5, hook=o.hook).text
        for o, _ in takes
    }
    assert len(set(texts.values())) == 4
    assert "Have you heard what Coast Times is reporting about" in texts["question"]
    assert "could matter to you" in texts["stakes"]
    assert "Straight to the news from Coast Times." in texts["headline"]
    assert "that you might not expect" in texts["surprise"]
    for text in texts.values():  # every take still says the item's facts
        assert "Harbour ferry runs on sunlight." in text and "120 passengers" in text


def test_openai_is_asked_for_each_takes_hook() -> None:
    from tasks.script.openai_script import OpenAIScriptProvider

    def answer(script: str) -> dict[str, Any]:
        return {
            "title": "Harbour ferry runs on sunlight",
            "script": script,
            "call_to_action": "Follow for more.",
            "scene_description": "A sunny harbour with a ferry",
            "keywords": ["ferry", "solar"],
        }

    with FakeOpenAI() as fake:
        fake.hooks = {
            "question": answer("Could a ferry run on sunlight? The city launched one on Monday."),
            "stakes": answer("Your commute may change: a solar ferry launched on Monday."),
        }
        p = OpenAIScriptProvider(fake.api_key, base_url=fake.base_url, timeout_s=5.0)
        q = p.write(ITEM, "casual", 20, 2.5, hook="question")
        s = p.write(ITEM, "news_anchor", 20, 2.5, hook="stakes")
        plain = p.write(ITEM, "casual", 20, 2.5)
    assert q.text.startswith("Could a ferry") and s.text.startswith("Your commute")
    systems = [r["messages"][0]["content"] for r in fake.requests]
    assert "one short question to the viewer" in systems[0]
    assert "why this story matters to the viewer" in systems[1]
    assert "(hook" not in systems[2] and plain.text not in (q.text, s.text)


# -- produce, choose, count ----------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_two_variants_make_two_pending_takes_and_choosing_one_rejects_the_other(
    store: ArtifactStore,
) -> None:
    from flows.produce import produce_video
    from novaavatar.cli import app

    store.put_bytes(f"items/{ITEM.id}.json", ITEM.model_dump_json().encode())
    first = produce_video(ITEM.id, options=ProduceOptions(variants=2, duration_s=15))
    m, _ = manifests.load(store, first)
    assert m.variant is not None and m.variant.label == "A"
    a, b = manifests.variant_group(store, m.variant.group)
    assert a.video_id == first and b.variant and b.variant.label == "B"
    assert a.video_id != b.video_id
    assert a.state is b.state is ReviewState.PENDING and a.final and b.final
    assert a.script and b.script and a.script.text != b.script.text
    assert (a.variant.hook, a.variant.style) != (b.variant.hook, b.variant.style)
    assert a.script.style == a.variant.style and b.script.style == b.variant.style
    # both takes record group, label, hook and style in their manifests
    raw = store.get_json(f"videos/{b.video_id}/manifest.json")
    assert raw["variant"]["group"] == m.variant.group and raw["variant"]["hook"] == b.variant.hook

    chosen = decisions.decide(store, b.video_id, ReviewState.APPROVED, "Ada")
    assert chosen.state is ReviewState.APPROVED
    lost, _ = manifests.load(store, a.video_id)
    assert lost.state is ReviewState.REJECTED
    assert (lost.history[-1].by, lost.history[-1].note) == ("Ada", VARIANT_LOST)

    u = usage(manifests.all_manifests(store))
    assert (u.variant_groups, u.variant_decided) == (1, 1)
    assert u.style_wins[b.variant.style] == WinRate(wins=1, takes=1)
    assert u.style_wins[a.variant.style] == WinRate(wins=0, takes=1)
    assert u.hook_wins[b.variant.hook] == WinRate(wins=1, takes=1)
    assert u.as_dict()["variants"]["hooks"][a.variant.hook] == {  # type: ignore[index]
        "wins": 0,
        "takes": 1,
        "win_rate": 0.0,
    }
    out = CliRunner().invoke(app, ["stats"])
    assert out.exit_code == 0, out.output
    assert "A/B groups: 1, a take chosen in 1" in out.output
    assert f"{b.variant.hook:14}    1      1     100%" in out.output
    assert f"{a.variant.style:14}    0      1       0%" in out.output


def test_choosing_again_moves_the_win_and_a_decided_take_is_left_alone(
    store: ArtifactStore, mp4: Path
) -> None:
    a, b, c = _group(store, mp4, 3)
    decisions.decide(store, c.video_id, ReviewState.REJECTED, "Bo", note="too loud")
    decisions.decide(store, a.video_id, ReviewState.APPROVED, "Ada")
    assert manifests.load(store, b.video_id)[0].history[-1].note == VARIANT_LOST
    assert manifests.load(store, c.video_id)[0].history[-1].note == "too loud"  # untouched
    # the reviewer changes their mind: B wins, the approved A is rejected
    seen = manifests.load(store, b.video_id)[0].version
    decisions.decide(store, b.video_id, ReviewState.APPROVED, "Ada", expected_version=seen)
    again, _ = manifests.load(store, a.video_id)
    assert again.state is ReviewState.REJECTED and again.history[-1].note == VARIANT_LOST
    u = usage(manifests.all_manifests(store))
    assert b.variant and u.hook_wins[b.variant.hook] == WinRate(wins=1, takes=1)
    assert sum(w.wins for w in u.style_wins.values()) == 1
    assert sum(w.takes for w in u.style_wins.values()) == 3


def test_of_two_takes_approved_at_once_the_later_approval_stands(
    store: ArtifactStore, mp4: Path
) -> None:
    a, b = _group(store, mp4)
    # two reviewers, two takes, at the same moment: both approvals are saved first
    first = manifests.decide(store, a.video_id, ReviewState.APPROVED, "Ada")
    second = manifests.decide(store, b.video_id, ReviewState.APPROVED, "Bo")
    assert decisions.reject_other_takes(store, first, "Ada") == []  # B came later: left
    assert decisions.reject_other_takes(store, second, "Bo") == [a.video_id]
    assert manifests.load(store, b.video_id)[0].state is ReviewState.APPROVED
    lost, _ = manifests.load(store, a.video_id)
    assert (lost.state, lost.history[-1].by) == (ReviewState.REJECTED, "Bo")


@pytest.mark.usefixtures("prefect_harness")
def test_the_take_not_chosen_is_a_rejected_event_with_the_note(store: ArtifactStore) -> None:
    from prefect.client.orchestration import get_client
    from prefect.events.worker import EventsWorker

    from novaavatar.events import video_resource

    a, b = _group(store, None, first=4310)  # ids no other test decides on (one server)
    decisions.decide(store, a.video_id, ReviewState.APPROVED, "Ada", wait_for_webhook=True)
    EventsWorker.drain_all()
    deadline = time.monotonic() + 30
    while True:
        with get_client(sync_client=True) as c:
            r = c.request(
                "POST",
                "/events/filter",
                json={"filter": {"resource": {"id": [video_resource(b.video_id)]}}, "limit": 5},
            )
        found = r.json()["events"]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    (event,) = found
    assert event["event"] == "novaavatar.video.rejected"
    assert (event["payload"]["by"], event["payload"]["note"]) == ("Ada", VARIANT_LOST)


# -- the doors: API, CLI, deployment, pages ------------------------------------------------


def test_the_api_takes_variants_and_approving_one_take_rejects_the_other(
    client: httpx.Client,  # noqa: F811
    store: ArtifactStore,
    mp4: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefect_server: str,
) -> None:
    from flows import produce

    a, b = _group(store, mp4)
    queue = client.get("/api/queue").json()["videos"]
    groups = {v["variant"]["group"] for v in queue if v["variant"]}
    assert groups == {a.variant.group if a.variant else ""}
    r = client.post(f"/api/queue/{a.video_id}/approve", json={"reviewer": "Ada"})
    assert r.status_code == 200 and r.json()["variant"]["label"] == "A"
    lost, _ = manifests.load(store, b.video_id)
    assert lost.state is ReviewState.REJECTED and lost.history[-1].note == VARIANT_LOST
    assert lost.history[-1].by == "Ada"
    assert 'novaavatar_variant_wins{hook="' in client.get("/metrics").text

    r = client.post("/api/generate", json={"item_id": ITEM.id, "variants": 9})
    assert r.status_code == 422 and "variants" in r.text
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(produce, "produce_video", lambda **kw: started.append(kw) or "vid-x")
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)  # the local run reports to it
    store.put_bytes(f"items/{ITEM.id}.json", ITEM.model_dump_json().encode())
    r = client.post("/api/generate", json={"item_id": ITEM.id, "variants": 2, "hook": "stakes"})
    assert r.status_code == 202, r.text
    assert "2 variants" in r.json()["label"]
    for _ in range(100):
        if started:
            break
        time.sleep(0.1)
    assert started == [{"item_id": ITEM.id, "options": {"variants": 2, "hook": "stakes"}}]


def test_the_cli_produces_variants_and_approve_rejects_the_other_take(
    store: ArtifactStore, mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows import produce
    from novaavatar.cli import app

    batches: list[dict[str, Any]] = []
    monkeypatch.setattr(produce, "produce_batch", lambda **kw: batches.append(kw) or [])
    store.put_bytes(f"items/{ITEM.id}.json", ITEM.model_dump_json().encode())
    out = CliRunner().invoke(app, ["produce", ITEM.id, "--variants", "2", "--hook", "question"])
    assert out.exit_code == 0, out.output
    assert batches[0]["options"] == {"variants": 2, "hook": "question"}
    out = CliRunner().invoke(app, ["produce", ITEM.id, "--variants", "7"])
    assert out.exit_code != 0 and "variants=7" in str(out.exception)  # one line, nothing run
    assert len(batches) == 1

    a, b = _group(store, mp4)
    out = CliRunner().invoke(app, ["approve", b.video_id, "--by", "Cy"])
    assert out.exit_code == 0, out.output
    lost, _ = manifests.load(store, a.video_id)
    assert (lost.state, lost.history[-1].by, lost.history[-1].note) == (
        ReviewState.REJECTED,
        "Cy",
        VARIANT_LOST,
    )


def test_the_deployment_parameter_survives_the_parameter_schema() -> None:
    from prefect.utilities.callables import parameter_schema
    from prefect.utilities.schema_tools import ValidationError as SchemaError
    from prefect.utilities.schema_tools import validate

    from flows.produce import produce_batch, produce_video
    from novaavatar.service.production import _parameters, options_from

    sent = _parameters(options_from({"variants": 2, "hook": "question"}))
    assert sent == {"variants": 2, "hook": "question"}
    for flow_fn, params in (
        (produce_video, {"item_id": ITEM.id, "options": sent}),
        (produce_batch, {"item_ids": [ITEM.id], "options": sent}),
    ):
        schema = parameter_schema(flow_fn.fn).model_dump()
        validate(params, schema, raise_on_error=True)  # what enforce_parameter_schema runs
        bad = {**params, "options": {"variants": 9}}
        with pytest.raises(SchemaError):
            validate(bad, schema, raise_on_error=True)
        options = flow_fn.validate_parameters(params)["options"]
        assert (options.variants, options.hook) == (2, "question")
        assert options.chosen() == {"hook": "question", "variants": 2}


@pytest.mark.usefixtures("prefect_harness")
def test_a_server_with_the_enforced_schema_takes_variants_and_refuses_too_many() -> None:
    """As `prefect deployment run produce-video/default -p options='{"variants": 2}'` does:
    the server checks the run's parameters against the deployment's schema."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.utilities.callables import parameter_schema

    from flows.produce import produce_video

    schema = parameter_schema(produce_video.fn).model_dump()
    with get_client(sync_client=True) as c:
        flow_id = c.create_flow_from_name("produce-video")
        dep = c.create_deployment(
            flow_id=flow_id,
            name="variants-schema-check",  # no work pool: no worker ever runs it
            entrypoint="flows/produce.py:produce_video",
            parameter_openapi_schema=schema,
            enforce_parameter_schema=True,
        )
        try:
            ok = {"item_id": ITEM.id, "options": {"variants": 2, "hook": "surprise"}}
            run = c.create_flow_run_from_deployment(dep, parameters=ok)
            assert run.parameters["options"] == {"variants": 2, "hook": "surprise"}
            c.delete_flow_run(run.id)
            with pytest.raises(PrefectHTTPStatusError, match="variants|less than or equal"):
                bad = {"item_id": ITEM.id, "options": {"variants": 9}}
                c.create_flow_run_from_deployment(dep, parameters=bad)
        finally:
            c.delete_deployment(dep)


def test_the_review_page_shows_the_takes_side_by_side_and_choosing_one_rejects_the_other(
    store: ArtifactStore, mp4: Path, monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> None:
    from test_review_app import button, open_page, texts

    for name in ("REVIEW_PASSWORD", "REVIEWERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    a, b = _group(store, mp4)
    add_video(store, 5, mp4)  # another story, next in the queue
    at = open_page("views/review.py", video=a.video_id)
    shown = texts(at)
    assert "A/B takes — 2 versions of this story, choose one" in shown
    columns = [c for c in at.columns if any(x.label.startswith("Choose take") for x in c.button)]
    assert [next(x.label for x in c.button if x.label.startswith("Choose")) for c in columns] == [
        "Choose take A",
        "Choose take B",
    ]  # one column per take, side by side
    for take, col in zip((a, b), columns, strict=True):
        v: VariantTake | None = take.variant
        assert v and take.script
        col_text = " ".join(str(m.value) for m in col.markdown)
        assert f"hook *{v.hook}*" in col_text and take.script.text in col_text
        assert len(col.get("video")) == 1

    at.text_input(key="reviewer").input("Ada").run()
    button(at, "Choose take B").click().run()
    assert not at.exception, at.exception
    won, _ = manifests.load(store, b.video_id)
    lost, _ = manifests.load(store, a.video_id)
    assert won.state is ReviewState.APPROVED and won.history[-1].by == "Ada"
    assert lost.state is ReviewState.REJECTED and lost.history[-1].note == VARIANT_LOST
    assert "Chose take B" in texts(at)
    assert at.query_params["video"] == "vid-test0005"  # on to the next story, not take A

    dash = open_page()  # the dashboard: which take won, per style and per hook
    assert "A/B takes: what reviewers chose" in texts(dash)
    assert b.variant and a.variant
    by_hook = next(d.value for d in dash.dataframe if "hook" in d.value.columns)
    rates = dict(zip(by_hook["hook"], by_hook["win rate"], strict=True))
    assert rates == {b.variant.hook: 1.0, a.variant.hook: 0.0}


def test_the_sources_page_produces_variants(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> None:
    from test_review_app import _produce_page, _submit

    for name in ("REVIEW_PASSWORD", "REVIEWERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    at, items, batches = _produce_page(store, monkeypatch)
    at.multiselect(key="produce_items").select(items[0].id)
    at.number_input(key="produce_variants").set_value(3)
    _submit(at)
    (batch,) = batches
    assert batch["options"]["variants"] == 3
