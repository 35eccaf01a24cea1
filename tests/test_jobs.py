"""Live jobs against the session's real Prefect server: a produce run handed to the
deployment is followed on the Jobs page from scheduled through its avatar stage to done,
a failing run shows its error, and "mine" shows only the runs its reviewer started."""

from __future__ import annotations

import contextvars
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from items import ferry
from test_review_app import texts
from typer.testing import CliRunner

from novaavatar.domain import ReviewState
from novaavatar.service import jobs, production, runs
from novaavatar.store import ArtifactStore

APP = Path(__file__).resolve().parents[1] / "review_app" / "app.py"
pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def _page_env(monkeypatch: pytest.MonkeyPatch, prefect_server: str) -> None:
    for name in ("REVIEW_PASSWORD", "REVIEWERS"):  # no login
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)  # "make up" runs


@pytest.fixture
def deployment(prefect_harness: None, _page_env: None) -> Iterator[None]:
    """produce-video/default on the server, as `make up` registers it (no worker: the test
    plays the worker); removed after, so other tests run their jobs locally."""
    from prefect.client.orchestration import get_client

    from flows.produce import produce_video

    with get_client(sync_client=True) as pc:
        flow_id = pc.create_flow(produce_video)
        dep = pc.create_deployment(
            flow_id, name="default", entrypoint="flows/produce.py:produce_video"
        )
    yield
    with get_client(sync_client=True) as pc:
        pc.delete_deployment(dep)


def work_it(run_id: str) -> threading.Thread:
    """What a worker does with a scheduled run: load it and run its flow (here, in a thread)."""
    from prefect.flow_engine import load_flow_run, run_flow

    from flows.produce import produce_video

    def target() -> None:
        run_flow(produce_video, flow_run=load_flow_run(uuid.UUID(run_id)), return_type="state")

    thread = threading.Thread(target=contextvars.copy_context().run, args=(target,), daemon=True)
    thread.start()
    return thread


def jobs_page(reviewer: str, view: str = "Mine") -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=30).run()
    at.text_input(key="reviewer").input(reviewer).run()
    at.switch_page("views/jobs.py").run()
    if view != "Mine":
        at.button_group(key="jobs_view").set_value(view).run()
    assert not at.exception, at.exception
    return at


def until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    event = threading.Event()
    for _ in range(int(timeout / 0.2)):
        if check():
            return
        event.wait(0.2)
    raise AssertionError(f"not {what} within {timeout} s")


@pytest.mark.usefixtures("deployment")
def test_a_deployment_run_is_followed_to_done_with_its_stage(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import artifacts

    ada = f"ada-{uuid.uuid4().hex[:6]}"
    item = ferry()
    store.put_bytes(f"items/{item.id}.json", item.model_dump_json().encode())
    options = production.options_from({"duration_s": 15, "aspect": "1:1"})
    job = production.produce_one(store, item, options).start(by=ada)
    assert job.where == "deployment" and job.result
    run_id = str(job.result)

    at = jobs_page(ada)
    assert f"produce {item.id}** — scheduled" in texts(at) and f"by {ada}" in texts(at)
    assert ":gray-badge[Scheduled]" in texts(at)

    # the avatar stage stops at its first progress report until the page has looked
    reached, go_on = threading.Event(), threading.Event()
    real = artifacts.update_progress_artifact

    def report_then_wait(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        if not reached.is_set():
            reached.set()
            go_on.wait(60)
        return out

    monkeypatch.setattr(artifacts, "update_progress_artifact", report_then_wait)
    worker = work_it(run_id)
    try:
        assert reached.wait(120), "the avatar stage never reported progress"
        at.run()
        shown = texts(at)
        assert ":blue-badge[Running]" in shown and "running: avatar " in shown, shown
        assert "%" in shown.split("running: avatar ", 1)[1][:6]  # the progress artifact
        assert f"by {ada}" in shown
        assert run_id in at.session_state["_jobs_active_sidebar"]  # a finish reruns the page
    finally:
        go_on.set()
        worker.join(120)

    view = runs.read_run(run_id)
    assert view is not None and view.ok and view.by == ada, view
    vid = view.video_id
    assert vid == job.video_id and {s.name for s in view.stages} >= set(runs.STAGES)
    at.run()
    shown = texts(at)
    assert ":green-badge[Completed]" in shown and f"(./?video={vid})" in shown, shown
    assert at.session_state["_jobs_active_sidebar"] == set()
    # the sidebar says it too, and the video is in the queue
    sidebar = " ".join(str(e.value) for e in at.sidebar.markdown)
    assert f"produce {item.id}** — done" in sidebar and f"by {ada}" in sidebar
    from novaavatar import manifests

    assert manifests.load(store, vid)[0].state is ReviewState.PENDING


@pytest.mark.usefixtures("deployment")
def test_a_failed_run_shows_its_error_and_mine_is_who_started_it(store: ArtifactStore) -> None:
    from novaavatar.cli import app

    bob, cleo = f"bob-{uuid.uuid4().hex[:6]}", f"cleo-{uuid.uuid4().hex[:6]}"
    missing = jobs.submit(
        "produce item-gone",
        production.PRODUCE_VIDEO,
        {"item_id": "item-gone"},
        lambda: None,
        by=bob,
    )
    assert missing.where == "deployment"
    work_it(str(missing.result)).join(60)
    # a local job of cleo's (no deployment for scrape): its run is tagged the same way
    scrape = production.scrape([], [], 2, sample=True).start(by=cleo)
    jobs.wait_all(60)
    assert scrape.status == "completed", scrape.error
    (listed,) = runs.read_runs(by=cleo)  # from the server, not this process's memory
    assert listed.job_key == scrape.key and listed.flow == "scrape-content" and listed.ok

    at = jobs_page(bob)
    shown = texts(at)
    assert ":red-badge[Failed]" in shown and "item-gone" in shown.split("Failed]", 1)[1], shown
    assert "produce item-gone** — failed" in shown and "scrape the bundled sample" not in shown
    at = jobs_page(cleo)
    shown = texts(at)
    assert "scrape the bundled sample (fiction)** — done" in shown and "item-gone" not in shown
    assert f"by {cleo}" in shown
    everyone = texts(jobs_page(cleo, "All"))
    assert f"by {bob}" in everyone and f"by {cleo}" in everyone

    # the CLI reads the same runs
    res = CliRunner().invoke(app, ["jobs", "--by", bob])
    assert res.exit_code == 0, res.output
    assert "Failed" in res.output and "item-gone" in res.output and "sample" not in res.output
    res = CliRunner().invoke(app, ["jobs", "--mine"], env={"USER": cleo})
    assert "Completed" in res.output and cleo in res.output and bob not in res.output
    # a CLI run is tagged with $USER
    dora = f"dora-{uuid.uuid4().hex[:6]}"
    res = CliRunner().invoke(app, ["scrape", "--sample", "--limit", "1"], env={"USER": dora})
    assert res.exit_code == 0, res.output
    assert [r.flow for r in runs.read_runs(by=dora)] == ["scrape-content"]


def test_run_names_and_tags_say_stage_video_and_who() -> None:
    assert runs.stage_of("avatar vid-1a2b on gpu") == ("avatar", "vid-1a2b")
    assert runs.stage_of("given script vid-9") == ("script", "vid-9")
    assert runs.stage_of("enqueue vid-9") == ("review", "vid-9")
    assert runs.stage_of("fetch-sources-11b") is None
    tag = runs.by_tag("  Ann   Lee ")
    assert tag == "by:Ann Lee" and runs.started_by(["sample", tag]) == "Ann Lee"
    assert runs.started_by(["job:abc"]) is None and runs.by_tag("") == "by:unknown"


def test_a_manual_creation_shows_in_the_sidebar_at_once(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> None:
    """The sidebar is drawn after the page, so the job a page starts is in the same redraw."""
    from review_pages import manual_page

    at, started = manual_page(monkeypatch, prefect_server)
    eve = f"eve-{uuid.uuid4().hex[:6]}"
    at.text_input(key="reviewer").input(eve).run()
    at.text_input(key="manual_title").input("Evening news")
    at.text_area(key="manual_text").input("Good evening.").run()
    next(b for b in at.button if b.label == "Create video").click().run()
    sidebar = " ".join(str(e.value) for e in at.sidebar.markdown)
    assert "**manual Evening news** — " in sidebar and f"by {eve}" in sidebar, sidebar
    jobs.wait_all(10)
    assert started and started[0]["title"] == "Evening news"
