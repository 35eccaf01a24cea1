"""Logging (rotation, retention, redaction), doctor and usage figures."""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from novaavatar.domain import ContentItem, ProduceOptions, ReviewState, StageRecord, VideoManifest
from novaavatar.logs import REDACTED, SecretRedactor, configure_logging, file_handler
from novaavatar.settings import load_settings
from novaavatar.stats import usage

SECRET = "sk-live-0123456789abcdefSECRET"


def test_redaction_of_messages_args_urls_headers_and_exceptions(tmp_path: Path) -> None:
    red = SecretRedactor([SECRET, "hunter2-password"])
    handler = file_handler(tmp_path / "t.jsonl", 7, red)
    log = logging.getLogger("novaavatar.test.redact")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("calling with key %s", SECRET)
        log.info("GET https://newsapi.example/v2?apiKey=abc123xyz&q=news")
        log.info("headers: Authorization: Bearer r8_aaaaaaaaaaaaaaaaaaaaaaaaa")
        try:
            raise RuntimeError(f"provider refused key {SECRET} and hunter2-password")
        except RuntimeError:
            log.exception("stage failed")
    finally:
        log.removeHandler(handler)
        handler.close()
    text = (tmp_path / "t.jsonl").read_text()
    assert SECRET not in text and "hunter2-password" not in text
    assert "abc123xyz" not in text and "r8_aaaa" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["message"] == f"calling with key {REDACTED}"
    assert "RuntimeError" in lines[-1]["exception"] and REDACTED in lines[-1]["exception"]


def test_daily_rotation_keeps_the_retention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the handler dates its first rollover from the new file's mtime: start the clock there
    now = [datetime.now().timestamp()]
    monkeypatch.setattr(logging.handlers.time, "time", lambda: now[0])
    handler = file_handler(tmp_path / "app.jsonl", 3, SecretRedactor())
    log = logging.getLogger("novaavatar.test.rotate")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        for day in range(6):  # six days, one record a day
            log.info("day %d", day)
            now[0] += timedelta(days=1).total_seconds()
        log.info("today")
    finally:
        log.removeHandler(handler)
        handler.close()
    rotated = sorted(p.name for p in tmp_path.iterdir() if p.name != "app.jsonl")
    assert len(rotated) == 3, rotated  # only the retention is kept
    last_day = datetime.fromtimestamp(now[0], UTC).date() - timedelta(days=1)
    assert rotated[-1] == f"app.jsonl.{last_day.isoformat()}"
    assert "today" in (tmp_path / "app.jsonl").read_text()


def test_configure_logging_writes_prefect_and_own_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("LOG_DIR", str(tmp_path))
    path = configure_logging(load_settings(), component="unit")
    logging.getLogger("novaavatar.x").warning("using %s", SECRET)
    logging.getLogger("prefect.flow_runs").warning("run log with %s", SECRET)
    for h in logging.getLogger("novaavatar").handlers:
        h.flush()
    text = path.read_text()
    assert "using [redacted]" in text and "run log with [redacted]" in text
    assert SECRET not in text


def _m(vid: str, state: ReviewState, day: date, seconds: float) -> VideoManifest:
    item = ContentItem.make(title=vid, url=f"https://e.org/{vid}", source="E")
    m = VideoManifest(video_id=vid, item=item, options=ProduceOptions(), state=state)
    m.created_at = datetime(day.year, day.month, day.day, 10, 0)
    m.stages = {"avatar": StageRecord(provider="lite", seconds=seconds, cost_usd=0.01)}
    if state is ReviewState.FAILED:
        m.error = "avatar: portrait has no face"
    return m


def test_usage_figures() -> None:
    today = date(2026, 11, 25)
    ms = [
        _m("vid-aaa1", ReviewState.APPROVED, today, 4.0),
        _m("vid-aaa2", ReviewState.PENDING, today, 6.0),
        _m("vid-aaa3", ReviewState.FAILED, today - timedelta(days=1), 10.0),
        _m("vid-aaa4", ReviewState.REJECTED, today - timedelta(days=30), 99.0),  # outside
    ]
    u = usage(ms, days=7, today=today)
    assert u.days["2026-11-25"] == {"approved": 1, "pending": 1}
    assert u.days["2026-11-24"] == {"failed": 1}
    assert u.states["rejected"] == 0 and len(u.days) == 7
    p50, p95, n = u.stage_seconds["avatar"]
    assert n == 3 and p50 == 6.0 and 9.0 < p95 <= 10.0
    assert u.providers["avatar:lite"] == 3 and u.failures["avatar"] == 1
    assert abs(u.cost_usd - 0.03) < 1e-9


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "novaavatar.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_doctor_on_a_working_and_a_broken_install(tmp_path: Path) -> None:
    ok = _cli("doctor", env={"STORAGE_PATH": str(tmp_path / "s"), "OPENAI_API_KEY": SECRET})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert (
        "ffmpeg" in ok.stdout
        and "espeak-ng" in ok.stdout
        and "everything needed works" in ok.stdout
    )
    assert "OPENAI_API_KEY" in ok.stdout and SECRET not in ok.stdout
    blocker = tmp_path / "file"
    blocker.write_text("a file where the store folder should be")
    bad = _cli(
        "doctor",
        env={
            "STORAGE_PATH": str(blocker),
            "LOG_DIR": str(tmp_path / "logs"),
            "PREFECT_API_URL": "http://127.0.0.1:9/api",
        },
    )
    assert bad.returncode == 1
    assert "FAIL  artifact store" in bad.stdout and "fix: make" in bad.stdout
    assert "FAIL  prefect api" in bad.stdout and "unreachable" in bad.stdout


def test_stats_command_json(tmp_path: Path) -> None:
    r = _cli("stats", "--json", env={"STORAGE_PATH": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data["days"]) == 7 and data["cost_usd"] == 0


def test_sentry_events_are_tagged_and_carry_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loopback HTTP server plays the Sentry DSN endpoint; a failing stage reports once."""
    import gzip
    import threading
    import zlib
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import sentry_sdk

    from novaavatar import sentry
    from tasks.common import stage_run

    got: list[bytes] = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            enc = self.headers.get("Content-Encoding", "")
            if enc == "gzip":
                body = gzip.decompress(body)
            elif enc == "deflate":
                body = zlib.decompress(body)
            got.append(body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("SENTRY_DSN", f"http://publickey@127.0.0.1:{server.server_port}/1")
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        monkeypatch.setenv("LOG_DIR", str(tmp_path / "logs"))
        configure_logging(load_settings(), component="unit")
        store_uri = f"file://{tmp_path / 'store'}"
        with pytest.raises(RuntimeError), stage_run(store_uri, "vid-sentry01", "script") as run:
            run.provider = "openai"
            raise RuntimeError(f"provider refused key {SECRET}")
        sentry_sdk.flush(5)
    finally:
        sentry_sdk.init(dsn=None)  # off again for the other tests
        sentry._enabled = False
        server.shutdown()
    events = [line for body in got for line in body.splitlines() if b'"exception"' in line]
    assert len(events) == 1
    event = json.loads(events[0])
    assert event["tags"]["video_id"] == "vid-sentry01"
    assert event["tags"]["stage"] == "script" and event["tags"]["provider"] == "openai"
    assert event["tags"]["component"] == "unit"
    assert all(SECRET.encode() not in body for body in got)
    assert REDACTED in json.dumps(event["exception"])
