"""The review page in a real browser: `streamlit run` + Debian's Chromium driven by Playwright.

A reviewer approves one video with the keyboard and rejects another with a note; the
manifests must say so. Screenshots go to docs/screenshots/ for the README.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_review_app_support import add_video, tiny_mp4

from novaavatar import manifests
from novaavatar.domain import ReviewState
from novaavatar.store import ArtifactStore

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not CHROMIUM.exists():
    pytest.skip(
        "no Chromium at /usr/bin/chromium: apt-get install chromium (CI does)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed: pip install playwright"
)
sync_api.expect.set_options(timeout=30_000)  # a busy 2-core CI machine redraws slowly


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout} s")


@pytest.fixture
def review_server(store: ArtifactStore, storage: Path, tmp_path: Path) -> Iterator[str]:
    """`streamlit run` on a free loopback port over a store with two pending videos."""
    from review_app.launch import command

    mp4 = tiny_mp4(tmp_path / "tiny.mp4")
    add_video(store, 0, mp4, failed_check=True)
    add_video(store, 1, mp4)
    port = free_port()
    env = {**os.environ, "STORAGE_PATH": str(storage), "PREFECT_API_URL": ""}
    env.pop("REVIEW_PASSWORD", None)
    log = (tmp_path / "streamlit.log").open("wb")
    proc = subprocess.Popen(command(port), env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_reviewer_approves_one_and_rejects_another(
    review_server: str, store: ArtifactStore
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(60_000)  # a busy 2-core CI machine is slow to draw
        expect = sync_api.expect

        page.goto(f"{review_server}/review")
        expect(page.get_by_role("heading", name="Library lends out telescopes")).to_be_visible()
        name = page.get_by_role("textbox", name="Reviewer name")
        name.fill("Ada")
        name.press("Enter")
        expect(page.get_by_text("Enter your name in the sidebar to decide")).to_have_count(0)
        approve = page.get_by_role("button", name="Approve")
        expect(approve).to_be_enabled()  # its shortcut works once the button is drawn
        page.wait_for_function("document.querySelector('video')?.readyState >= 4")
        page.mouse.click(700, 30)  # away from every input, so the keys go to the page
        page.screenshot(path=str(SHOTS / "review-queue.png"))

        # Approve the first with the keyboard: A.
        page.keyboard.press("a")
        expect(page.get_by_text("Approved vid-test0001 as Ada.")).to_be_visible()
        expect(page.get_by_role("heading", name="Harbour bridge reopens")).to_be_visible()
        expect(approve).to_be_enabled()
        page.wait_for_function("document.querySelector('video')?.readyState >= 4")
        page.screenshot(path=str(SHOTS / "review-quality-failed.png"))

        # Reject the second: N jumps to the note, Enter rejects with it.
        page.keyboard.press("n")
        expect(
            page.get_by_role("textbox", name="Note — why reject? (N to type, Enter rejects)")
        ).to_be_focused()
        page.keyboard.type("the loudness is far too low")
        page.keyboard.press("Enter")
        expect(page.get_by_text("Rejected vid-test0000 as Ada.")).to_be_visible()
        expect(page.get_by_text("No pending videos")).to_be_visible()

        page.get_by_role("link", name="Dashboard").click()
        expect(page.get_by_text("Recent runs")).to_be_visible()
        expect(
            page.locator(
                "[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg"
            ).first
        ).to_be_visible()
        page.wait_for_timeout(500)  # let the chart and tables finish drawing
        page.screenshot(path=str(SHOTS / "dashboard.png"))
        browser.close()

    approved, _ = manifests.load(store, "vid-test0001")
    rejected, _ = manifests.load(store, "vid-test0000")
    assert (approved.state, approved.history[-1].by) == (ReviewState.APPROVED, "Ada")
    assert rejected.state is ReviewState.REJECTED
    assert (rejected.history[-1].by, rejected.history[-1].note) == (
        "Ada",
        "the loudness is far too low",
    )


def _serve(storage: Path, tmp_path: Path, **extra: str) -> Iterator[str]:
    from review_app.launch import command

    port = free_port()
    env = {**os.environ, "STORAGE_PATH": str(storage), "PREFECT_API_URL": "", **extra}
    for name in ("REVIEW_PASSWORD", "REVIEWERS", "REVIEW_COOKIE_SECRET"):
        if name not in extra:
            env.pop(name, None)
    log = (tmp_path / "streamlit.log").open("wb")
    proc = subprocess.Popen(command(port), env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def signin_server(store: ArtifactStore, storage: Path, tmp_path: Path) -> Iterator[str]:
    """The page with a password and two reviewers, over one pending video."""
    add_video(store, 0, tiny_mp4(tmp_path / "tiny.mp4"))
    yield from _serve(storage, tmp_path, REVIEW_PASSWORD="open sesame", REVIEWERS="Ada,Grace")


def test_a_sign_in_outlives_a_reload_and_names_the_decision(
    signin_server: str, store: ArtifactStore
) -> None:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        expect = sync_api.expect
        page.goto(f"{signin_server}/review")
        page.get_by_role("textbox", name="Your name").fill("Grace")
        page.get_by_role("textbox", name="Password").fill("open sesame")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Signed in as Grace")).to_be_visible()
        page.wait_for_function("document.cookie.includes('novaavatar_reviewer=v1.')")
        page.reload()
        expect(page.get_by_text("Signed in as Grace")).to_be_visible()  # no second sign-in
        expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
        cookie = next(c for c in context.cookies() if c["name"] == "novaavatar_reviewer")
        assert "open sesame" not in cookie["value"] and cookie["sameSite"] == "Strict"
        page.get_by_role("link", name="Review queue").click()
        expect(page.get_by_role("button", name="Approve")).to_be_enabled()
        page.get_by_role("button", name="Approve").click()
        expect(page.get_by_text("Approved vid-test0000 as Grace.")).to_be_visible()

        # a forged cookie (another name, the same signature) opens nothing
        version, _, mac = cookie["value"].split(".")
        other = browser.new_context()
        forged = f"{version}.eyJuIjoiQWRhIiwicyI6dHJ1ZX0.{mac}"  # {"n":"Ada","s":true}
        other.add_cookies([{"name": cookie["name"], "value": forged, "url": signin_server}])
        stranger = other.new_page()
        stranger.goto(f"{signin_server}/review")
        expect(stranger.get_by_role("button", name="Sign in")).to_be_visible()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        page.wait_for_function("!document.cookie.includes('novaavatar_reviewer=v1.')")
        page.reload()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()  # signed out stays out
        browser.close()
    m, _ = manifests.load(store, "vid-test0000")
    assert (m.state, m.history[-1].by) == (ReviewState.APPROVED, "Grace")


@pytest.fixture
def queue_server(store: ArtifactStore, storage: Path, tmp_path: Path) -> Iterator[str]:
    """`streamlit run` over five pending videos and one rejected earlier."""
    mp4 = tiny_mp4(tmp_path / "tiny.mp4")
    for n in range(5):
        add_video(store, n, mp4)
    add_video(store, 5, mp4, state=ReviewState.REJECTED)
    yield from _serve(storage, tmp_path)


def test_keys_act_only_on_the_video_shown_and_the_url_follows(
    queue_server: str, store: ArtifactStore
) -> None:
    """approve → next → reject → J: after the rejection the focus has left the note, so J
    moves on instead of typing "j" (which one more Enter would have sent as the next
    video's rejection note); every other video is untouched; the URL names the video shown;
    a view opens its first video."""
    before = {f"vid-test000{n}": manifests.load(store, f"vid-test000{n}")[0] for n in range(6)}
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.set_default_timeout(60_000)
        expect = sync_api.expect

        def shown(vid: str) -> None:
            expect(page.get_by_text(vid, exact=True).first).to_be_visible()
            page.wait_for_url(f"**video={vid}**")
            assert f"video={vid}" in page.url
            expect(page.get_by_test_id("stStatusWidgetRunningIcon")).to_have_count(0)  # drawn
            expect(page.get_by_role("button", name="Previous")).to_have_count(1)
            page.wait_for_function("document.querySelector('video')?.readyState >= 4")

        page.goto(f"{queue_server}/review")
        name = page.get_by_role("textbox", name="Reviewer name")
        name.fill("Ada")
        name.press("Enter")
        expect(page.get_by_text("Enter your name in the sidebar to decide")).to_have_count(0)
        shown("vid-test0004")
        expect(page.get_by_role("button", name="Approve")).to_be_enabled()
        page.mouse.click(700, 30)  # away from the name field

        page.keyboard.press("a")  # approve
        expect(page.get_by_text("Approved vid-test0004 as Ada.")).to_be_visible()
        shown("vid-test0003")
        page.keyboard.press("j")  # next
        shown("vid-test0002")
        page.keyboard.press("n")  # reject with a note
        expect(
            page.get_by_role("textbox", name="Note — why reject? (N to type, Enter rejects)")
        ).to_be_focused()
        # letters typed while the page is still drawing can be lost when Streamlit redraws
        # the field (seen once in nine clean-clone runs: the note kept only its last words);
        # a person reads the video before typing, so type once the page is drawn
        expect(page.get_by_test_id("stStatusWidgetRunningIcon")).to_have_count(0)
        page.keyboard.type("wrong name in the second sentence")
        page.keyboard.press("Enter")
        page.keyboard.press("j")  # at once, while the page redraws: a key, not a letter
        deadline = time.monotonic() + 30  # (the J's redraw may replace the "Rejected" note)
        while manifests.load(store, "vid-test0002")[0].state is not ReviewState.REJECTED:
            assert time.monotonic() < deadline, "the rejection was not recorded"
            page.wait_for_timeout(200)
        page.wait_for_function("!['INPUT', 'TEXTAREA'].includes(document.activeElement?.tagName)")
        # The J pressed during the redraw either moved on or was dropped with the old page;
        # either way it typed nothing. Once the page is drawn again, J moves on from where
        # the rejection went (vid-test0001). A key pressed before the new page's shortcuts
        # are bound is dropped too, so on a slow machine it is pressed again. Which video is
        # shown is read from the page: the URL follows it a moment later (a clean-clone run
        # saw vid-test0000 drawn, its Next disabled, while the URL still named vid-test0001).
        expect(page.get_by_test_id("stStatusWidgetRunningIcon")).to_have_count(0)
        page.wait_for_url(re.compile(r"video=vid-test000[01]"))  # the URL follows the page
        last = page.get_by_text("vid-test0000", exact=True)
        for _ in range(5):
            expect(page.get_by_test_id("stStatusWidgetRunningIcon")).to_have_count(0)
            if last.count() or "video=vid-test0001" not in page.url:
                break
            expect(page.get_by_role("button", name="Next")).to_be_enabled()
            page.keyboard.press("j")
            with contextlib.suppress(sync_api.TimeoutError):
                page.wait_for_url("**video=vid-test0000**", timeout=5_000)
        shown("vid-test0000")
        note = page.get_by_role("textbox", name="Note — why reject? (N to type, Enter rejects)")
        expect(note).to_have_value("")
        page.keyboard.press("Enter")  # nothing to submit: no rejection with a stray note
        page.wait_for_timeout(1000)
        page.screenshot(path=str(SHOTS / "review-keys.png"))

        # a view opens its own first video, and the URL says which view and video
        page.locator("button", has_text="rejected · 2").click()
        shown("vid-test0005")
        assert "view=rejected" in page.url
        page.locator("button", has_text="approved · 1").click()
        shown("vid-test0004")
        # the link opens the same view and video in a fresh tab
        other = page.context.new_page()  # another tab of the same browser
        other.goto(page.url)
        expect(other.get_by_text("vid-test0004", exact=True).first).to_be_visible()
        expect(other.get_by_text("1 of 1 approved")).to_be_visible()
        # the reviewer's name outlives a reload (a signed cookie)
        expect(other.get_by_role("textbox", name="Reviewer name")).to_have_value("Ada")
        other.reload()
        expect(other.get_by_role("textbox", name="Reviewer name")).to_have_value("Ada")
        browser.close()
    # nothing leaves the machine: no font CDN for the page icon, no analytics
    outside = [u for u in requests if not u.startswith((queue_server, "data:", "blob:"))]
    assert not outside, outside

    after = {f"vid-test000{n}": manifests.load(store, f"vid-test000{n}")[0] for n in range(6)}
    assert after["vid-test0004"].state is ReviewState.APPROVED
    assert after["vid-test0004"].history[-1].by == "Ada"
    rejected = after["vid-test0002"]
    assert rejected.state is ReviewState.REJECTED
    assert (rejected.history[-1].by, rejected.history[-1].note) == (
        "Ada",
        "wrong name in the second sentence",
    )
    for vid in ("vid-test0003", "vid-test0001", "vid-test0000", "vid-test0005"):
        assert after[vid].model_dump() == before[vid].model_dump(), vid  # nothing else changed
