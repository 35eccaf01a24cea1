"""The produce, scrape and export flows on a real (temporary) Prefect server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from novaavatar import manifests, templates
from novaavatar.domain import ProduceOptions, ReviewState
from novaavatar.media import extract_frame, probe
from novaavatar.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _scrape(n: int = 4) -> list[str]:
    from flows.scrape import scrape_content

    return [i.id for i in scrape_content(sample=True, limit=n)]


def _stage_stamps(store, video_id: str) -> dict[str, bytes]:
    return {k: store.get_bytes(k) for k in store.list(f"videos/{video_id}/stages")}


def _render_spans(names: set[str], flow_run_id: object) -> list[tuple[float, float]]:
    """Start and end of the named task runs of one flow run (the session's server also holds
    other tests' runs of the same videos)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + 30  # task run states reach the server as events, later
    while True:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
        spans = [
            (r.start_time.timestamp(), r.end_time.timestamp())
            for r in runs
            if r.name in names and r.start_time and r.end_time
        ]
        if len(spans) >= len(names) or time.monotonic() > deadline:
            return spans
        time.sleep(0.5)


def test_batch_produces_reviewable_videos_and_rerun_is_cached(
    store, storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.produce import produce_batch
    from novaavatar.settings import get_settings

    monkeypatch.setenv("MAX_CONCURRENT_JOBS", "1")
    get_settings.cache_clear()
    ids = _scrape()
    # two good items, one unknown id: the batch goes on without it
    state = produce_batch(
        options=ProduceOptions(duration_s=15, aspect="16:9"),
        item_ids=[ids[0], "item-doesnotexist", ids[3]],
        return_state=True,
    )
    assert state.is_completed()
    videos = state.result()
    assert len(videos) == 2
    # MAX_CONCURRENT_JOBS=1 is a Prefect tag limit: the two renders never overlapped
    spans = sorted(_render_spans({f"avatar {v}" for v in videos}, state.state_details.flow_run_id))
    assert len(spans) == 2 and spans[0][1] <= spans[1][0] + 0.05, spans
    m, _ = manifests.load(store, videos[0])
    assert m.state is ReviewState.PENDING and m.final is not None and m.quality is not None
    assert {"script", "background", "speech", "avatar", "compose", "quality"} <= set(m.stages)
    assert m.quality.passed, m.quality.failed
    info = probe(store.materialize(m.final.key))
    assert info.has_audio and info.has_video and (info.width, info.height) == (1280, 720)
    assert abs(info.duration_s - m.final.duration_s) < 0.2
    frame = extract_frame(store.materialize(m.final.key), 3.0)
    assert frame.mean() > 20
    srt = store.get_bytes(m.final.srt_key).decode()
    assert "-->" in srt and "," in srt.splitlines()[1]
    # manifests hold keys, never absolute paths
    raw = store.get_bytes(f"videos/{m.video_id}/manifest.json").decode()
    assert str(storage) not in raw

    before = _stage_stamps(store, m.video_id)
    again = produce_batch(options=ProduceOptions(duration_s=15, aspect="16:9"), item_ids=[ids[0]])
    assert again == videos[:1]
    assert _stage_stamps(store, m.video_id) == before  # no stage ran again


def test_decisions_survive_a_rerun_and_export(store) -> None:
    from flows.produce import produce_video
    from flows.review import export_approved

    ids = _scrape()
    vid = produce_video(ids[1], options=ProduceOptions(duration_s=15, aspect="1:1"))
    manifests.decide(store, vid, ReviewState.APPROVED, by="ann")
    assert produce_video(ids[1], options=ProduceOptions(duration_s=15, aspect="1:1")) == vid
    m, _ = manifests.load(store, vid)
    assert m.state is ReviewState.APPROVED  # the rerun did not reset the decision
    assert export_approved() == [vid]
    assert store.exists(f"exports/{vid}/video.mp4") and store.exists(f"exports/{vid}/captions.vtt")
    meta = store.get_json(f"exports/{vid}/metadata.json")
    assert meta["approved_by"] == "ann" and meta["ai_generated"] is True
    m, _ = manifests.load(store, vid)
    assert m.state is ReviewState.EXPORTED


def test_bad_portrait_fails_only_that_video(store, tmp_path: Path) -> None:
    from flows.produce import produce_batch, produce_video

    ids = _scrape()
    from novaavatar.consent import attest

    store.put_bytes("uploads/not-an-image.png", b"this is text, not a picture")
    attest(store, "uploads/not-an-image.png", "tester", via="test")
    state = produce_video(
        ids[2],
        options=ProduceOptions(
            duration_s=15, aspect="1:1", portrait_key="uploads/not-an-image.png"
        ),
        return_state=True,
    )
    assert state.is_failed()
    failed = manifests.queue(store, ReviewState.FAILED)
    assert len(failed) == 1 and "not-an-image" in (failed[0].error or "")
    assert produce_batch(
        options=ProduceOptions(duration_s=15, aspect="1:1"), item_ids=[ids[2]]
    )  # same item, no portrait: fine


def test_regenerate_reruns_only_the_stage_and_what_depends_on_it(store) -> None:
    from flows.produce import produce_video
    from novaavatar.service import production

    ids = _scrape()
    vid = produce_video(ids[0], options=ProduceOptions(duration_s=15, aspect="1:1"))
    first, _ = manifests.load(store, vid)
    manifests.decide(store, vid, ReviewState.REJECTED, by="ann", note="background too dark")
    stamps = _stage_stamps(store, vid)
    assert production.regenerate(store, vid, ["background"], "ann").run_here() == vid
    m, _ = manifests.load(store, vid)
    assert m.state is ReviewState.PENDING and m.takes == {"background": 1}
    assert m.history[-1].note == "regenerated: background" and m.history[-1].by == "ann"
    after = _stage_stamps(store, vid)
    for stage in ("script", "speech"):  # upstream or independent: from the cache
        assert (
            after[f"videos/{vid}/stages/{stage}.json"]
            == stamps[f"videos/{vid}/stages/{stage}.json"]
        )
    for stage in ("background", "avatar", "compose"):
        assert (
            after[f"videos/{vid}/stages/{stage}.json"]
            != stamps[f"videos/{vid}/stages/{stage}.json"]
        )
    assert m.final is not None and first.final is not None and m.final.key != first.final.key
    assert store.exists(first.final.key)  # the earlier take is kept, not overwritten
    new_bg, old_bg = m.stages["background"].keys[0], first.stages["background"].keys[0]
    assert new_bg != old_bg and store.exists(old_bg)  # a new take gets a new file


def test_scrape_auto_produces_items_above_the_threshold(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.scrape import scrape_content
    from novaavatar.settings import get_settings

    monkeypatch.setenv("AUTO_PRODUCE_THRESHOLD", "0")
    monkeypatch.setenv("AUTO_PRODUCE_MAX", "1")
    monkeypatch.setenv("DEFAULT_DURATION", "15")
    get_settings.cache_clear()
    items = scrape_content(sample=True, limit=3)
    made = manifests.queue(store)
    assert len(made) == 1 and made[0].item.id == items[0].id  # the cap holds
    scrape_content(sample=True, limit=3)
    assert len(manifests.queue(store)) == 2  # the next run takes the next new item


def test_a_scrape_whose_sources_all_fail_fails_and_produces_nothing(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Auto-produce on, every configured feed down: the run fails with each feed's reason and
    no video is made (the bundled fictional sample is never substituted)."""
    import threading

    from fakes._http import JsonHandler, LoopbackServer

    from flows.scrape import scrape_content
    from novaavatar.settings import get_settings

    class Down(JsonHandler):
        def do_GET(self) -> None:
            self.send_bytes(503, b"down for maintenance", "text/plain")

    with LoopbackServer(("127.0.0.1", 0), Down) as srv:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        feeds = [f"http://127.0.0.1:{srv.server_address[1]}/{n}.xml" for n in ("a", "b")]
        monkeypatch.setenv("RSS_FEEDS", ",".join(feeds))
        monkeypatch.setenv("AUTO_PRODUCE_THRESHOLD", "0")
        get_settings.cache_clear()
        state = scrape_content(limit=3, return_state=True)
        srv.shutdown()
    assert state.is_failed()
    assert "every source failed" in str(state.message)
    assert all(f"{url}: HTTP 503" in str(state.message) for url in feeds)
    assert manifests.queue(store) == [] and store.list("videos") == []
    latest = store.get_json("items/latest.json")
    assert latest["ids"] == [] and latest["all_failed"] and set(latest["errors"]) == set(feeds)


def test_a_failure_message_never_stores_a_secret(store, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.graph import enqueue_for_review
    from novaavatar.domain import ContentItem, ProduceOptions, video_id_for
    from novaavatar.settings import get_settings

    secret = "sk-test-abcdefghijklmnop0123"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    get_settings.cache_clear()
    item = ContentItem.make(title="Story", url="https://e.org/s", source="E")
    options = ProduceOptions()
    vid = video_id_for(item, options)
    m = enqueue_for_review(
        vid, item, options, store.uri, None, None, None, error=f"script: refused key {secret}"
    )
    assert m.state is ReviewState.FAILED and "[redacted]" in (m.error or "")
    assert secret not in store.get_bytes(f"videos/{vid}/manifest.json").decode()


DEFAULTS = {
    "DEFAULT_STYLE": "casual",
    "DEFAULT_DURATION": "15",
    "DEFAULT_ASPECT": "1:1",
    "TTS_VOICE": "en-gb",
}


def _set_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from novaavatar.settings import get_settings

    for name, value in DEFAULTS.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def test_a_run_without_options_takes_the_settings_defaults(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the deployment runs with only an item id: DEFAULT_STYLE, DEFAULT_DURATION,
    DEFAULT_ASPECT and TTS_VOICE, with the format's template pinned."""
    from flows.produce import produce_video

    _set_defaults(monkeypatch)
    vid = produce_video(_scrape(2)[1])
    m, _ = manifests.load(store, vid)
    o = m.options
    assert (o.style, o.duration_s, o.aspect, o.voice) == ("casual", 15, "1:1", "en-gb")
    assert o.template == "news@1" and m.script is not None and m.script.style == "casual"
    # an option the run sets wins over the setting
    chosen = templates.build_options({"style": "educational"}, store, get_settings())
    assert (chosen.style, chosen.aspect) == ("educational", "1:1")


def test_the_cli_and_the_api_leave_unset_options_to_the_settings(
    store, monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> None:
    """Neither door writes its own defaults into a run: what the user left out reaches the
    flow unset, so the worker's settings decide, and the video id the API answers is the one
    the flow will make."""
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from api.app import create_app
    from flows import produce
    from novaavatar.cli import app
    from novaavatar.domain import video_id_for
    from novaavatar.items import load_item

    _set_defaults(monkeypatch)
    monkeypatch.setenv("API_TOKENS", "tok-defaults-0123456789")
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)  # no deployments there: runs here
    get_settings.cache_clear()
    item_id = _scrape(2)[0]
    batches: list[dict] = []
    videos: list[dict] = []
    monkeypatch.setattr(produce, "produce_batch", lambda **kw: batches.append(kw) or [])
    monkeypatch.setattr(produce, "produce_video", lambda **kw: videos.append(kw) or "vid-x")

    res = CliRunner().invoke(app, ["produce", item_id])
    assert res.exit_code == 0, res.output
    assert batches[0]["options"] == {} and batches[0]["item_ids"] == [item_id]

    auth = {"Authorization": "Bearer tok-defaults-0123456789"}
    with TestClient(create_app(), headers=auth) as client:
        r = client.post("/api/generate", json={"item_id": item_id})
    assert r.status_code == 202, r.text
    from novaavatar.service import jobs

    jobs.wait_all(timeout=30)
    expected = templates.build_options({}, store, get_settings())
    assert (expected.style, expected.aspect, expected.voice) == ("casual", "1:1", "en-gb")
    assert r.json()["video_id"] == video_id_for(load_item(store, item_id), expected)
