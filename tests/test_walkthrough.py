"""A newsroom's day on the real stack, in a real browser: `make up`'s Stack (Prefect server,
cpu and gpu workers, deployments, review page) and Debian's Chromium driven by Playwright.

produce from Sources → the job followed live to done → edit one word of the script →
re-render → approve; a second story with two A/B takes → choose one; a third story whose
worker is killed mid-run → `make up` again → the run shows Crashed and, as no scrape
completed, the first scrape runs. Screenshots of each
state go to docs/screenshots/walkthrough-*.png for the README.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from test_review_browser import CHROMIUM, CHROMIUM_ARGS, SHOTS
from test_stack import make_stack

from novaavatar import manifests
from novaavatar.domain import ReviewState, VideoManifest
from novaavatar.items import load_item
from novaavatar.service.stack import Stack
from novaavatar.store import ArtifactStore, get_store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # short videos: the page's duration starts at DEFAULT_DURATION
    s = make_stack(tmp_path_factory.mktemp("walk-home"), {"DEFAULT_DURATION": "15"})
    try:
        s.up(scrape=True, review=True, api=False, echo=lambda *_: None)
        yield s
    finally:
        s.down(echo=lambda *_: None)


def _until(what: str, check: Callable[[], Any], timeout_s: float = 240) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(1)
    raise AssertionError(f"{what}: not within {timeout_s:g} s")


def _videos(store: ArtifactStore) -> list[VideoManifest]:
    return manifests.all_manifests(store)


def _latest_items(store: ArtifactStore) -> list[str]:
    try:
        return list(store.get_json("items/latest.json")["ids"])
    except Exception:
        return []


def test_a_newsroom_day_in_the_browser(stack: Stack) -> None:
    store = get_store(stack.settings)
    _until("the first scrape of `up` lists the stories", lambda: len(_latest_items(store)) >= 2)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1440, "height": 1100}).new_page()
        page.set_default_timeout(60_000)
        try:
            _walk(stack, store, page)
        except Exception:
            page.screenshot(path=str(stack.home / "failed.png"), full_page=True)
            print(f"the page when it failed: {stack.home / 'failed.png'}")
            raise
        finally:
            browser.close()
    states = {m.variant.label: m.state for m in _videos(store) if m.variant is not None}
    assert states == {"A": ReviewState.REJECTED, "B": ReviewState.APPROVED}


def _shot(page: Any, name: str) -> None:
    """A screenshot for the README once the page has finished drawing."""
    expect(page.get_by_test_id("stStatusWidgetRunningIcon")).to_have_count(0)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / name))


def _items(page: Any) -> Any:
    """The Sources page's multiselect of items to produce."""
    return page.get_by_test_id("stMultiSelect").filter(has_text="Items").locator("input")


def _walk(stack: Stack, store: ArtifactStore, page: Any) -> None:
    page.goto(stack.review_url)
    name = page.get_by_role("textbox", name="Reviewer name")
    name.fill("Ada")
    name.press("Enter")
    # the name outlives a page load once its signed cookie is set
    page.wait_for_function("document.cookie.includes('novaavatar_reviewer=v1.')")

    # --- produce one story from Sources ------------------------------------------------
    page.get_by_role("link", name="Sources").click()
    expect(page.get_by_role("heading", name="Produce videos")).to_be_visible()
    titles = [load_item(store, i).title for i in _latest_items(store)[:3]]
    _items(page).click()
    page.get_by_role("option", name=titles[0], exact=True).click()
    page.keyboard.press("Escape")
    _shot(page, "walkthrough-1-sources.png")
    page.get_by_role("button", name="Produce").click()
    # the sidebar follows the job's flow run on the server, stage by stage, to done
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(re.compile(r"— (running|pending|scheduled)"))).to_be_visible()
    _shot(page, "walkthrough-2-running.png")
    done = sidebar.get_by_text(re.compile(r"— done"))
    expect(done).to_be_visible(timeout=300_000)
    _shot(page, "walkthrough-3-done.png")
    one = _until(
        "the produced video waits for review",
        lambda: [m for m in _videos(store) if m.state is ReviewState.PENDING],
        30,
    )[0]
    assert one.video_id in done.inner_text()  # the line links to the video

    # --- edit one word of its script, re-render, approve --------------------------------
    page.goto(f"{stack.review_url}/review?video={one.video_id}")
    expect(page.get_by_text(one.video_id, exact=True).first).to_be_visible()
    page.get_by_text("Edit the script").click()
    script = page.get_by_role("textbox", name="Script", exact=True)
    expect(script).not_to_have_value("")  # drawn with the video's script
    text = script.input_value()
    first = text.split()[0]
    edited = text.replace(first, "Tonight", 1) if first != "Tonight" else "Today" + text[7:]
    script.fill(edited)
    _shot(page, "walkthrough-4-edit.png")
    page.get_by_role("button", name="Re-render with this script").click()

    def re_rendered() -> VideoManifest | None:
        m = manifests.load(store, one.video_id)[0]
        done = m.state is ReviewState.PENDING and m.version > one.version
        return m if done and m.script.text.startswith(edited.split()[0]) else None

    after = _until("the edited take waits for review", re_rendered, 300)
    page.goto(f"{stack.review_url}/review?video={one.video_id}")
    approve = page.get_by_role("button", name="Approve")
    expect(approve).to_be_enabled()
    approve.click()
    expect(page.get_by_text(f"Approved {one.video_id} as Ada.")).to_be_visible()
    _shot(page, "walkthrough-5-approved.png")
    m = manifests.load(store, one.video_id)[0]
    assert m.state is ReviewState.APPROVED and m.history[-1].by == "Ada"
    assert m.script.text == after.script.text

    # --- a second story as two A/B takes; choose one ------------------------------------
    page.get_by_role("link", name="Sources").click()
    _items(page).click()
    page.get_by_role("option", name=titles[1], exact=True).click()
    page.keyboard.press("Escape")
    takes = page.get_by_role("spinbutton", name="A/B takes per item")
    takes.fill("2")
    takes.press("Tab")
    page.get_by_role("button", name="Produce").click()

    def pending_takes() -> list[VideoManifest]:
        group = [m for m in _videos(store) if m.variant is not None]
        ready = [m for m in group if m.state is ReviewState.PENDING]
        return ready if len(ready) == 2 else []

    pair = _until("two takes wait for review", pending_takes, 300)
    page.goto(f"{stack.review_url}/review?video={pair[0].video_id}")
    choose = page.get_by_role("button", name="Choose take B")
    expect(choose).to_be_enabled()
    _shot(page, "walkthrough-6-takes.png")
    choose.click()

    def chosen() -> bool:
        states = {m.variant.label: m.state for m in _videos(store) if m.variant is not None}
        return states == {"A": ReviewState.REJECTED, "B": ReviewState.APPROVED}

    _until("take B approved, take A rejected", chosen, 60)
    # --- a worker dies mid-run; `make up` again: the run shows Crashed ----------------------
    page.get_by_role("link", name="Sources").click()
    _items(page).click()
    page.get_by_role("option", name=titles[2], exact=True).click()
    page.keyboard.press("Escape")
    page.get_by_role("spinbutton", name="A/B takes per item").fill("1")
    page.get_by_role("button", name="Produce").click()
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(re.compile(r"— running"))).to_be_visible()
    pid = stack.running_pid(stack.component("worker-cpu"))
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)  # the machine loses the worker and its flow run
    with stack.client() as client:  # as on a first day whose first scrape never completed
        for run in client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["scrape-content"]))
        ):
            client.delete_flow_run(run.id)
    stack.up(scrape=True, review=True, api=False, echo=lambda *_: None)
    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_text(re.compile(r"— crashed")).first).to_be_visible()
    _shot(page, "walkthrough-8-crashed.png")

    # everyone's jobs: the first scrape that `up` ran again (the earlier ones were deleted)
    def scraped() -> bool:
        with stack.client() as client:
            runs = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["scrape-content"]))
            )
        return any(r.state is not None and r.state.is_completed() for r in runs)

    _until("the first scrape of the second `up` completes", scraped, 120)
    page.reload()
    page.get_by_text("All", exact=True).click()
    done = page.get_by_test_id("stMain").get_by_text(re.compile(r"scrape .*— done"))
    expect(done).to_have_count(1)
    _shot(page, "walkthrough-9-jobs.png")
    page.goto(f"{stack.review_url}/review?video={pair[0].video_id}&view=all")
    expect(page.get_by_text("take B chosen")).to_be_visible()
    _shot(page, "walkthrough-7-chosen.png")
