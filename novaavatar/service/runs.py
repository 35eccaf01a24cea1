"""Jobs as Prefect sees them: this project's flow runs, read back from the server.

Every door starts work with the name of who started it on the flow run itself (the tag
``by:<name>``), so the review page, the API, the CLI and the Prefect UI agree on it, and the
list survives a page restart and is the same in every browser. A run's current stage comes
from its task runs (named ``<stage> <video id>``) and the avatar's progress artifact.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from novaavatar.domain import utcnow
from novaavatar.logs import redact

# The flows a user starts (render-avatar is a part of produce-video, not a job of its own).
FLOWS = (
    "scrape-content",
    "produce-video",
    "produce-batch",
    "manual-create",
    "trim-video",
    "export-approved",
)
STAGES = ("script", "background", "speech", "avatar", "compose", "quality")
# task runs are named "<stage> <video id>"; manual creation and a reviewer's edits rename some
_TASK_PREFIX = {
    "given script": "script",
    "given background": "background",
    "import speech": "speech",
    **{s: s for s in STAGES},
    "enqueue": "review",  # the video is pending in the review queue
}
BY_PREFIX = "by:"
JOB_PREFIX = "job:"  # a local job's key (novaavatar.service.jobs), to tell its run apart
MAX_NAME = 80
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
ACTIVE = ("SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING")


def by_tag(name: str) -> str:
    """The flow-run tag naming who started it (``by:ada``)."""
    clean = " ".join(str(name).split())[:MAX_NAME]
    return f"{BY_PREFIX}{clean or 'unknown'}"


def started_by(tags: Iterable[str]) -> str | None:
    """Who started a run, from its tags (None: started before names were recorded)."""
    return next((t[len(BY_PREFIX) :] for t in tags if t.startswith(BY_PREFIX)), None)


@dataclass(frozen=True)
class StageState:
    name: str
    state: str  # pending | running | completed | failed


@dataclass(frozen=True)
class RunView:
    """One job: a flow run of this project, with its stage and who started it."""

    id: str
    name: str
    flow: str
    state: str  # Prefect's state name: Scheduled, Pending, Running, Completed, Failed, Crashed…
    state_type: str  # SCHEDULED, PENDING, RUNNING, COMPLETED, FAILED, CRASHED, CANCELLED…
    by: str | None
    created: datetime
    started: datetime | None = None
    finished: datetime | None = None
    deployment: bool = False
    stages: tuple[StageState, ...] = ()
    percent: float | None = None  # the avatar's progress artifact, while it renders
    video_ids: tuple[str, ...] = ()
    error: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    job_key: str | None = None

    @property
    def final(self) -> bool:
        return self.state_type in FINAL

    @property
    def ok(self) -> bool:
        return self.state_type == "COMPLETED"

    @property
    def video_id(self) -> str | None:
        return self.video_ids[0] if len(self.video_ids) == 1 else None

    @property
    def stage(self) -> str | None:
        """What the run is doing now: the running stage(s), with the avatar's percentage."""
        running = [s.name for s in self.stages if s.state == "running"]
        if not running:
            return None
        text = ", ".join(dict.fromkeys(running))
        if "avatar" in running and self.percent is not None:
            text += f" {self.percent:.0f}%"
        return text

    @property
    def stages_done(self) -> int:
        return len({s.name for s in self.stages if s.state == "completed" and s.name in STAGES})

    def seconds(self, now: datetime | None = None) -> float | None:
        """How long it ran (so far, while it runs); None before it started."""
        if self.started is None:
            return None
        end = self.finished or now or utcnow()
        return max((end - self.started).total_seconds(), 0.0)


def stage_of(task_name: str) -> tuple[str, str | None] | None:
    """(stage, video id) of a task run name like ``avatar vid-123 on gpu``."""
    for prefix, stage in _TASK_PREFIX.items():
        if task_name.startswith(prefix + " "):
            rest = task_name[len(prefix) + 1 :].split()
            return stage, (rest[0] if rest else None)
    return None


_TASK_STATE = {"COMPLETED": "completed", "RUNNING": "running", "FAILED": "failed"}
_TASK_STATE["CRASHED"] = "failed"


def _stages(task_runs: Sequence[Any]) -> tuple[tuple[StageState, ...], tuple[str, ...]]:
    """Each stage's state (one per stage and video, pipeline order) and the videos it makes."""
    found: dict[tuple[str, str | None], str] = {}
    videos: dict[str, None] = {}
    for tr in sorted(task_runs, key=lambda t: t.created or utcnow()):
        got = stage_of(str(tr.name))
        if got is None or tr.state_type is None:
            continue
        stage, vid = got
        if vid:
            videos[vid] = None
        found[(stage, vid)] = _TASK_STATE.get(tr.state_type.value, "pending")
    rank = {s: i for i, s in enumerate((*STAGES, "review"))}
    stages = tuple(
        StageState(stage, state)
        for (stage, _), state in sorted(found.items(), key=lambda kv: rank[kv[0][0]])
    )
    return stages, tuple(videos)


def _starter(run: Any) -> str | None:
    """Who started a run without a ``by:`` tag: its schedule or an automation, if so."""
    if getattr(run, "auto_scheduled", False):
        return "schedule"
    creator = getattr(run, "created_by", None)
    kind = str(getattr(creator, "type", "") or "").lower()
    return kind if kind in ("automation", "schedule") else None


async def _flow_names(client: Any) -> dict[UUID, str]:
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    flows = await client.read_flows(flow_filter=FlowFilter(name=FlowFilterName(any_=list(FLOWS))))
    return {f.id: str(f.name) for f in flows}


# Final runs do not change: their view (task runs read once) is kept, per server.
_final: dict[tuple[str, str], RunView] = {}
_final_lock = threading.Lock()


async def _view(client: Any, run: Any, flow: str, api: str) -> RunView:
    state_type = run.state_type.value if run.state_type else "SCHEDULED"
    with _final_lock:
        cached = _final.get((api, str(run.id)))
    if cached is not None and cached.state_type == state_type:
        return cached
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterType,
        FlowRunFilter,
        FlowRunFilterId,
    )
    from prefect.client.schemas.sorting import ArtifactSort

    stages: tuple[StageState, ...] = ()
    videos: tuple[str, ...] = ()
    percent = None
    if state_type not in ("SCHEDULED", "PENDING"):
        task_runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])), limit=200
        )
        stages, videos = _stages(task_runs)
        if state_type == "RUNNING" and any(s.name == "avatar" for s in stages):
            art = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]),
                    type=ArtifactFilterType(any_=["progress"]),
                ),
                sort=ArtifactSort.UPDATED_DESC,
                limit=1,
            )
            if art and isinstance(art[0].data, (int, float)):
                percent = float(art[0].data)
    params = dict(run.parameters or {})
    tags = list(run.tags or ())
    if not videos and isinstance(params.get("video_id"), str):
        videos = (params["video_id"],)  # trim-video names its video
    error = None
    if state_type in ("FAILED", "CRASHED", "CANCELLED") and run.state is not None:
        error = redact(run.state.message or run.state.name or state_type)
    view = RunView(
        id=str(run.id),
        name=str(run.name),
        flow=flow,
        state=str(run.state_name or state_type.title()),
        state_type=state_type,
        by=started_by(tags) or _starter(run),
        created=run.created or run.expected_start_time or utcnow(),
        started=run.start_time,
        finished=run.end_time if state_type in FINAL else None,
        deployment=run.deployment_id is not None,
        stages=stages,
        percent=percent,
        video_ids=videos,
        error=error,
        parameters=params,
        job_key=next((t[len(JOB_PREFIX) :] for t in tags if t.startswith(JOB_PREFIX)), None),
    )
    if view.final:
        with _final_lock:
            if len(_final) >= 5000:  # a page open for weeks: start the memory again
                _final.clear()
            _final[(api, view.id)] = view
    return view


def _runs_filter(by: str | None) -> Any:
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterTags,
    )

    soon = utcnow() + timedelta(seconds=30)  # not the future runs of a schedule
    return FlowRunFilter(
        expected_start_time=FlowRunFilterExpectedStartTime(before_=soon),
        tags=FlowRunFilterTags(all_=[by_tag(by)]) if by else None,
    )


async def read_flow_runs_async(
    flows: Sequence[str] = FLOWS, by: str | None = None, limit: int = 20, client: Any = None
) -> list[Any]:
    """The flow runs of ``flows``, newest first; ``by``: only those that person started.
    Future runs of a schedule are left out (nobody started them yet)."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    from novaavatar.service.prefect_server import read_client

    if client is None:
        async with read_client() as client:
            return await read_flow_runs_async(flows, by, limit, client)
    return list(
        await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=list(flows))),
            flow_run_filter=_runs_filter(by),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=max(1, min(limit, 200)),
        )
    )


async def read_runs_async(by: str | None = None, limit: int = 20) -> list[RunView]:
    """This project's jobs newest first, with their stages; ``by``: only those that person
    started. Raises when the server cannot be read (the caller says so; never an empty list).
    """
    from novaavatar.service.prefect_server import known_api_url, read_client

    api = known_api_url() or ""
    async with read_client() as client:
        names = await _flow_names(client)
        if not names:
            return []
        found = await read_flow_runs_async(FLOWS, by, limit, client)
        return list(
            await asyncio.gather(*(_view(client, r, names.get(r.flow_id, ""), api) for r in found))
        )


def read_runs(by: str | None = None, limit: int = 20) -> list[RunView]:
    """:func:`read_runs_async` for callers without an event loop (the page, the CLI)."""
    return asyncio.run(read_runs_async(by, limit))


async def read_run_async(run_id: str) -> RunView | None:
    """One flow run of this project by id; None when the server has no such run."""
    from prefect.exceptions import ObjectNotFound

    from novaavatar.service.prefect_server import known_api_url, read_client

    try:
        uuid = UUID(run_id)
    except ValueError:
        return None
    async with read_client() as client:
        try:
            run = await client.read_flow_run(uuid)
        except ObjectNotFound:
            return None
        flow = str((await client.read_flow(run.flow_id)).name)
        return await _view(client, run, flow, known_api_url() or "")


def read_run(run_id: str) -> RunView | None:
    return asyncio.run(read_run_async(run_id))
