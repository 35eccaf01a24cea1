"""Runs whose process died: mark them Crashed and give back the render slots they held.

A produce run labels its flow run with the process running it (host, pid, the process's start
time, so a reused pid is not mistaken for it). The sweep, run by `make up`, by commands that
run flows and at the start of every produce run, looks at the unfinished flow runs of this
host: a run whose process is gone is set Crashed with its running task runs, which releases
their concurrency leases (Prefect's orchestration does that for a task run leaving Running).
Slots counted by the render limit that no lease accounts for any more (a server restarted
with in-memory leases) are released too. Runs of other hosts are left to their lease TTL
and to the zombie automation below (heartbeats). ``make up`` also names the pools whose
local worker died: their runs with no live process (even those left Pending before the flow
labelled itself) are crashed too.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

PROCESS_LABEL = "novaavatar.process"
logger = logging.getLogger("novaavatar.sweep")


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def process_id(pid: int | None = None) -> str:
    """``host:pid:start`` of this (or another) process."""
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or ''}"


def process_gone(process: str) -> bool:
    """True when ``process`` (from :func:`process_id`) ran on this host and is not running now."""
    host, _, rest = process.partition(":")
    pid_s, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_s.isdigit():
        return False  # another machine's run: its lease TTL covers it
    pid = int(pid_s)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # no /proc: a live pid is taken to be the run's
        return False
    return fields[0] == "Z" or (bool(start) and fields[19] != start)  # zombie, or pid reused


def label_this_process(client: Any, flow_run_id: UUID | str) -> None:
    """Record on the flow run which process runs it, for :func:`sweep`."""
    client.update_flow_run_labels(UUID(str(flow_run_id)), {PROCESS_LABEL: process_id()})


def label_current_flow_run() -> None:
    """Inside a flow run: label it with this process (a no-op outside one)."""
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:
        return
    with get_client(sync_client=True) as client:
        label_this_process(client, ctx.flow_run.id)


@dataclass
class SweepReport:
    crashed_flow_runs: list[str] = field(default_factory=list)
    crashed_task_runs: list[str] = field(default_factory=list)
    released_slots: int = 0


def _pid_alive(pid: str | None) -> bool:
    """Whether ``pid`` (a flow run's ``infrastructure_pid``) is a live process here."""
    if not pid or not pid.strip().isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _orphaned(run: Any, pools: frozenset[str]) -> bool:
    """A run of a pool whose workers all died (``pools``) with no live process of its own:
    left Pending ("Submitting") or Running by the worker that picked it up.

    A Pending run is orphaned even when the process its worker started is still alive: that
    process had not begun the flow, and without its worker it may never do so (a run was seen
    left Pending for good that way); Crashed, it no longer waits unseen and can be run again."""
    from prefect.client.schemas.objects import StateType

    if run.work_pool_name not in pools:
        return False
    proc = (run.labels or {}).get(PROCESS_LABEL)
    if isinstance(proc, str):
        return process_gone(proc)
    if run.state is not None and run.state.type is StateType.PENDING:
        return True
    return not _pid_alive(run.infrastructure_pid)


def sweep(
    client: Any, limit_tag: str | None = None, dead_worker_pools: frozenset[str] = frozenset()
) -> SweepReport:
    """Crash the unfinished runs of dead processes on this host and free their slots.

    ``dead_worker_pools``: pools whose workers are known to be gone (``make up`` is about to
    restart them): their unfinished runs without a live process are crashed too, including
    runs left Pending before the flow started and labelled itself."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterState,
        FlowRunFilterStateType,
        TaskRunFilter,
        TaskRunFilterState,
        TaskRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    report = SweepReport()
    unfinished = [StateType.RUNNING, StateType.PENDING, StateType.CANCELLING]
    runs = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=unfinished))
        ),
        limit=200,
    )
    dead = [
        r
        for r in runs
        if (isinstance(proc := (r.labels or {}).get(PROCESS_LABEL), str) and process_gone(proc))
        or _orphaned(r, dead_worker_pools)
    ]
    # runs already Crashed (by the zombie automation) whose task runs still hold a slot
    crashed = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CRASHED]))
        ),
        task_run_filter=TaskRunFilter(
            state=TaskRunFilterState(type=TaskRunFilterStateType(any_=unfinished))
        ),
        limit=200,
    )
    gone = [
        r
        for r in crashed
        if (isinstance(proc := (r.labels or {}).get(PROCESS_LABEL), str) and process_gone(proc))
        or _orphaned(r, dead_worker_pools)
    ]
    if dead or gone:
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[r.id for r in dead + gone])),
            task_run_filter=TaskRunFilter(
                state=TaskRunFilterState(type=TaskRunFilterStateType(any_=unfinished))
            ),
            limit=200,
        )
        for t in tasks:  # leaving Running releases the task run's concurrency lease
            client.set_task_run_state(
                t.id, Crashed(message="its process is gone (found at startup)"), force=True
            )
            report.crashed_task_runs.append(str(t.id))
        for r in dead:
            who = (r.labels or {}).get(PROCESS_LABEL) or f"pid {r.infrastructure_pid or '?'}"
            message = f"process {who} is gone (found at startup)"
            if PROCESS_LABEL not in (r.labels or {}):
                message = f"its worker on pool {r.work_pool_name} died ({message})"
            client.set_flow_run_state(r.id, Crashed(message=message), force=True)
            report.crashed_flow_runs.append(str(r.id))
    if limit_tag:
        report.released_slots = _release_unleased_slots(client, limit_tag)
    if report.crashed_flow_runs or report.released_slots:
        logger.warning(
            "startup sweep: %d run(s) of dead processes marked Crashed, %d slot(s) released",
            len(report.crashed_flow_runs),
            report.released_slots,
        )
    return report


def _release_unleased_slots(client: Any, tag: str) -> int:
    """Release the slots of ``tag:<tag>`` that no lease holds (lost with a server's memory)."""
    from prefect.exceptions import ObjectNotFound

    try:
        # the count first, then the holders: a slot taken in between shows as a holder only,
        # so it is never released by mistake
        counted = client.read_global_concurrency_limit_by_name(f"tag:{tag}").active_slots
        holders = client.read_concurrency_limit_by_tag(tag).active_slots
    except ObjectNotFound:
        return 0
    extra = counted - len(holders)
    if extra > 0:
        # occupancy must be > 0 for the server; it only feeds slot-decay accounting
        client.release_concurrency_slots(names=[f"tag:{tag}"], slots=extra, occupancy_seconds=0.001)
    return max(extra, 0)


def sweep_quietly(limit_tag: str | None) -> SweepReport | None:
    """:func:`sweep` against the current Prefect API; a failure is logged, never raised."""
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            return sweep(client, limit_tag)
    except Exception as e:  # the sweep must never stop the work it runs before
        logger.warning("startup sweep skipped: %s", e)
        return None


# --- zombies: runs whose heartbeats stopped ---------------------------------------------------
# The sweep above finds dead processes of this host when something starts. A flow run whose
# worker died on any machine is found by its heartbeats instead: the flow engine emits
# `prefect.flow-run.heartbeat` every PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds (the stack
# sets 30), and this automation marks a run Crashed when neither a heartbeat nor a final
# state followed the last heartbeat within ZOMBIE_AFTER_S.
ZOMBIE_AUTOMATION = "novaavatar: crash zombie flow runs"
HEARTBEAT = "prefect.flow-run.heartbeat"
_FINAL_EVENTS = ("Completed", "Failed", "Cancelled", "Crashed")


def zombie_automation(within_s: float, enabled: bool = True) -> Any:
    """The automation that marks a flow run Crashed when its heartbeats stop for ``within_s``
    seconds (more than one heartbeat interval, or healthy runs would be crashed)."""
    from datetime import timedelta

    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    return AutomationCore(
        name=ZOMBIE_AUTOMATION,
        description=(
            "Installed by `make up`: a flow run that sent a heartbeat and then neither another "
            f"one nor a final state within {within_s:g} s lost its process (a killed worker, "
            "a lost machine); it is marked Crashed, and its render slot's lease runs out."
        ),
        enabled=enabled,
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            after={HEARTBEAT},
            expect={HEARTBEAT, *(f"prefect.flow-run.{s}" for s in _FINAL_EVENTS)},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=within_s),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"no heartbeat for {within_s:g} s: its worker or process is gone",
            )
        ],
    )


def _config(automation: Any) -> dict[str, Any]:
    """What an automation does, comparable between ours and the server's copy."""
    fields = {"name", "description", "enabled", "trigger", "actions"}
    out: dict[str, Any] = automation.model_dump(mode="json", include=fields)
    out["trigger"].pop("id", None)
    for key in ("after", "expect", "for_each"):  # sets: their order means nothing
        out["trigger"][key] = sorted(out["trigger"].get(key) or [])
    return out


def ensure_zombie_automation(client: Any, within_s: float) -> Any:
    """Create the zombie automation, or update it when its settings changed (one, by name);
    returns its id. An unchanged one is left alone: an update would forget the heartbeats
    it is waiting on, and a run that went silent just before `make up` would go unnoticed."""
    wanted = zombie_automation(within_s)
    found = client.read_automations_by_name(ZOMBIE_AUTOMATION)
    for extra in found[1:]:  # two `up`s at once made two: keep one
        client.delete_automation(extra.id)
    if not found:
        return client.create_automation(wanted)
    if _config(found[0]) != _config(wanted):
        client.update_automation(found[0].id, wanted)
    return found[0].id
