"""Property-based fuzz of the OpenAPI schema (schemathesis): no input gets a 5xx.

Work that would start flows is replaced by jobs that finish at once: the fuzz is about how
the API treats its input, and the flows have their own tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_review_app_support import add_video, tiny_mp4

from api.jobs import JobBook, Started
from novaavatar.service import jobs as actions
from novaavatar.service.production import Work

TOKEN = "fuzz-token-0123456789"


@pytest.fixture
def fuzz_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The app on a store with three videos, with jobs that finish at once."""
    from api.app import create_app
    from novaavatar.settings import get_settings
    from novaavatar.store import get_store

    monkeypatch.setenv("STORAGE_PATH", str(tmp_path / "storage"))
    monkeypatch.setenv("API_TOKENS", TOKEN)
    monkeypatch.setenv("API_RATE_LIMIT", "0")
    monkeypatch.setenv("MAX_UPLOAD_MB", "1")
    for name in ("PREFECT_API_URL", "WEBHOOK_URL", "REVIEWERS"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    store = get_store()
    mp4 = tiny_mp4(tmp_path / "tiny.mp4")
    for n in range(3):
        add_video(store, n, mp4)

    def start(
        self: JobBook, kind: Any, work: Work, *, item_id: str | None = None, by: str | None = None
    ) -> Started:
        job = actions.Job(id=10_000 + len(self.local()), label=work.label, where="local")
        job.status = "completed"
        flow = work.deployment.split("/")[0]
        started = Started(job, kind, flow, work.label, item_id, work.video_id)
        with self._lock:
            self._started[started.id] = started
        return started

    monkeypatch.setattr(JobBook, "start", start)
    yield create_app()
    get_settings.cache_clear()


def test_no_input_gets_a_server_error(fuzz_app: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=checks)

        fuzz()
