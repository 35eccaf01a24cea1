from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _shared_prefect_server(prefect_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI subprocesses use the session's server instead of starting one per call."""
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)


def run_cli(*args: str, storage: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, STORAGE_PATH=str(storage), PREFECT_HOME=str(storage / "prefect"))
    return subprocess.run(
        [sys.executable, "-m", "novaavatar.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_help_on_every_command(tmp_path: Path) -> None:
    for cmd in [
        "demo",
        "scrape",
        "produce",
        "speak",
        "render",
        "queue",
        "approve",
        "reject",
        "edit",
        "trim",
        "background",
        "export",
    ]:
        r = run_cli(cmd, "--help", storage=tmp_path)
        assert r.returncode == 0 and "Usage" in r.stdout, (cmd, r.stderr)


def test_speak_then_render(tmp_path: Path) -> None:
    wav = tmp_path / "hello.wav"
    r = run_cli(
        "speak", "--text", "Hello, and welcome to the news.", "--out", str(wav), storage=tmp_path
    )
    assert r.returncode == 0, r.stderr
    timings = json.loads(wav.with_suffix(".json").read_text())
    assert timings["words"][0]["word"] == "Hello,"
    out = tmp_path / "talk.mp4"
    r = run_cli(
        "render", "--audio", str(wav), "--out", str(out), "--aspect", "1:1", storage=tmp_path
    )
    assert r.returncode == 0, r.stderr
    from novaavatar.media import probe

    info = probe(out)
    assert info.has_audio and (info.width, info.height) == (1080, 1080)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["approve", "vid-nothere"], "no video 'vid-nothere'"),
        (["approve", "../../etc/passwd"], "invalid video id"),
        (["queue", "--state", "lost"], "unknown state 'lost'"),
        (["speak", "--text", " ", "--out", "x.wav"], "text to speak is empty"),
        (
            ["render", "--audio", "missing.wav", "--out", "x.mp4"],
            "audio missing.wav does not exist",
        ),
        (["reject", "vid-nothere", "--note", "bad"], "no video"),
        (["produce", "--duration", "200"], "duration_s 200 does not fit format 'single'"),
        (["produce", "--format", "explainer", "--duration", "30"], "use 60-300 seconds"),
        (["produce", "--language", "xx"], "unknown language 'xx'"),
        (["produce", "--style", "poetic"], "unknown style 'poetic'"),
        (["produce", "--aspect", "4:3"], "aspect='4:3'"),
        (["produce", "--voice", "xx-klingon"], "unknown eSpeak voice 'xx-klingon'"),
        (["produce", "item-unknown"], "unknown item 'item-unknown'"),
    ],
)
def test_errors_are_one_line_without_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    r = run_cli(*args, storage=tmp_path)
    assert r.returncode != 0
    assert message in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_render_refuses_a_non_image_portrait(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    assert (
        run_cli("speak", "--text", "Hi there.", "--out", str(wav), storage=tmp_path).returncode == 0
    )
    bad = tmp_path / "portrait.jpg"
    bad.write_text("not an image")
    r = run_cli(
        "render",
        "--audio",
        str(wav),
        "--portrait",
        str(bad),
        "--out",
        str(tmp_path / "o.mp4"),
        storage=tmp_path,
    )
    assert r.returncode == 1 and "portrait.jpg" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.mp4").exists()


def test_scrape_json_then_queue_empty(tmp_path: Path) -> None:
    r = run_cli("scrape", "--sample", "--json", "--limit", "3", storage=tmp_path)
    assert r.returncode == 0, r.stderr
    start = r.stdout.index("[")
    items = json.loads(r.stdout[start:])
    assert len(items) == 3 and all(i["title"] and i["sample"] is True for i in items)
    r = run_cli("queue", storage=tmp_path)
    assert r.returncode == 0 and "the queue is empty" in r.stdout


def test_scrape_of_unreachable_feeds_fails_without_inventing_news(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/feed.xml"
    monkeypatch.setenv("RSS_FEEDS", dead)
    r = run_cli("scrape", "--json", storage=tmp_path)
    (last,) = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert r.returncode == 1 and "every source failed" in last
    assert f"{dead}: feed {dead}: could not connect" in last
    assert "[" not in r.stdout
