from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Keep every Prefect file of the test run away from the user's profile.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_UI_ENABLED", "false")


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One temporary Prefect server for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
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
