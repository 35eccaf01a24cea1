"""The original NovaAvatar API contract: its field and style names, ``job_id``, downloads by
job id, port 8000 — and its example client, run unchanged but for the auth header against
the API started as ``make up`` starts it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_review_app_support import add_video, tiny_mp4

from novaavatar import manifests
from novaavatar.store import ArtifactStore

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "compat-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def api(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> Iterator[Any]:
    """A TestClient of the app; produce runs are replaced by what ``produced`` says. Local
    jobs run against the session's Prefect server (else each would wait for one to start)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from novaavatar.settings import get_settings

    monkeypatch.setenv("API_TOKENS", TOKEN)
    monkeypatch.setenv("API_RATE_LIMIT", "0")
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)  # no deployments there: runs locally
    get_settings.cache_clear()
    with TestClient(create_app(), headers=AUTH) as client:
        yield client


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The parameters of every produce run the API starts (none really renders)."""
    from flows import produce

    started: list[dict[str, Any]] = []
    monkeypatch.setattr(produce, "produce_video", lambda **kw: started.append(kw) or "vid-x")
    return started


def test_original_field_and_style_names_are_accepted(api: Any, runs: list[dict[str, Any]]) -> None:
    from novaavatar.service import jobs as actions

    original = {
        "content_title": "Ferry line opens",
        "content_description": "The boat carries 120 passengers.",
        "content_url": "https://news.example/ferry",
        "duration": 45,
    }
    for style, ours in (
        ("professional", "professional"),
        ("casual", "casual"),
        ("educational", "educational"),
        ("entertaining", "entertaining"),
        ("news anchor", "news_anchor"),
        ("News Anchor", "news_anchor"),
        ("news_anchor", "news_anchor"),
    ):
        r = api.post("/api/generate", json={**original, "style": style})
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["job_id"] == job["id"] and job["status"] == job["state"]
        actions.wait_all(timeout=10)
        assert runs, [(j.status, j.error) for j in actions.jobs()]
        options = runs[-1]["options"]
        assert options["style"] == ours and options["duration_s"] == 45
    item = manifests_item(api, runs[-1]["item_id"])
    assert (item["title"], item["summary"], item["url"]) == (
        "Ferry line opens",
        "The boat carries 120 passengers.",
        "https://news.example/ferry",
    )
    # ours and the original's for one field must agree; unknown fields are still refused
    r = api.post("/api/generate", json={"title": "A", "content_title": "B"})
    assert r.status_code == 422 and "give title or content_title" in r.text
    r = api.post("/api/generate", json={**original, "colour": "blue"})
    assert r.status_code == 422 and "colour" in r.text
    r = api.post("/api/generate", json={**original, "style": "poetic"})
    assert r.status_code == 422
    schema = api.get("/openapi.json").json()["components"]["schemas"]["GenerateRequest"]
    assert {"content_title", "content_description", "content_url", "duration"} <= set(
        schema["properties"]
    )
    style = schema["properties"]["style"]  # optional: unset means DEFAULT_STYLE
    names = {n for alt in style.get("anyOf", [style]) for n in alt.get("enum", [])}
    assert "news anchor" in names
    assert {"professional", "casual", "educational", "entertaining"} <= names


def manifests_item(api: Any, item_id: str) -> dict[str, Any]:
    from novaavatar.store import get_store

    return get_store().get_json(f"items/{item_id}.json")


def test_videos_by_job_id_while_running_done_and_failed(
    api: Any, store: ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows import produce
    from novaavatar.service import jobs as actions

    mp4 = tiny_mp4(tmp_path / "tiny.mp4")
    made = add_video(store, 0, mp4)
    release = threading.Event()
    outcome: dict[str, Any] = {}

    def fake_produce(**params: Any) -> str:
        release.wait(20)
        if outcome.get("fail"):
            raise RuntimeError("speech: the voice is gone")
        vid = outcome["video_id"]  # the id the API computed for these options
        manifests.save(store, made.model_copy(update={"video_id": vid, "version": 0}), None)
        return vid

    monkeypatch.setattr(produce, "produce_video", fake_produce)
    job = api.post("/api/generate", json={"content_title": "Ferry", "duration": 15}).json()
    outcome["video_id"] = job["video_id"]
    r = api.get(f"/api/videos/{job['job_id']}")
    assert r.status_code == 409 and r.headers["x-job-state"] in ("scheduled", "running")
    assert f"job {job['job_id']} is" in r.json()["detail"]
    release.set()
    actions.wait_all(timeout=20)
    r = api.get(f"/api/videos/{job['job_id']}")
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    assert r.content == mp4.read_bytes()

    release.clear()
    outcome["fail"] = True
    failed = api.post("/api/generate", json={"content_title": "Storm", "duration": 15}).json()
    release.set()
    actions.wait_all(timeout=20)
    r = api.get(f"/api/videos/{failed['job_id']}")
    assert r.status_code == 404 and "the voice is gone" in r.json()["detail"]
    assert api.get("/api/videos/local-999999").status_code == 404  # no such job
    # a video id still works as before
    assert api.get(f"/api/videos/{made.video_id}").status_code == 200


def test_default_api_port_is_the_designs() -> None:
    from novaavatar.settings import Settings, load_settings

    assert Settings.model_fields["api_port"].default == 8000
    assert load_settings(api_port=8123).api_port == 8123


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_original_example_client_gets_a_playable_mp4(tmp_path: Path) -> None:
    """`examples/original_client.py` against the API as `make up` starts it (uvicorn,
    its own process); the only addition to the original client is the bearer token."""
    from novaavatar.media import extract_frame, probe
    from novaavatar.service.stack import API_APP

    port = _free_port()
    env = {
        **os.environ,
        "STORAGE_PATH": str(tmp_path / "storage"),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "API_TOKENS": TOKEN,
        "API_RATE_LIMIT": "0",
    }
    env.pop("PREFECT_API_URL", None)  # no stack here: the API runs flows locally
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            API_APP,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-server-header",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "API did not start"
                time.sleep(0.2)
        out = tmp_path / "video.mp4"
        client = subprocess.run(
            [
                sys.executable,
                str(ROOT / "examples" / "original_client.py"),
                f"http://127.0.0.1:{port}",
                str(out),
            ],
            env={**env, "NOVAAVATAR_API_TOKEN": TOKEN, "NOVAAVATAR_DURATION": "15"},
            capture_output=True,
            text=True,
            timeout=400,
        )
        assert client.returncode == 0, client.stdout + client.stderr
        assert "Status: completed" in client.stdout
    finally:
        server.terminate()
        server.wait(20)
    info = probe(out)
    assert info.has_audio and (info.width, info.height) == (720, 1280)
    assert 12 < info.duration_s < 40
    frame = extract_frame(out, info.duration_s / 2)
    assert frame.shape == (1280, 720, 3) and frame.std() > 10  # a decodable, non-blank picture
