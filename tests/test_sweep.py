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


@pytest.mark.usefixtures("prefect_harness")
def test_a_pending_run_of_a_dead_workers_pool_is_crashed_though_its_process_lives() -> None:
    """A worker killed while its flow process starts (in a session of its own, so it outlives
    the worker): the run stays Pending with a live pid and no process label; `up` names the
    pool's workers dead, and the sweep crashes the run instead of leaving it Pending for good."""
    import os

    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.states import Pending

    from novaavatar.sweep import sweep

    @flow(name="novaavatar-sweep-pending")
    def nothing() -> None:
        return None

    with get_client(sync_client=True) as client:
        pool = "sweep-test-pool"
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"), overwrite=True)
        flow_id = client.create_flow(nothing)
        dep = client.create_deployment(flow_id, "sweep-test", work_pool_name=pool)
        run = client.create_flow_run_from_deployment(dep, name="left pending")
        client.set_flow_run_state(run.id, Pending(), force=True)
        client.update_flow_run(run.id, infrastructure_pid=str(os.getpid()))  # alive
        sweep(client, None, frozenset())  # no dead pool named: a live process is left alone
        assert client.read_flow_run(run.id).state.is_pending()
        report = sweep(client, None, frozenset({pool}))
        assert str(run.id) in report.crashed_flow_runs
        state = client.read_flow_run(run.id).state
        assert state.is_crashed() and f"worker on pool {pool} died" in state.message
