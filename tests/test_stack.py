"""The whole local stack on 127.0.0.1: a real Prefect server, the cpu and gpu pools, the
deployments from prefect.yaml and one process worker per pool, as ``make up`` starts them."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from novaavatar import manifests
from novaavatar.domain import ReviewState
from novaavatar.service.stack import Stack
from novaavatar.settings import load_settings
from novaavatar.store import get_store

# Bounded: the server, two workers and two flow runs on 2 cores take about a minute.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(330)]

EXPECTED = {
    "scrape-content": "cpu",
    "produce-video": "cpu",
    "produce-batch": "cpu",
    "render-avatar": "gpu",
    "export-approved": "cpu",
    "manual-create": "cpu",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_stack(home: Path, env: dict[str, str], **settings: Any) -> Stack:
    """`make up`'s Stack on free loopback ports under ``home``, with the bundled (fictional)
    stories as its feed and workers that look for runs every second."""
    return Stack(
        home=home,
        port=_free_port(),
        review_port=_free_port(),
        ui=False,
        settings=load_settings(storage_path=home / "storage", **settings),
        extra_env={
            "RSS_FEEDS": "sample",  # no network here: the bundled stories, asked for by name
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "5",
            **env,
        },
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("prefect-home")
    s = make_stack(
        home,
        # a GPU backend: produce sends the avatar to the gpu pool
        {"AVATAR_BACKEND": "omniavatar", "PREFECT_LOGGING_LEVEL": "INFO"},
        # the auto-export automation on; flow runs silent for 50 s (heartbeats every 30 s)
        # are zombies
        auto_export=True,
        zombie_after_s=50,
    )
    try:
        s.up(scrape=True, review=False)
        yield s
    finally:
        s.down()
        for name in ("server", "worker-cpu", "worker-gpu"):
            assert s.running_pid(s.component(name)) is None, f"{name} still runs"


def _wait_final(stack: Stack, run_id: UUID, timeout_s: float = 150) -> Any:
    deadline = time.monotonic() + timeout_s
    with stack.client() as client:
        while time.monotonic() < deadline:
            run = client.read_flow_run(run_id)
            if run.state is not None and run.state.is_final():
                return run
            time.sleep(0.5)
    logs = "\n".join(p.read_text()[-3000:] for p in sorted(stack.log_dir.glob("worker-*.log")))
    raise AssertionError(f"flow run {run_id} did not finish in {timeout_s} s\n{logs}")


def _flow_runs(stack: Stack, flow: str) -> list[Any]:
    """The runs of ``flow`` that started or were asked for now (not the schedule's future ones)."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with stack.client() as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow])))
    return [r for r in runs if r.auto_scheduled is not True]


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        stack.prefect(*args),
        cwd=stack.root,
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_pools_deployments_and_the_scrape_schedule(stack: Stack) -> None:
    with stack.client() as client:
        pools = {p: client.read_work_pool(p) for p in ("cpu", "gpu")}
        assert all(p.type == "process" for p in pools.values())
        assert pools["gpu"].concurrency_limit == 1
        for flow, pool in EXPECTED.items():
            dep = client.read_deployment_by_name(f"{flow}/default")
            assert dep.work_pool_name == pool, flow
            assert dep.enforce_parameter_schema, flow
            # prefect.yaml holds no path; the deployer's NOVAAVATAR_HOME is filled in
            assert dep.pull_steps == [
                {"prefect.deployments.steps.set_working_directory": {"directory": str(stack.root)}}
            ]
        schedules = client.read_deployment_by_name("scrape-content/default").schedules
    assert [s.schedule.cron for s in schedules] == ["0 * * * *"]
    assert all(s.active for s in schedules)


def test_produce_video_renders_on_the_gpu_pool_and_lands_in_review(stack: Stack) -> None:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    scrapes = _flow_runs(stack, "scrape-content")
    assert scrapes, "make up triggers a first scrape"
    assert _wait_final(stack, scrapes[0].id).state.is_completed()
    store = get_store(stack.settings)
    item_id = store.get_json("items/latest.json")["ids"][0]

    out = _cli(
        stack,
        "deployment",
        "run",
        "produce-video/default",
        "-p",
        f"item_id={item_id}",
        "-p",
        'options={"duration_s": 15, "aspect": "1:1"}',
    )
    assert out.returncode == 0, out.stdout + out.stderr
    run_id = UUID(re.search(r"UUID: ([0-9a-f-]{36})", out.stdout).group(1))  # type: ignore[union-attr]
    produce = _wait_final(stack, run_id)
    assert produce.state.is_completed(), produce.state.message

    renders = _flow_runs(stack, "render-avatar")
    assert len(renders) == 1, "the avatar stage ran as its own flow run"
    render = renders[0]
    assert render.work_pool_name == "gpu" and render.state.is_completed()
    with stack.client() as client:  # a sub-run of the produce run
        assert client.read_task_run(render.parent_task_run_id).flow_run_id == produce.id
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[produce.id, render.id]))
        )
    # who rendered: the dispatcher names the backend and the pool, the GPU worker's stage
    # task the provider it used (lite: no OmniAvatar weights here); a top-level node
    by_name = {(t.flow_run_id, t.name): t for t in tasks}
    m_vid = next(t.name.split()[1] for t in tasks if t.name.startswith("script "))
    dispatch = by_name[(produce.id, f"avatar {m_vid} on gpu")]
    assert {"provider:omniavatar", "work-pool:gpu"} <= set(dispatch.tags)
    assert "__parents__" not in dispatch.task_inputs
    assert "provider:lite" in by_name[(render.id, f"avatar {m_vid}")].tags

    (m,) = manifests.queue(store, ReviewState.PENDING)
    assert m.item.id == item_id and m.flow_run_id == str(produce.id)
    assert m.final is not None and m.stages["avatar"].provider == "lite"
    assert store.exists(m.final.key)


def test_a_wrong_or_missing_parameter_is_a_schema_error(stack: Stack) -> None:
    wrong = _cli(
        stack,
        "deployment",
        "run",
        "produce-video/default",
        "-p",
        "item_id=x",
        "-p",
        'options={"duration_s": "abc"}',
    )
    assert wrong.returncode != 0
    assert "Validation failed for field 'options.duration_s'" in " ".join(
        (wrong.stdout + wrong.stderr).split()
    )
    missing = _cli(
        stack, "deployment", "run", "produce-video/default", "-p", 'options={"style": "casual"}'
    )
    assert missing.returncode != 0
    assert "item_id" in missing.stdout + missing.stderr


def test_up_again_reuses_every_process(stack: Stack, tmp_path: Path) -> None:
    before = {c.name: stack.running_pid(c) for c in stack.components()[:3]}
    assert all(before.values())
    stack.up(scrape=True, review=False, echo=lambda *_: None)
    after = {c.name: stack.running_pid(c) for c in stack.components()[:3]}
    assert after == before
    assert len(_flow_runs(stack, "scrape-content")) == 1, "no second first-scrape"


def test_regenerating_through_the_deployment_keeps_every_option(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the review page does with the stack up: the regeneration is a run of the
    produce-video deployment carrying every option the video was made with, so a Spanish
    conversation with a non-default template and a video whose options are all chosen keep
    their ids."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from novaavatar.domain import ProduceOptions
    from novaavatar.items import load_item
    from novaavatar.service import production

    monkeypatch.setenv("PREFECT_API_URL", stack.api_url)  # the page's "server is there" check
    store = get_store(stack.settings)
    item = load_item(store, store.get_json("items/latest.json")["ids"][2])
    made = [
        ProduceOptions(format="conversation", language="es", template="shorts", duration_s=15),
        # every other option away from its default (an explainer's transition included)
        ProduceOptions(
            duration_s=15,
            aspect="1:1",
            transition="cut",
            layout="pip",
            caption_style="plain",
            hook="question",
            style="casual",
        ),
    ]
    with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
        first = [production.produce_one(store, item, o).start() for o in made]
        for job in first:
            assert job.where == "deployment", job.error
            assert _wait_final(stack, UUID(job.result), 300).state.is_completed()
        before = [manifests.load(store, str(w.video_id))[0] for w in first]
        again = [
            production.regenerate(store, m.video_id, ["avatar"], "ann").start() for m in before
        ]
        for job in again:
            assert _wait_final(stack, UUID(job.result), 300).state.is_completed()
    for old, job in zip(before, again, strict=True):
        m, _ = manifests.load(store, old.video_id)
        assert job.video_id == old.video_id
        assert m.options == old.options  # nothing filled in anew
        assert m.takes == {"avatar": 1} and m.state is ReviewState.PENDING
        assert m.history[-1].by == "ann" and m.history[-1].note == "regenerated: avatar"
    assert {m.options.format for m in before} == {"conversation", "single"}
    assert (before[1].options.layout, before[1].options.transition) == ("pip", "cut")
    assert before[0].options.language == "es" and before[0].options.template == "shorts@1"


# --- Prefect-native: the auto-export automation, killed workers, zombies ---------------------

AUTO_EXPORT = "novaavatar auto-export approved videos"


def _wait(what: str, check: Any, timeout_s: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout_s} s"
        time.sleep(every)
    return found


def test_approving_a_video_runs_export_approved_for_it_when_auto_export_is_on(
    stack: Stack, tmp_path: Path
) -> None:
    from prefect.events.worker import EventsWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from test_review_app_support import add_video, tiny_mp4

    with stack.client() as client:
        (auto,) = client.read_automations_by_name(AUTO_EXPORT)
    assert auto.enabled, "AUTO_EXPORT=true deploys the automation on"
    store = get_store(stack.settings)
    m = add_video(store, 4343, tiny_mp4(tmp_path / "clip.mp4"))
    with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
        manifests.decide(store, m.video_id, ReviewState.APPROVED, by="Ada")
        EventsWorker.drain_all()

    def export_run() -> Any:
        runs = _flow_runs(stack, "export-approved")
        return next((r for r in runs if r.parameters.get("video_ids") == [m.video_id]), None)

    run = _wait("an export-approved run for the approved video", export_run, 60)
    assert run.parameters["by"] == "auto-export of Ada's approval"
    assert _wait_final(stack, run.id, 120).state.is_completed()
    assert store.exists(f"exports/{m.video_id}/video.mp4")
    assert manifests.load(store, m.video_id)[0].state is ReviewState.EXPORTED
    # with AUTO_EXPORT unset the next `make up` turns it off: checked with the `up` below


def _render_slots(stack: Stack) -> int:
    from prefect.exceptions import ObjectNotFound

    from tasks.common import RENDER_TAG

    with stack.client() as client:
        try:
            return len(client.read_concurrency_limit_by_tag(RENDER_TAG).active_slots)
        except ObjectNotFound:  # no produce run made the limit yet
            return 0


def _silent_flow_run(stack: Stack) -> UUID:
    """A Running flow run that sent one heartbeat and then nothing, as one whose machine
    was lost (no process of it on this host, so only its heartbeats can tell)."""
    from prefect import flow
    from prefect.events import emit_event
    from prefect.events.worker import EventsWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.states import Running

    @flow(name="lost-machine")
    def lost() -> None: ...

    with stack.client() as client:
        run = client.create_flow_run(lost, state=Running())
    with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
        emit_event(
            event="prefect.flow-run.heartbeat",
            resource={"prefect.resource.id": f"prefect.flow-run.{run.id}"},
        )
        EventsWorker.drain_all()
    return run.id


@pytest.mark.timeout(480)
def test_killed_workers_runs_are_crashed_slots_freed_and_up_scrapes_again(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both workers are killed (SIGKILL to their process groups): the gpu one while an avatar
    renders on it, the cpu one just after it picked up a scrape; `up` again marks the runs
    Crashed, gives the render slot back, restarts the workers and runs the first scrape,
    because no scrape completed; the lost video run again resumes from the cache (script,
    background and speech are not made again) and its avatar renders on the gpu pool.
    Meanwhile a run whose heartbeats stopped is crashed by the zombie automation. The same
    `up`, with AUTO_EXPORT unset, turns the auto-export automation off."""
    import os
    import signal

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from novaavatar.domain import video_id_for
    from novaavatar.items import load_item
    from novaavatar.templates import build_options

    zombie = _silent_flow_run(stack)
    for r in _flow_runs(stack, "scrape-content"):  # the items to produce
        assert _wait_final(stack, r.id).state.is_completed()
    store = get_store(stack.settings)
    item_id = store.get_json("items/latest.json")["ids"][3]
    options = build_options(dict(duration_s=15, aspect="1:1"), store)  # as the flow pins it
    vid = video_id_for(load_item(store, item_id), options)
    params = ["-p", f"item_id={item_id}", "-p", 'options={"duration_s": 15, "aspect": "1:1"}']
    out = _cli(stack, "deployment", "run", "produce-video/default", *params)
    produce_id = UUID(re.search(r"UUID: ([0-9a-f-]{36})", out.stdout).group(1))  # type: ignore[union-attr]
    _wait("the avatar holding a render slot", lambda: _render_slots(stack) > 0, 150, 0.2)
    (render,) = [r for r in _flow_runs(stack, "render-avatar") if r.state.is_running()]
    # script, background and speech finished before the avatar began: their stage files
    # and cache records are written; the kill below must not make them run again
    done_before = {k: store.get_bytes(k) for k in store.list(f"videos/{vid}/stages")}

    def kill(name: str) -> None:
        pid = stack.running_pid(stack.component(name))
        assert pid is not None, name
        os.killpg(pid, signal.SIGKILL)

    kill("worker-gpu")  # at once: a short render on a busy machine would be done otherwise
    assert _render_slots(stack) > 0, "the killed render still holds its slot"

    # a database whose first scrape never completed: the one of `up` is lost with the worker
    with stack.client() as client:
        for r in _flow_runs(stack, "scrape-content"):
            client.delete_flow_run(r.id)
        dep = client.read_deployment_by_name("scrape-content/default")
        scrape = client.create_flow_run_from_deployment(dep.id, name="scrape lost in the kill")

        def picked_up() -> bool:
            state = client.read_flow_run(scrape.id).state
            assert state is not None and not state.is_final(), "the scrape ended before the kill"
            return state.is_pending() or state.is_running()

        _wait("the cpu worker picking up the scrape", picked_up, 60, 0.1)
    kill("worker-cpu")  # the machine has lost both workers now

    def heartbeats() -> list[Any]:  # flow runs of `make up`'s workers send them
        query = {
            "event": {"name": ["prefect.flow-run.heartbeat"]},
            "resource": {"id": [f"prefect.flow-run.{i}" for i in (produce_id, render.id)]},
        }
        with stack.client() as client:
            r = client.request("POST", "/events/filter", json={"filter": query, "limit": 10})
        return list(r.json()["events"])

    _wait("heartbeats of the killed runs", heartbeats, 30)

    monkeypatch.delenv("AUTO_EXPORT", raising=False)
    on = stack.settings
    stack.settings = load_settings(storage_path=on.storage_path, zombie_after_s=50)
    try:
        stack.up(scrape=True, review=False, echo=lambda *_: None)
    finally:
        stack.settings = on
    with stack.client() as client:
        assert [a.enabled for a in client.read_automations_by_name(AUTO_EXPORT)] == [False]
    ids = [produce_id, render.id, scrape.id]

    def ended() -> dict[UUID, str]:
        with stack.client() as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids))
            )
        states = {r.id: r.state.type.value for r in runs}
        return states if len(states) == 3 and all(r.state.is_final() for r in runs) else {}

    # nothing is left Running or Pending: the sweep crashes the runs of dead processes; a
    # flow-run process in its own session may outlive its worker (still Running when `up`
    # returns, seen in a clean clone) and end the run itself, Failed when the run it waited
    # for was crashed
    states = _wait("the killed workers' runs ending", ended, 120, 1)
    assert set(states.values()) <= {"CRASHED", "FAILED"}, states
    assert "CRASHED" in states.values(), states
    assert _render_slots(stack) == 0, "the dead render's slot was given back"
    (first,) = [r for r in _flow_runs(stack, "scrape-content") if r.name == "first scrape"]
    assert _wait_final(stack, first.id, 120).state.is_completed()

    # the lost video again: it resumes from the cache, and its avatar renders on the
    # restarted gpu worker
    earlier = {r.id for r in _flow_runs(stack, "render-avatar")}
    again = _cli(stack, "deployment", "run", "produce-video/default", *params)
    rerun_id = UUID(re.search(r"UUID: ([0-9a-f-]{36})", again.stdout).group(1))  # type: ignore[union-attr]
    assert _wait_final(stack, rerun_id, 240).state.is_completed()
    (rendered,) = [r for r in _flow_runs(stack, "render-avatar") if r.id not in earlier]
    assert rendered.state.is_completed() and rendered.work_pool_name == "gpu"
    for key in ("script", "background", "speech"):  # finished before the kill: from the cache
        k = f"videos/{vid}/stages/{key}.json"
        assert store.get_bytes(k) == done_before[k], f"{key} ran again"
    m, _ = manifests.load(store, vid)
    assert m.state is ReviewState.PENDING and m.final is not None
    assert _render_slots(stack) == 0

    # the run whose heartbeats stopped: crashed by the automation `up` installed
    with stack.client() as client:
        lost = _wait(
            "the zombie automation crashing the silent run",
            lambda: (r := client.read_flow_run(zombie)).state.is_crashed() and r,
            120,
            1,
        )
    assert "no heartbeat for 50 s" in (lost.state.message or "")
