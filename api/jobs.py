"""Jobs of the API, mapped onto Prefect, not a second job system.

Work is started through :mod:`novaavatar.service.jobs`, as the review page does: a deployment
run on the Prefect server when ``make up`` runs one (the job id is the flow run id), else a
local run in a thread of this process (job id ``local-<n>``, forgotten on restart). State
and per-stage progress are read back from Prefect flow and task runs and from manifests.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from api import schemas
from api.problems import ProblemError, log
from novaavatar import manifests
from novaavatar.domain import utcnow
from novaavatar.errors import NotFoundError
from novaavatar.logs import redact
from novaavatar.service import jobs, runs
from novaavatar.service.production import Work
from novaavatar.store import ArtifactStore

STAGES = runs.STAGES  # task runs are named by stage: runs.stage_of reads them
FLOW_KIND: dict[str, schemas.JobKind] = {
    "scrape-content": "scrape",
    "produce-video": "generate",
    "manual-create": "manual",
    "produce-batch": "batch",
    "trim-video": "trim",
}
_PREFECT_STATE: dict[str, schemas.JobState] = {
    "SCHEDULED": "scheduled",
    "PENDING": "scheduled",
    "RUNNING": "running",
    "PAUSED": "running",
    "CANCELLING": "running",
    "COMPLETED": "completed",
    "FAILED": "failed",
    "CRASHED": "failed",
    "CANCELLED": "cancelled",
}
_LOCAL_STATE: dict[str, schemas.JobState] = {
    "running": "running",
    "completed": "completed",
    "failed": "failed",
    "submitted": "scheduled",
}


@dataclass
class Started:
    """A job this process started, with what the API knows beyond review_app's Job."""

    job: jobs.Job
    kind: schemas.JobKind
    flow_name: str
    run_name: str  # the flow run's name, to find a local run in Prefect while it runs
    item_id: str | None = None
    video_id: str | None = None

    @property
    def id(self) -> str:
        if self.job.where == "deployment" and self.job.result:
            return str(self.job.result)
        return f"local-{self.job.id}"


class JobBook:
    """Starts jobs and reports on them."""

    def __init__(self) -> None:
        self._started: dict[str, Started] = {}
        self._lock = threading.Lock()

    # --- starting ------------------------------------------------------------------------

    def start(
        self,
        kind: schemas.JobKind,
        work: Work,
        *,
        item_id: str | None = None,
        by: str | None = None,
    ) -> Started:
        """Start ``work``: its deployment on the server, or the flow in a thread; ``by``: who
        starts it, recorded on the flow run (tag ``by:<name>``).

        The thread gets a copy of the caller's context, so a local flow uses the same
        Prefect settings (API URL, profile) as the request that started it.
        """
        from novaavatar.service.prefect_server import call_with_prefect_api

        ctx = contextvars.copy_context()  # then one Prefect server for every job of the process
        local = work.local

        def in_request_context() -> Any:
            from prefect.context import TagsContext

            # the job's thread set its tags (by:, job:) in its own context: carry them over
            tags = sorted(TagsContext.get().current_tags)
            return ctx.run(call_with_prefect_api, jobs.tagged(local, *tags))

        job = replace(work, local=in_request_context).start(by=by)
        flow_name = work.deployment.split("/", 1)[0]
        started = Started(job, kind, flow_name, work.label, item_id, work.video_id)
        with self._lock:
            self._started[started.id] = started
        return started

    async def active_for(self, video_id: str, store: ArtifactStore) -> schemas.Job | None:
        """A job of this process still making ``video_id`` (queued or running), if any."""
        for s in self.local():
            if s.video_id == video_id:
                view = await self._view_started(s, store, detail=False)
                if view.state in ("scheduled", "running"):
                    return view
        return None

    def local(self) -> list[Started]:
        with self._lock:
            return list(self._started.values())

    # --- reading -------------------------------------------------------------------------

    async def view(self, job_id: str, store: ArtifactStore, detail: bool = True) -> schemas.Job:
        """The job ``job_id``: one this process started, else a flow run on the server."""
        with self._lock:
            started = self._started.get(job_id)
        if started is not None:
            return await self._view_started(started, store, detail)
        if job_id.startswith("local-") or jobs.prefect_server() is None:
            raise NotFoundError(
                f"no job {job_id!r}: local jobs last as long as the API process that ran them"
            )
        run = await _read_flow_run(job_id)
        if run is None:
            raise NotFoundError(f"no job {job_id!r} on the Prefect server")
        return await self._view_run(run, store, detail)

    async def page(
        self,
        store: ArtifactStore,
        state: schemas.JobState | None,
        kind: schemas.JobKind | None,
        limit: int,
        offset: int,
        by: str | None = None,
    ) -> tuple[list[schemas.Job], bool]:
        """Jobs newest first (and whether there are more): this process's, and the server's;
        ``by``: only those that person started."""
        views = {}
        for s in self.local():
            if by is None or s.job.by == by:
                views[s.id] = await self._view_started(s, store, detail=False)
        if jobs.prefect_server() is not None:
            for run in await _read_flow_runs(offset + limit + 1, by):
                if str(run.id) not in views:
                    views[str(run.id)] = await self._view_run(run, store, detail=False)
        chosen = [
            v
            for v in sorted(views.values(), key=lambda v: v.created_at, reverse=True)
            if (state is None or v.state == state) and (kind is None or v.kind == kind)
        ]
        return chosen[offset : offset + limit], len(chosen) > offset + limit

    async def _view_started(self, s: Started, store: ArtifactStore, detail: bool) -> schemas.Job:
        job = s.job
        if job.where == "deployment" and job.result:
            run = await _read_flow_run(str(job.result))
            if run is not None:
                view = await self._view_run(run, store, detail, s)
                return view
        video_id = s.video_id or _video_id_of(job.result)
        view = schemas.Job(
            id=s.id,
            kind=s.kind,
            state=_LOCAL_STATE.get(job.status, "failed"),
            where="local" if job.where == "local" else "deployment",
            label=job.label,
            created_at=job.started,
            finished_at=job.finished,
            item_id=s.item_id,
            video_id=video_id,
            error=redact(job.error) if job.error else None,
            by=job.by,
        )
        if detail and s.kind in ("generate", "manual"):
            run_id = None
            if video_id is not None and view.state in ("completed", "failed"):
                run_id = _manifest_run_id(store, video_id)
            elif view.state == "running":
                run_id = await _find_local_run(job.key)
            view.flow_run_id = run_id
            view.progress = await _progress(store, video_id, run_id, view.state)
        return _with_links(view)

    async def _view_run(
        self, run: Any, store: ArtifactStore, detail: bool, s: Started | None = None
    ) -> schemas.Job:
        flow_name = s.flow_name if s else await _flow_name(run.flow_id)
        kind = s.kind if s else FLOW_KIND.get(flow_name, "other")
        if kind == "generate" and run.parameters.get("regenerate"):
            kind = "regenerate"
        state = _PREFECT_STATE.get(run.state_type.value if run.state_type else "", "scheduled")
        video_id = s.video_id if s else None
        if video_id is None and state == "completed" and kind in ("generate", "manual"):
            video_id = await _run_result_video(run)
        error = None
        if state == "failed" and run.state is not None:
            error = redact(run.state.message or run.state.name)
        view = schemas.Job(
            id=str(run.id),
            kind=kind,
            state=state,
            where="deployment" if run.deployment_id else "local",
            label=run.name,
            created_at=run.created or run.expected_start_time or utcnow(),
            finished_at=run.end_time,
            flow_run_id=str(run.id),
            item_id=s.item_id if s else run.parameters.get("item_id"),
            video_id=video_id,
            error=error,
            by=runs.started_by(run.tags or ()),
        )
        if detail and kind in ("generate", "manual", "regenerate"):
            view.progress = await _progress(store, video_id, str(run.id), state)
        return _with_links(view)


def _with_links(view: schemas.Job) -> schemas.Job:
    view.links = schemas.Links(
        job=f"/api/jobs/{view.id}",
        video=f"/api/videos/{view.video_id}"
        if view.video_id and view.state == "completed"
        else None,
        manifest=f"/api/videos/{view.video_id}/manifest" if view.video_id else None,
        flow_run=jobs.flow_run_link(view.flow_run_id),
    )
    return view


def _video_id_of(result: Any) -> str | None:
    return result if isinstance(result, str) and result.startswith(("vid-", "manual-")) else None


def _manifest_run_id(store: ArtifactStore, video_id: str) -> str | None:
    try:
        return manifests.load(store, video_id)[0].flow_run_id
    except (NotFoundError, ValueError):
        return None


async def _progress(
    store: ArtifactStore, video_id: str | None, run_id: str | None, state: schemas.JobState
) -> schemas.Progress:
    """Each stage's state from the run's task runs; providers and seconds from the store."""
    from tasks.common import read_stage_records

    states: dict[str, schemas.StageState] = {}
    if run_id is not None:
        for task_run in await _read_task_runs(run_id):
            got = runs.stage_of(str(task_run.name))  # "avatar vid-… on gpu": the avatar
            if got is None or got[0] not in STAGES or task_run.state_type is None:
                continue
            stage = got[0]
            states[stage] = _stage_state(task_run.state_type.value)
    records = {}
    if video_id is not None:
        try:
            records = await asyncio.to_thread(read_stage_records, store, video_id)
        except (NotFoundError, ValueError, OSError):
            records = {}
    if state == "completed":  # the run is done: its task runs may reach the server later
        made = [n for n in STAGES if n in records or not records]
        states.update(dict.fromkeys(made, "completed"))
    stages = []
    for name in STAGES:
        st = states.get(name, "pending")
        rec = records.get(name) if st == "completed" else None
        stages.append(
            schemas.StageProgress(
                name=name,
                state=st,
                provider=rec.provider if rec else None,
                seconds=rec.seconds if rec else None,
            )
        )
    done = sum(s.state == "completed" for s in stages)
    return schemas.Progress(completed=done, total=len(STAGES), stages=stages)


_STAGE_STATE: dict[str, schemas.StageState] = {
    "COMPLETED": "completed",
    "RUNNING": "running",
    "FAILED": "failed",
    "CRASHED": "failed",
}


def _stage_state(state_type: str) -> schemas.StageState:
    return _STAGE_STATE.get(state_type, "pending")


# --- Prefect reads: a job's own run must be read (503 when the server is down); the details
# around it (task runs, names, results) are best effort and logged when they fail ----------


def _unavailable(what: str, e: Exception) -> ProblemError:
    log.warning("Prefect server: cannot %s: %s: %s", what, type(e).__name__, e)
    where = jobs.prefect_server() or "the temporary Prefect server"
    detail = f"the Prefect server ({where}) cannot {what} now: {type(e).__name__}"
    return ProblemError(503, detail, kind="prefect-unavailable")


async def _read_flow_run(run_id: str) -> Any:
    from prefect.exceptions import ObjectNotFound

    from novaavatar.service.prefect_server import PrefectServerError, read_client

    try:
        async with read_client() as client:
            return await client.read_flow_run(UUID(run_id))
    except (ObjectNotFound, ValueError, PrefectServerError):
        return None
    except Exception as e:
        raise _unavailable("read flow runs", e) from None


async def _read_flow_runs(limit: int, by: str | None = None) -> list[Any]:
    try:
        return await runs.read_flow_runs_async(list(FLOW_KIND), by, limit)
    except Exception as e:
        raise _unavailable("list flow runs", e) from None


async def _flow_name(flow_id: UUID) -> str:
    from novaavatar.service.prefect_server import read_client

    try:
        async with read_client() as client:
            return str((await client.read_flow(flow_id)).name)
    except Exception as e:
        log.warning("Prefect server: cannot read flow %s: %s", flow_id, e)
        return ""


async def _find_local_run(job_key: str) -> str | None:
    """The flow run a local job is running: the one tagged with the job's key."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    from novaavatar.service.prefect_server import read_client

    try:
        async with read_client() as client:
            found = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    tags=FlowRunFilterTags(all_=[f"{runs.JOB_PREFIX}{job_key}"])
                ),
                limit=1,
            )
    except Exception as e:
        log.warning("Prefect server: cannot find the run of local job %s: %s", job_key, e)
        return None
    return str(found[0].id) if found else None


async def _read_task_runs(run_id: str) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from novaavatar.service.prefect_server import read_client

    try:
        async with read_client() as client:
            return list(
                await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(run_id)])),
                    limit=200,
                )
            )
    except Exception as e:
        log.warning("Prefect server: cannot read the task runs of %s: %s", run_id, e)
        return []


async def _run_result_video(run: Any) -> str | None:
    """The video id a completed produce or manual run returned (its persisted result)."""
    try:
        result = await run.state.aresult(raise_on_failure=False)
    except Exception as e:  # e.g. results kept on another machine's disk
        log.info("no result of flow run %s: %s", run.id, e)
        return None
    return _video_id_of(result)
