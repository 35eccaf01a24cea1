"""The CLI's Prefect server: none for read-only commands, one temporary server otherwise that
reuses its home's database and dies with the process that started it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_api import AUTH, _finished, _wav, api_env, serve  # noqa: F401  (fixtures)

from novaavatar.service.prefect_server import TemporaryServer
from tasks.common import RENDER_TAG

SERVER_MARK = b"prefect.server.api.server:create_app"


def servers_of(home: Path) -> list[int]:
    """Pids of Prefect servers whose PREFECT_HOME is ``home``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if SERVER_MARK not in (proc / "cmdline").read_bytes():
                continue
            env = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"PREFECT_HOME={home}".encode() in env:
            pids.append(int(proc.name))
    return pids


def wait_gone(home: Path, within_s: float = 15) -> list[int]:
    deadline = time.monotonic() + within_s
    while (left := servers_of(home)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def cli_env(tmp_path: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(STORAGE_PATH=str(tmp_path / "storage"), PREFECT_HOME=str(home))
    return env


def test_read_only_commands_start_no_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for cmd in (["queue"], ["stats", "--json"]):
        r = subprocess.run(
            [sys.executable, "-m", "novaavatar.cli", *cmd],
            env=cli_env(tmp_path, home),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
    assert not (home / "prefect.db").exists() and not (home / "logs").exists()


def test_temporary_server_dies_with_its_process_and_its_database_is_reused(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    env = cli_env(tmp_path, home)
    hold = (
        "from novaavatar.service.prefect_server import ensure_api_url; import time\n"
        "print(ensure_api_url(), flush=True); time.sleep(300)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", hold],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group: only the process itself is killed below
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api"), url
        assert len(servers_of(home)) == 1
        db = home / "prefect.db"
        created = db.stat().st_ino
        os.kill(proc.pid, signal.SIGKILL)  # no atexit, no cleanup: the kernel kills the server
        proc.wait(timeout=10)
        assert wait_gone(home) == [], "the temporary server outlived its parent"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # a command reuses the home's database and leaves no server behind when it ends
    r = subprocess.run(
        [sys.executable, "-m", "novaavatar.cli", "scrape", "--sample", "--limit", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert db.stat().st_ino == created
    assert wait_gone(home) == []


def test_a_server_that_cannot_start_is_one_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = cli_env(tmp_path, home)
    env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = "sqlite+aiosqlite:////nonexistent/dir/x.db"
    r = subprocess.run(
        [sys.executable, "-m", "novaavatar.cli", "scrape", "--sample", "--limit", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1
    assert "temporary Prefect server exited" in r.stderr and "temporary-server.log" in r.stderr
    assert "Traceback" not in r.stderr
    assert wait_gone(home) == []


def server_url(home: Path, within_s: float = 240) -> str:
    """The API URL of the temporary server of ``home`` (its port is on its command line)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for pid in servers_of(home):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            port = argv[argv.index(b"--port") + 1].decode()
            url = f"http://127.0.0.1:{port}/api"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return url
        time.sleep(0.3)
    raise AssertionError("no temporary server came up")


def running_renders(url: str) -> list[dict[str, object]]:
    body = {
        "task_runs": {
            "tags": {"all_": [RENDER_TAG]},
            "state": {"type": {"any_": ["RUNNING"]}},
        }
    }
    r = httpx.post(f"{url}/task_runs/filter", json=body, timeout=10)
    r.raise_for_status()
    return list(r.json())


def processes_with(marker: str) -> list[int]:
    """Pids whose environment holds ``marker`` (e.g. this test's STORAGE_PATH)."""
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker.encode() in (proc / "environ").read_bytes().split(b"\0"):
                    out.append(int(proc.name))
    return out


def test_cli_killed_while_two_avatars_render_leaves_no_slot_and_no_process(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    env = cli_env(tmp_path, home)
    env["MAX_CONCURRENT_JOBS"] = "2"
    # the product's preset: with the suite's ultrafast one the two renders could both end
    # before the poll saw them at once, and the CLI with its server was gone (clean clone 19)
    env["VIDEO_PRESET"] = "veryfast"
    demo = [sys.executable, "-m", "novaavatar.cli", "demo", "--count", "2", "--duration", "15"]
    with open(tmp_path / "first.log", "wb") as log:
        first = subprocess.Popen(
            demo, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        url = server_url(home)
        deadline = time.monotonic() + 300
        while len(running_renders(url)) < 2:
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the two avatars never rendered at once"
            time.sleep(0.5)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the CLI, its threads and its server
        first.wait(timeout=10)
    assert wait_gone(home) == [], "the temporary server outlived the killed CLI"

    again = subprocess.run(demo, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "2 videos are waiting for review" in again.stdout

    server = TemporaryServer(home, timeout_s=300)
    try:
        url = server.start()
        limit = httpx.get(f"{url}/v2/concurrency_limits/tag:{RENDER_TAG}", timeout=10).json()
        assert limit["active_slots"] == 0, limit
        crashed = httpx.post(
            f"{url}/flow_runs/filter",
            json={"flow_runs": {"state": {"type": {"any_": ["CRASHED"]}}}},
            timeout=10,
        ).json()
        assert [r["name"] for r in crashed] == ["produce batch of 2"]
        assert "is gone" in crashed[0]["state"]["message"]
        assert running_renders(url) == []
    finally:
        server.stop()
    assert processes_with(f"STORAGE_PATH={env['STORAGE_PATH']}") == []


def test_five_concurrent_api_jobs_without_a_server_share_one(
    api_env: Any,  # noqa: F811
    serve: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from novaavatar.service.prefect_server import stop_temporary_server

    home = tmp_path / "api-home"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    try:
        # no PREFECT_API_URL anywhere, whatever earlier tests of the session entered
        with temporary_settings(restore_defaults={PREFECT_API_URL}):
            base = serve()

        def post(n: int) -> httpx.Response:
            return httpx.post(
                f"{base}/api/generate/manual",
                headers=AUTH,
                timeout=60,
                data={"title": f"Concurrent {n}", "aspect": "1:1"},
                files={"audio": (f"v{n}.wav", _wav(1.0), "audio/wav")},
            )

        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(post, range(5)))
        assert [r.status_code for r in answers] == [202] * 5, [r.text for r in answers]
        with httpx.Client(base_url=base, headers=AUTH, timeout=30) as client:
            jobs = [_finished(client, r.json(), timeout_s=400) for r in answers]
        assert [j["state"] for j in jobs] == ["completed"] * 5, [j.get("error") for j in jobs]
        assert len({j["video_id"] for j in jobs}) == 5
        assert len(servers_of(home)) == 1, "each job started a server of its own"
    finally:
        stop_temporary_server()
    assert wait_gone(home) == []
