"""The REST API against a live uvicorn on 127.0.0.1, a temporary local store and, where flows
run, the Prefect test harness."""

from __future__ import annotations

import contextvars
import hashlib
import io
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from test_review_app_support import SRT, VTT, add_video, tiny_mp4

from api.security import TokenBucket
from novaavatar import manifests, webhooks
from novaavatar.domain import ReviewState

TOKEN, OTHER = "tok-alpha-0123456789", "tok-beta-9876543210"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_mp4(tmp_path_factory.mktemp("media") / "tiny.mp4")


@pytest.fixture
def api_env(storage: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set API settings (tokens by default) and re-read them."""
    from novaavatar.settings import get_settings

    for name in ("PREFECT_API_URL", "REVIEWERS", "WEBHOOK_URL", "WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)

    def set_env(**env: str) -> None:
        monkeypatch.setenv("API_TOKENS", f"{TOKEN},{OTHER}")
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        get_settings.cache_clear()

    set_env()
    return set_env


@pytest.fixture
def serve(api_env: Callable[..., None]) -> Iterator[Callable[[], str]]:
    """Start the app on a free loopback port in a thread; returns its base URL.

    The server runs in a copy of the test's context, so flows it starts locally use the
    Prefect test harness when the test has it.
    """
    import uvicorn

    from api.app import create_app

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start() -> str:
        port = free_port()
        app = create_app()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        ctx = contextvars.copy_context()
        thread = threading.Thread(target=ctx.run, args=(server.run,), daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        servers.append((server, thread))
        start.app = app  # type: ignore[attr-defined]
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def client(serve: Callable[[], str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=serve(), headers=AUTH, timeout=30) as c:
        yield c


def assert_problem(r: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    for w in words:
        assert w in body["detail"], body
    return dict(body)


# --- auth, CORS, rate limit -------------------------------------------------------------


def test_requests_need_a_valid_bearer_token(client: httpx.Client) -> None:
    assert client.get("/api/health", headers={"Authorization": ""}).status_code == 200
    r = client.get("/api/queue", headers={"Authorization": ""})
    assert_problem(r, 401, "Authorization: Bearer")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert_problem(client.get("/api/queue", headers={"Authorization": "Bearer nope"}), 401)
    assert_problem(client.get("/api/queue", headers={"Authorization": f"Basic {TOKEN}"}), 401)
    assert client.get("/api/queue").status_code == 200
    assert client.get("/api/queue", headers={"Authorization": f"Bearer {OTHER}"}).is_success
    assert_problem(client.get("/metrics", headers={"Authorization": ""}), 401)
    # the docs are public, and say how to authenticate
    schema = client.get("/openapi.json", headers={"Authorization": ""}).json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert client.get("/docs", headers={"Authorization": ""}).status_code == 200


def test_without_configured_tokens_everything_is_refused(
    api_env: Callable[..., None], serve: Callable[[], str]
) -> None:
    api_env(API_TOKENS="")
    r = httpx.get(f"{serve()}/api/queue", headers=AUTH)
    assert_problem(r, 401, "set API_TOKENS")


def test_cors_is_off_by_default_and_follows_the_settings(
    api_env: Callable[..., None], serve: Callable[[], str]
) -> None:
    preflight = {
        "Origin": "https://cms.example.org",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    base = serve()
    r = httpx.options(f"{base}/api/generate", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    r = httpx.get(f"{base}/api/queue", headers={**AUTH, "Origin": "https://cms.example.org"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers

    api_env(API_CORS_ORIGINS="https://cms.example.org,https://tool.example.com")
    base = serve()
    r = httpx.options(f"{base}/api/generate", headers=preflight)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://cms.example.org"
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    r = httpx.options(f"{base}/api/generate", headers={**preflight, "Origin": "https://evil.test"})
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    # refusals carry CORS headers too, so a browser app can read the problem
    r = httpx.get(f"{base}/api/queue", headers={"Origin": "https://tool.example.com"})
    assert r.status_code == 401
    assert r.headers["access-control-allow-origin"] == "https://tool.example.com"


def test_rate_limit_is_per_token(api_env: Callable[..., None], serve: Callable[[], str]) -> None:
    api_env(API_RATE_LIMIT="3")
    base = serve()
    codes = [httpx.get(f"{base}/api/queue", headers=AUTH).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = httpx.get(f"{base}/api/queue", headers=AUTH)
    assert_problem(r, 429, "3 requests per minute")
    assert int(r.headers["retry-after"]) >= 1
    other = httpx.get(f"{base}/api/queue", headers={"Authorization": f"Bearer {OTHER}"})
    assert other.status_code == 200


def test_token_bucket_refills_with_time() -> None:
    now = [0.0]
    bucket = TokenBucket(60, clock=lambda: now[0])  # one a second, a burst of sixty
    assert all(bucket.take("a") == 0 for _ in range(60))
    assert bucket.take("a") == pytest.approx(1.0)
    now[0] += 2.5
    assert bucket.take("a") == 0 and bucket.take("a") == 0 and bucket.take("a") > 0
    assert bucket.take("b") == 0
    assert TokenBucket(0).take("a") == 0  # 0: off


# --- queue and decisions ---------------------------------------------------------------


def test_queue_approve_and_reject(client: httpx.Client, store: Any, mp4: Path) -> None:
    for n in range(3):
        add_video(store, n, mp4, failed_check=n == 2, sample=n == 1)
    add_video(store, 3, None, state=ReviewState.FAILED)
    q = client.get("/api/queue").json()
    assert [v["video_id"] for v in q["videos"]] == ["vid-test0002", "vid-test0001", "vid-test0000"]
    assert [v["sample"] for v in q["videos"]] == [False, True, False]  # fiction says so
    assert q["counts"]["pending"] == 3 and q["counts"]["failed"] == 1
    assert q["counts"]["needs_attention"] == 1 and q["next_offset"] is None
    first = q["videos"][2]
    assert first["links"]["video"] == "/api/videos/vid-test0000" and first["version"] == 1
    page = client.get("/api/queue", params={"state": "all", "limit": 2, "offset": 1}).json()
    assert len(page["videos"]) == 2 and page["next_offset"] == 3
    attention = client.get("/api/queue", params={"state": "needs_attention"}).json()
    assert [v["video_id"] for v in attention["videos"]] == ["vid-test0002"]

    r = client.post(
        "/api/queue/vid-test0000/approve", json={"reviewer": "Ada", "expected_version": 1}
    )
    assert r.status_code == 200 and r.json()["state"] == "approved" and r.json()["version"] == 2
    m, _ = manifests.load(store, "vid-test0000")
    assert m.state is ReviewState.APPROVED and m.history[-1].by == "Ada"
    assert_problem(client.post("/api/queue/vid-test0000/approve"), 409, "is approved")

    # a decision on what someone else changed meanwhile is a conflict, not an overwrite
    manifests.decide(store, "vid-test0001", ReviewState.APPROVED, by="Bob")
    r = client.post(
        "/api/queue/vid-test0001/reject", json={"note": "too long", "expected_version": 1}
    )
    assert_problem(r, 409, "changed since you opened it", "Bob")
    assert manifests.load(store, "vid-test0001")[0].state is ReviewState.APPROVED

    body = assert_problem(client.post("/api/queue/vid-test0002/reject", json={}), 422)
    assert body["errors"][0]["loc"][-1] == "note"
    assert_problem(client.post("/api/queue/vid-test0002/reject", json={"note": "  "}), 422)
    r = client.post("/api/queue/vid-test0002/reject", json={"note": "audio too quiet"})
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    assert manifests.load(store, "vid-test0002")[0].history[-1].note == "audio too quiet"

    assert_problem(client.post("/api/queue/vid-nothere00/approve"), 404, "vid-nothere00")
    assert_problem(client.post("/api/queue/BAD_ID/approve"), 422)
    assert_problem(client.post("/api/queue/vid-test0002/approve", json={"extra": 1}), 422)


def test_reviewers_setting_limits_who_decides(
    api_env: Callable[..., None], serve: Callable[[], str], store: Any, mp4: Path
) -> None:
    api_env(REVIEWERS="Ada,Bob")
    add_video(store, 0, mp4)
    base = serve()
    r = httpx.post(f"{base}/api/queue/vid-test0000/approve", json={"reviewer": "Eve"}, headers=AUTH)
    assert_problem(r, 403, "'Eve'")
    r = httpx.post(f"{base}/api/queue/vid-test0000/approve", json={"reviewer": "Ada"}, headers=AUTH)
    assert r.status_code == 200


# --- videos ------------------------------------------------------------------------------


def test_video_with_ranges_captions_and_manifest(
    client: httpx.Client, store: Any, mp4: Path
) -> None:
    add_video(store, 0, mp4)
    add_video(store, 1, None, state=ReviewState.FAILED)
    data = mp4.read_bytes()
    r = client.get("/api/videos/vid-test0000")
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "video/mp4" and r.headers["accept-ranges"] == "bytes"
    r = client.get("/api/videos/vid-test0000", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and r.content == data[:100]
    assert r.headers["content-range"] == f"bytes 0-99/{len(data)}"
    r = client.get("/api/videos/vid-test0000", headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == data[-10:]
    r = client.get("/api/videos/vid-test0000", headers={"Range": f"bytes={len(data) - 5}-"})
    assert r.status_code == 206 and r.content == data[-5:]
    r = client.get("/api/videos/vid-test0000", headers={"Range": f"bytes={len(data)}-"})
    assert_problem(r, 416)
    assert r.headers["content-range"] == f"bytes */{len(data)}"
    r = client.get("/api/videos/vid-test0000", headers={"Range": "pages=1-2"})
    assert r.status_code == 200 and r.content == data  # not a byte range: the whole file

    r = client.get("/api/videos/vid-test0000/captions.vtt")
    assert r.text == VTT and r.headers["content-type"].startswith("text/vtt")
    assert client.get("/api/videos/vid-test0000/captions.srt").text == SRT
    r = client.get("/api/videos/vid-test0000/manifest")
    assert r.json()["video_id"] == "vid-test0000" and r.headers["etag"] == '"1"'

    assert_problem(client.get("/api/videos/vid-test0001"), 404, "no final video (failed)")
    assert_problem(client.get("/api/videos/vid-test0001/captions.vtt"), 404)
    assert_problem(client.get("/api/videos/vid-missing00/manifest"), 404, "vid-missing00")


def test_ids_cannot_reach_outside_the_store(client: httpx.Client, store: Any, mp4: Path) -> None:
    add_video(store, 0, mp4)
    for path in (
        "/api/videos/..%2F..%2Fsettings.py",
        "/api/videos/vid-test0000%2F..%2F..%2Fmanifest",
        "/api/videos/%2e%2e/manifest",
        "/api/videos/..",
    ):
        r = client.get(path)
        assert r.status_code in (404, 422), (path, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert_problem(client.get("/api/videos/Vid-Upper/manifest"), 422)
    assert_problem(client.get("/api/jobs/../../etc"), 404)
    assert_problem(client.get("/api/jobs/local-x"), 422)


def test_s3_store_redirects_to_a_presigned_url(
    client: httpx.Client, serve: Callable[[], str], store: Any, mp4: Path
) -> None:
    add_video(store, 0, mp4)

    class S3Like:
        """The local store, presenting itself as S3 (the redirect is all that differs)."""

        uri = "s3://bucket/prefix?endpoint=127.0.0.1:9"

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def presigned_url(self, key: str, expires: Any = None) -> str:
            return f"https://s3.example.test/bucket/{key}?X-Amz-Signature=abc"

    serve.app.state.nova._store = S3Like()  # type: ignore[attr-defined]
    r = client.get("/api/videos/vid-test0000")
    assert r.status_code == 307
    assert r.headers["location"].startswith("https://s3.example.test/bucket/videos/vid-test0000/")


# --- metrics -----------------------------------------------------------------------------


def test_metrics_in_prometheus_text(client: httpx.Client, store: Any, mp4: Path) -> None:
    for n in range(3):
        add_video(store, n, mp4, state=ReviewState.APPROVED if n == 0 else ReviewState.PENDING)
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'novaavatar_videos{state="pending"} 2' in text
    assert 'novaavatar_videos{state="approved"} 1' in text
    assert 'novaavatar_videos{state="failed"} 0' in text
    assert 'novaavatar_stage_seconds{stage="avatar",quantile="0.5"} 6.5' in text
    assert 'novaavatar_stage_seconds{stage="avatar",quantile="0.95"} 6.5' in text
    assert 'novaavatar_stage_seconds_count{stage="avatar"} 3' in text
    assert 'novaavatar_stage_provider_videos{stage="speech",provider="espeak-ng"} 3' in text
    assert "# TYPE novaavatar_cost_usd gauge" in text and "novaavatar_cost_usd 0" in text
    for line in text.splitlines():  # every sample line is "name{labels} number"
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


# --- webhooks ----------------------------------------------------------------------------


class Receiver:
    """A loopback webhook receiver; answers the first ``fail_first`` deliveries with 503."""

    def __init__(self, fail_first: int = 0) -> None:
        from fakes._http import JsonHandler, LoopbackServer

        self.got: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        owner = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.got.append((dict(self.headers), body))
                status = 503 if len(owner.got) <= owner.fail_first else 204
                self.send_bytes(status, b"")

        self.server = LoopbackServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/nova?key=s3cret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(fail_first: int = 0) -> Receiver:
        made.append(Receiver(fail_first))
        return made[-1]

    yield make
    for r in made:
        r.close()


def wait_for(receiver: Receiver, n: int, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while len(receiver.got) < n and time.monotonic() < deadline:
        time.sleep(0.05)


def test_approval_calls_the_webhook_with_a_valid_signature(
    api_env: Callable[..., None],
    serve: Callable[[], str],
    store: Any,
    mp4: Path,
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(fail_first=1)  # the first delivery fails: the sender retries
    api_env(WEBHOOK_URL=hook.url, WEBHOOK_SECRET="whsec-test")
    add_video(store, 0, mp4)
    base = serve()
    r = httpx.post(f"{base}/api/queue/vid-test0000/approve", json={}, headers=AUTH)
    assert r.status_code == 200
    wait_for(hook, 2)
    assert len(hook.got) == 2
    headers, body = hook.got[-1]
    assert webhooks.verify("whsec-test", headers[webhooks.SIGNATURE_HEADER], body)
    assert not webhooks.verify("other-secret", headers[webhooks.SIGNATURE_HEADER], body)
    assert not webhooks.verify("whsec-test", headers[webhooks.SIGNATURE_HEADER], body + b" ")
    event = json.loads(body)
    assert event["event"] == headers[webhooks.EVENT_HEADER] == webhooks.APPROVED
    assert event["data"]["video_id"] == "vid-test0000" and event["data"]["state"] == "approved"
    assert event["data"]["by"] == "api"
    # a retry is the same delivery, freshly signed
    assert hook.got[0][0][webhooks.DELIVERY_HEADER] == headers[webhooks.DELIVERY_HEADER]


def test_signatures_expire_and_unreachable_receivers_do_not_raise() -> None:
    body = b'{"event":"video.approved"}'
    header = webhooks.sign("k", 1_000_000, body)
    assert webhooks.verify("k", header, body, now=1_000_100)
    assert not webhooks.verify("k", header, body, now=1_000_000 + 301)  # a replay, later
    assert not webhooks.verify("k", "garbage", body)
    sender = webhooks.WebhookSender(
        url=f"http://127.0.0.1:{free_port()}/", secret="k", timeout_s=1, attempts=2, backoff_s=0
    )
    assert sender.send(webhooks.APPROVED, {"video_id": "vid-x"}) is False


# --- starting work: validation ---------------------------------------------------------


def _png(size: tuple[int, int] = (128, 128)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 160, 140)).save(buf, format="PNG")
    return buf.getvalue()


def _wav(seconds: float) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), 16000, format="WAV")
    return buf.getvalue()


def test_generate_and_uploads_are_validated(
    api_env: Callable[..., None], serve: Callable[[], str], store: Any
) -> None:
    api_env(MAX_UPLOAD_MB="1")
    c = httpx.Client(base_url=serve(), headers=AUTH, timeout=30)
    body = assert_problem(c.post("/api/generate", json={"item_id": "item-x1", "title": "T"}), 422)
    assert "either item_id" in body["detail"]
    assert_problem(c.post("/api/generate", json={}), 422, "either item_id")
    assert_problem(c.post("/api/generate", json={"item_id": "item-nothere"}), 422, "unknown item")
    assert_problem(c.post("/api/generate", json={"item_id": "../../etc/passwd"}), 422)
    body = assert_problem(c.post("/api/generate", json={"title": "T", "duration_s": 5}), 422)
    assert body["errors"][0]["loc"] == ["body", "duration_s"]
    assert_problem(c.post("/api/generate", json={"title": "T", "style": "shouty"}), 422)
    assert_problem(c.post("/api/generate", json={"title": "T", "voice": "xx-nope"}), 422, "voice")
    assert_problem(c.post("/api/scrape", json={"sources": ["file:///etc/passwd"]}), 422)
    assert_problem(
        c.post("/api/generate", content=b"{not json", headers={"Content-Type": "application/json"}),
        422,
    )

    form = {
        "title": "Team update",
        "text": "Hello there.",
        "i_have_consent": "true",
        "consent_by": "Ada",
    }
    r = c.post("/api/generate/manual", data=form, files={"portrait": ("cv.png", b"%PDF-1.4")})
    assert_problem(r, 422, "'cv.png' is not a readable image")
    r = c.post("/api/generate/manual", data={"title": "T"}, files={"audio": ("a.wav", b"RIFF....")})
    assert_problem(r, 422, "'a.wav' is not a readable audio file")
    r = c.post("/api/generate/manual", data={"title": "T"}, files={"portrait": ("p.png", _png())})
    assert_problem(r, 422, "either an audio upload or a text")
    r = c.post("/api/generate/manual", data={"title": "  ", "text": "Hi"})
    assert_problem(r, 422, "title is empty")
    big = b"\0" * (1024 * 1024 + 10)
    r = c.post("/api/generate/manual", data=form, files={"portrait": ("big.png", big)})
    assert_problem(r, 413, "MAX_UPLOAD_MB")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'--x\r\nContent-Disposition: form-data; name="title"\r\n\r\nT\r\n'
        for _ in range(20):
            yield b"\0" * 100_000

    r = c.post(
        "/api/generate/manual",
        content=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert_problem(r, 413)
    assert not [k for k in store.list("uploads")]  # nothing invalid was stored
    c.close()


# --- starting work: real flows on the harness --------------------------------------------


def _finished(client: httpx.Client, job: dict[str, Any], timeout_s: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while job["state"] in ("scheduled", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        job = client.get(f"/api/jobs/{job['id']}").json()
    return job


@pytest.mark.usefixtures("prefect_harness")
def test_scrape_returns_the_items_or_the_job_still_running(client: httpx.Client) -> None:
    r = client.post("/api/scrape", json={"limit": 3, "keywords": ["science"], "sample": True})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["job"]["kind"] == "scrape" and result["job"]["state"] == "completed"
    items = result["items"]
    assert len(items) == 3 and items[0]["score"] >= items[-1]["score"]
    assert all(i["sample"] is True for i in items)  # the bundled fiction says so
    r = client.post("/api/scrape", json={"limit": 2, "wait_s": 0, "sample": True})
    assert r.status_code == 202 and r.json()["items"] == []
    job = _finished(client, r.json()["job"], 30)
    assert job["state"] == "completed" and job["kind"] == "scrape"


@pytest.mark.usefixtures("prefect_harness")
def test_manual_job_runs_and_reports_stage_progress(client: httpx.Client, store: Any) -> None:
    # a valid image without a face: accepted, and the job fails saying why
    r = client.post(
        "/api/generate/manual",
        data={
            "title": "Faceless",
            "text": "Hello.",
            "aspect": "1:1",
            "i_have_consent": "true",
            "consent_by": "Ada",
        },
        files={"portrait": ("wall.png", _png(), "image/png")},
    )
    assert r.status_code == 202, r.text
    failed = _finished(client, r.json())
    assert failed["state"] == "failed" and "no face found" in failed["error"]

    r = client.post(
        "/api/generate/manual",
        data={"title": "API upload", "aspect": "1:1"},
        files={"audio": ("v.wav", _wav(2.0), "audio/wav")},
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "manual" and job["where"] == "local" and job["id"].startswith("local-")
    assert r.headers["location"] == f"/api/jobs/{job['id']}"
    job = _finished(client, job)
    assert job["state"] == "completed", job
    vid = job["video_id"]
    stages = {s["name"]: s for s in job["progress"]["stages"]}
    assert job["progress"]["completed"] == job["progress"]["total"] == 6
    assert stages["speech"]["provider"] == "upload" and stages["script"]["provider"] == "manual"
    assert job["flow_run_id"] and job["links"]["video"] == f"/api/videos/{vid}"
    listed = client.get("/api/jobs", params={"kind": "manual", "state": "completed"}).json()
    assert [j["id"] for j in listed["jobs"]] == [job["id"]]
    listed = client.get("/api/jobs", params={"state": "failed"}).json()["jobs"]
    assert [j["id"] for j in listed] == [failed["id"]]
    page = client.get("/api/jobs", params={"limit": 1}).json()
    assert [j["id"] for j in page["jobs"]] == [job["id"]] and page["next_offset"] == 1
    # who started it: this token; another token's "mine" does not list it
    assert job["by"] == failed["by"] == "api:token-1"
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as pc:  # on the flow run itself, as the UI shows it
        assert "by:api:token-1" in pc.read_flow_run(job["flow_run_id"]).tags
    mine = client.get("/api/jobs", params={"mine": "true"}).json()["jobs"]
    assert {j["id"] for j in mine} == {job["id"], failed["id"]}
    other = {"Authorization": f"Bearer {OTHER}"}
    assert client.get("/api/jobs", params={"mine": "true"}, headers=other).json()["jobs"] == []
    assert client.get("/api/jobs", params={"by": "ada"}).json()["jobs"] == []
    assert_problem(client.get("/api/jobs/local-999999"), 404)
    r = client.get("/api/videos/" + vid, headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and r.content[4:8] == b"ftyp"


@pytest.mark.usefixtures("prefect_harness")
def test_generate_runs_the_deployment_when_the_server_has_it(
    client: httpx.Client,
    store: Any,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    from flows.produce import produce_video

    with get_client(sync_client=True) as pc:
        flow_id = pc.create_flow(produce_video)
        deployment_id = pc.create_deployment(
            flow_id, name="default", entrypoint="flows/produce.py:produce_video"
        )
    request.addfinalizer(lambda: _delete_deployment(deployment_id))
    monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))  # "make up" is running

    body = {
        "title": "Harbour bridge reopens",
        "description": "The bridge reopened.",
        "url": "https://news.example.org/bridge",
        "duration_s": 20,
        "aspect": "16:9",
    }
    r = client.post("/api/generate", json=body)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["where"] == "deployment" and job["kind"] == "generate"
    assert job["state"] == "scheduled" and job["id"] == job["flow_run_id"]  # no worker here
    item_id = job["item_id"]
    assert store.exists(f"items/{item_id}.json")  # the new content became an item
    again = client.get(f"/api/jobs/{job['id']}").json()
    assert again["video_id"] == job["video_id"] and again["progress"]["completed"] == 0
    with get_client(sync_client=True) as pc:
        run = pc.read_flow_run(job["id"])
    assert run.parameters["item_id"] == item_id
    assert run.parameters["options"] == {"duration_s": 20, "aspect": "16:9"}  # what was chosen
    assert "by:api:token-1" in run.tags and again["by"] == "api:token-1"  # on the run itself
    mine = client.get("/api/jobs", params={"mine": "true", "kind": "generate"}).json()["jobs"]
    assert job["id"] in [j["id"] for j in mine]  # the server's runs, by their tag
    assert {j["by"] for j in mine} == {"api:token-1"}
    listed = client.get("/api/jobs", params={"kind": "generate"}).json()["jobs"]
    assert job["id"] in [j["id"] for j in listed]
    # the same video again while it is queued: the same job, not a second run
    assert client.post("/api/generate", json=body).json()["id"] == job["id"]


def _delete_deployment(deployment_id: Any) -> None:
    """Other tests share the harness: they must not find this deployment."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as pc:
        pc.delete_deployment(deployment_id)


@pytest.mark.usefixtures("prefect_harness")
def test_example_client_against_a_live_server(
    api_env: Callable[..., None],
    serve: Callable[[], str],
    store: Any,
    tmp_path: Path,
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver()
    api_env(WEBHOOK_URL=hook.url, WEBHOOK_SECRET="whsec-e2e")
    base = serve()
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "api_client.py"),
            "--url",
            base,
            "--duration",
            "15",
            "--aspect",
            "1:1",
            "--out",
            str(tmp_path),
            "--approve",
            "--timeout",
            "90",
            "--sample",
        ],
        env={"NOVAAVATAR_API_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is approved" in done.stdout
    (video,) = tmp_path.glob("vid-*.mp4")
    m, _ = manifests.load(store, video.stem)
    assert m.state is ReviewState.APPROVED and m.history[-1].by == "api-client"
    assert m.final is not None
    assert (
        hashlib.sha256(video.read_bytes()).hexdigest()
        == hashlib.sha256(store.get_bytes(m.final.key)).hexdigest()
    )
    # the produce flow said "ready for review", the approval said "approved"; both signed
    wait_for(hook, 2)
    events = [json.loads(body) for _, body in hook.got]
    assert [e["event"] for e in events] == [webhooks.READY_FOR_REVIEW, webhooks.APPROVED]
    assert {e["data"]["video_id"] for e in events} == {video.stem}
    for headers, body in hook.got:
        assert webhooks.verify("whsec-e2e", headers[webhooks.SIGNATURE_HEADER], body)


def test_a_prefect_server_that_is_down_is_a_503_problem_and_a_log_line(
    serve: Callable[[], str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Not an empty job list: an operator must see that the server is the problem."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    down = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    monkeypatch.setenv("PREFECT_API_URL", down)
    with temporary_settings(updates={PREFECT_API_URL: down}):
        base = serve()
        with httpx.Client(base_url=base, headers=AUTH, timeout=60) as c:
            listed = c.get("/api/jobs")
            one = c.get("/api/jobs/7c4e0b52-9a43-4a7e-9d65-0d3d1b0a8e11")
    assert_problem(listed, 503, "Prefect server", "cannot list flow runs")
    assert listed.json()["type"].endswith("prefect-unavailable")
    assert_problem(one, 503, "cannot read flow runs")
    assert any("Prefect server: cannot list flow runs" in r.getMessage() for r in caplog.records)
