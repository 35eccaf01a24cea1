from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Keep every Prefect file of the test run away from the user's profile.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_UI_ENABLED", "false")
# x264's fastest preset for every video the tests make, in this process and in every server,
# worker and CLI it starts: the tests judge what is in the frames, not the compression, and
# encoding was a third of the CPU a test video cost (VIDEO_PRESET=veryfast is the product's
# default; `make bench` and `make demo` use it)
os.environ.setdefault("VIDEO_PRESET", "ultrafast")

# `make test` runs two pytest-xdist workers, a file at a time (`--dist loadfile`), handing
# out files in collection order (`--no-loadscope-reorder`). The files that take minutes go
# first, so neither worker is left with one of them at the end while the other idles.
HEAVY_FIRST = (
    "test_stack.py",
    "test_walkthrough.py",
    "test_prefect_server.py",
    "test_omniavatar_stage.py",
    "test_edit.py",
    "test_flows.py",
    "test_publish.py",
    "test_review_browser.py",
    "test_api.py",
    "test_conversation.py",
    "test_consent.py",
    "test_run_graph.py",
    "test_variants.py",
    "test_presenters.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def weight(item: pytest.Item) -> int:
        name = item.path.name
        return HEAVY_FIRST.index(name) if name in HEAVY_FIRST else len(HEAVY_FIRST)

    items.sort(key=weight)  # stable: each file keeps its own order


@pytest.fixture(autouse=True, scope="module")
def _events_follow_the_api_url() -> Iterator[None]:
    """Prefect's events worker (task-run states, the decision events) keeps the server it was
    first started for, whatever PREFECT_API_URL says later in the process: after a module that
    talked to another server in-process (a stack's), it is stopped, so the next module's task
    runs reach the session's server."""
    yield
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=10)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real Prefect server for the whole session; yields its API URL. In-process flows
    (``prefect_harness``) and CLI subprocesses (PREFECT_API_URL) share it."""
    from novaavatar.service.prefect_server import TemporaryServer

    server = TemporaryServer(tmp_path_factory.mktemp("prefect-home"), timeout_s=600)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def prefect_harness(prefect_server: str) -> Iterator[None]:
    """Flows in this process run against the session's Prefect server."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: prefect_server}):
        yield


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh STORAGE_PATH for the test; settings are re-read."""
    from novaavatar.settings import get_settings

    root = tmp_path / "storage"
    monkeypatch.setenv("STORAGE_PATH", str(root))
    get_settings.cache_clear()
    yield root
    get_settings.cache_clear()


@pytest.fixture
def store(storage: Path):
    from novaavatar.store import get_store

    return get_store()
