"""A produce run as the Prefect UI shows it, read back from a real Prefect server: every
stage's task run is tagged with its provider, a fallback that took over is a tagged task run
of its own, and the avatar is a top-level node of the run graph (its parent is the flow run,
not the script or any other stage)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fakes import FakeOpenAI

from novaavatar import manifests
from novaavatar.domain import ProduceOptions
from novaavatar.settings import get_settings

pytestmark = pytest.mark.timeout(240)  # one 15 s video on 2 busy cores


@pytest.fixture
def failing_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """OpenAI configured (so the script stage is submitted as provider:openai) but answering
    500: the offline template takes over."""
    with FakeOpenAI() as fake:
        fake.fail(500, times=20)
        monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_TIMEOUT", "2")
        monkeypatch.setenv("OPENAI_MAX_RETRIES", "0")
        monkeypatch.setenv("TTS_BACKEND", "espeak")  # no OpenAI TTS: speech stays offline
        get_settings.cache_clear()
        yield fake
    get_settings.cache_clear()


def _task_runs(flow_run_id: Any) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    # task run states reach the server as events, a little after the flow run ends
    deadline, seen = time.monotonic() + 30, -1
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            final = all(r.state is not None and r.state.is_final() for r in runs)
            if (final and len(runs) == seen) or time.monotonic() > deadline:
                return runs
            seen = len(runs)
            time.sleep(0.5)


def _graph(flow_run_id: Any) -> dict[str, Any]:
    """The run graph the Prefect UI draws, node label -> node."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        r = client.request("GET", f"/flow_runs/{flow_run_id}/graph-v2")  # type: ignore[arg-type]
    return {node["label"]: node for _, node in r.json()["nodes"]}


@pytest.mark.usefixtures("prefect_harness")
def test_stage_task_runs_carry_their_provider_and_the_avatar_is_top_level(
    store: Any, failing_openai: FakeOpenAI
) -> None:
    from flows.produce import produce_video
    from flows.scrape import scrape_content

    item = scrape_content(sample=True, limit=1)[0]
    state = produce_video(
        item.id, options=ProduceOptions(duration_s=15, aspect="1:1"), return_state=True
    )
    assert state.is_completed(), state.message
    vid = state.result()
    run_id = state.state_details.flow_run_id
    runs = {r.name: r for r in _task_runs(run_id)}

    tags = {name: set(r.tags) for name, r in runs.items()}
    assert "provider:openai" in tags[f"script {vid}"]  # resolved when it was submitted
    assert "provider:procedural" in tags[f"background {vid}"]
    assert "provider:espeak-ng" in tags[f"speech {vid}"]
    assert {"provider:lite", "novaavatar-render"} <= tags[f"avatar {vid}"]
    assert {"provider:ffmpeg", "novaavatar-render"} <= tags[f"compose {vid}"]
    assert "provider:checks" in tags[f"quality {vid}"]
    # OpenAI failed: the template that took over is a task run of its own, inside the stage
    fallback = runs["script by template (fallback)"]
    assert set(fallback.tags) == {"provider:template", "fallback"}
    assert fallback.state.is_completed()
    script = runs[f"script {vid}"]
    assert {p.id for p in fallback.task_inputs["__parents__"]} == {script.id}
    m, _ = manifests.load(store, vid)
    assert (
        m.stages["script"].provider == "template" and "openai failed" in m.stages["script"].detail
    )

    # the avatar: a task of the flow run, fed by script, background and speech, inside none
    avatar = runs[f"avatar {vid}"]
    assert avatar.flow_run_id == run_id
    assert "__parents__" not in avatar.task_inputs
    fed_by = {i.id for name in ("image", "audio", "video_script") for i in avatar.task_inputs[name]}
    assert fed_by == {runs[f"{s} {vid}"].id for s in ("background", "speech", "script")}
    graph = _graph(run_id)
    for stage in ("script", "background", "speech", "avatar", "compose", "quality"):
        assert graph[f"{stage} {vid}"]["encapsulating"] == [], f"{stage} is drawn inside a task"
    assert {e["id"] for e in graph[f"avatar {vid}"]["parents"]} == {str(i) for i in fed_by}
    assert [e["id"] for e in graph["script by template (fallback)"]["encapsulating"]] == [
        str(script.id)
    ]


def test_the_provider_tag_names_the_first_available_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tasks.stages import first_provider, provider_tag

    for name in ("OPENAI_API_KEY", "REPLICATE_API_TOKEN", "DIA_MODEL_PATH", "TTS_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_CREDENTIALS_BLOCK", "")
    monkeypatch.setenv("REPLICATE_CREDENTIALS_BLOCK", "")
    get_settings.cache_clear()
    offline = ProduceOptions()
    assert [first_provider(s, offline) for s in ("script", "background", "speech", "avatar")] == [
        "template",
        "procedural",
        "espeak-ng",
        "lite",
    ]
    assert first_provider("script", ProduceOptions(format="explainer", duration_s=60)) == (
        "template-scenes"
    )
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0000000000000000000000")
    get_settings.cache_clear()
    assert first_provider("script", offline) == "openai"
    assert first_provider("speech", offline) == "openai-tts"
    monkeypatch.setenv("TTS_BACKEND", "dia")  # without DIA_MODEL_PATH: its task says why
    get_settings.cache_clear()
    assert first_provider("speech", offline) == "none"
    assert (first_provider("compose", offline), first_provider("quality", offline)) == (
        "ffmpeg",
        "checks",
    )
    assert provider_tag("flux") == "provider:flux"
    get_settings.cache_clear()
