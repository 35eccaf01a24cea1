"""The sweep's last step against a real Prefect server: slots counted on a tag's limit that
no task run holds (lost with a server's memory) are given back."""

from __future__ import annotations

import pytest

from novaavatar.sweep import _release_unleased_slots


@pytest.mark.usefixtures("prefect_harness")
def test_slots_no_task_run_holds_are_released() -> None:
    from prefect.client.orchestration import get_client

    tag = "novaavatar-sweep-test"
    with get_client(sync_client=True) as client:
        client.create_concurrency_limit(tag=tag, concurrency_limit=2)
        client.increment_concurrency_slots(names=[f"tag:{tag}"], slots=1, mode="concurrency")
        limit = client.read_global_concurrency_limit_by_name(f"tag:{tag}")
        assert limit.active_slots == 1  # counted, held by no task run
        assert _release_unleased_slots(client, tag) == 1
        assert client.read_global_concurrency_limit_by_name(f"tag:{tag}").active_slots == 0
        assert _release_unleased_slots(client, tag) == 0  # nothing more to give back
