"""One redaction path: providers that quote our credentials in their 500s leave no key in the
store, Prefect (runs, artifacts, logs), the log files or any API answer; no absolute store
path either."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes import FakeOpenAI, FakeReplicate
from test_api import _finished, api_env, client, serve  # noqa: F401  (fixtures)

from novaavatar.logs import redact
from novaavatar.settings import get_settings

OPENAI_KEY = "loopback-openai-credential-Zq81xv"  # no well-known shape: only settings know it
REPLICATE_TOKEN = "loopback-replicate-credential-Wm42"


@pytest.fixture
def echoing(
    api_env: Callable[..., None],  # noqa: F811
) -> Iterator[tuple[FakeOpenAI, FakeReplicate]]:
    with FakeOpenAI(api_key=OPENAI_KEY) as openai, FakeReplicate(token=REPLICATE_TOKEN) as rep:
        openai.echo_credentials = rep.echo_credentials = True
        api_env(
            OPENAI_API_KEY=OPENAI_KEY,
            OPENAI_BASE_URL=openai.base_url,
            OPENAI_MAX_RETRIES="0",
            REPLICATE_API_TOKEN=REPLICATE_TOKEN,
            REPLICATE_BASE_URL=rep.url,
            REPLICATE_POLL_INTERVAL="0.05",
        )
        yield openai, rep


def test_redact_hides_configured_secrets_shapes_and_store_paths(
    storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    get_settings.cache_clear()
    text = (
        f"500 for Bearer {OPENAI_KEY} at {storage}/artifacts/videos/vid-1/a.mp4 "
        f"and {storage}/prefect-results/x; token r8_{'a' * 24}"
    )
    out = redact(text)
    assert OPENAI_KEY not in out and "r8_aaaa" not in out and str(storage) not in out
    assert "at videos/vid-1/a.mp4 " in out and "$STORAGE_PATH/prefect-results/x" in out


def _all_text(root: Path) -> Iterator[tuple[Path, bytes]]:
    for p in root.rglob("*"):
        if p.is_file():
            yield p, p.read_bytes()


@pytest.mark.usefixtures("prefect_harness")
def test_keys_echoed_by_failing_providers_reach_no_store_run_log_or_answer(
    client: httpx.Client,  # noqa: F811
    echoing: tuple[FakeOpenAI, FakeReplicate],
    storage: Path,
    prefect_server: str,
) -> None:
    answers: list[str] = []
    r = client.post("/api/scrape", json={"limit": 1, "sample": True})
    assert r.status_code == 200, r.text
    item = r.json()["items"][0]["id"]
    r = client.post("/api/generate", json={"item_id": item, "duration_s": 15, "aspect": "1:1"})
    assert r.status_code == 202, r.text
    job = _finished(client, r.json(), timeout_s=240)
    assert job["state"] == "completed", job
    vid = job["video_id"]
    for path in (
        f"/api/jobs/{job['id']}",
        "/api/jobs",
        "/api/queue?state=all",
        f"/api/videos/{vid}/manifest",
        "/api/videos/vid-000000000000/manifest",
    ):
        answers.append(client.get(path).text)
    manifest = client.get(f"/api/videos/{vid}/manifest").json()
    # the failures are kept, with the key hidden: a reviewer still sees what went wrong
    assert "[redacted]" in manifest["stages"]["script"]["detail"], manifest["stages"]["script"]
    assert "[redacted]" in manifest["stages"]["background"]["detail"]
    assert manifest["stages"]["script"]["provider"] == "template"

    run_id = manifest["flow_run_id"]
    prefect: dict[str, Any] = {
        "artifacts": {"artifacts": {"flow_run_id": {"any_": [run_id]}}},
        "logs": {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200},
        "task_runs": {"flow_runs": {"id": {"any_": [run_id]}}},
        "flow_runs": {"flow_runs": {"id": {"any_": [run_id]}}},
    }
    for what, body in prefect.items():
        r = httpx.post(f"{prefect_server}/{what}/filter", json=body, timeout=30)
        assert r.status_code == 200, r.text
        answers.append(r.text)
    assert f"video-{vid}" in answers[5] and answers[6].count('"message"') > 3  # we saw them

    for text in answers:
        assert OPENAI_KEY not in text and REPLICATE_TOKEN not in text
    assert str(storage) not in answers[3], "the manifest names an absolute store path"
    for path, data in _all_text(storage):  # artifacts, stage records, results, log files
        assert OPENAI_KEY.encode() not in data, path
        assert REPLICATE_TOKEN.encode() not in data, path
    manifest_raw = (storage / "artifacts" / "videos" / vid / "manifest.json").read_text()
    assert str(storage) not in manifest_raw
