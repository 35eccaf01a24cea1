"""Jobs: work handed to a Prefect deployment when a server has one, else run locally.

With ``PREFECT_API_URL`` set and the deployment registered, the run is handed to the
server (``run_deployment(..., timeout=0)``) and the page links to it in the Prefect UI.
Otherwise the flow runs in a background thread of this process (the review page's or the
API's; Prefect starts a temporary server for it) and the caller polls the job until it is done.

Either way the flow run carries who started it (tag ``by:<name>``) and, for a local run, the
job's key (tag ``job:<key>``), so :func:`listing` reads jobs back from the Prefect server
(:mod:`novaavatar.service.runs`) and keeps this process's list only for what the server has
no run of (no server at all, or work that failed before its flow run began).
"""

from __future__ import annotations

import itertools
import os
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from novaavatar.domain import utcnow
from novaavatar.logs import redact
from novaavatar.service import runs


@dataclass
class Job:
    """One piece of work started from the page."""

    id: int
    label: str
    where: str  # "local" or "deployment"
    video_id: str | None = None
    started: datetime = field(default_factory=utcnow)
    finished: datetime | None = None
    status: str = "running"  # running | completed | failed | submitted
    result: Any = None
    error: str | None = None
    url: str | None = None
    by: str | None = None  # who started it
    key: str = field(default_factory=lambda: uuid.uuid4().hex[:12])  # tag job:<key> on its run

    @property
    def running(self) -> bool:
        return self.status == "running"

    def as_run(self) -> runs.RunView:
        """This job as the page shows a flow run (no server, or no run of it on the server)."""
        state = {"running": "RUNNING", "completed": "COMPLETED", "submitted": "SCHEDULED"}
        kind = state.get(self.status, "FAILED")
        vid = self.video_id or (
            self.result if isinstance(self.result, str) and self.result.startswith("vid-") else None
        )
        return runs.RunView(
            id=f"local-{self.id}",
            name=self.label,
            flow="",
            state=kind.title(),
            state_type=kind,
            by=self.by,
            created=self.started,
            started=self.started,
            finished=self.finished,
            video_ids=(vid,) if vid else (),
            error=self.error,
        )


_jobs: dict[int, Job] = {}
_lock = threading.Lock()
_ids = itertools.count(1)
_threads: dict[int, threading.Thread] = {}


def jobs() -> list[Job]:
    """Every job of this page process, newest first."""
    with _lock:
        return sorted(_jobs.values(), key=lambda j: j.id, reverse=True)


def forget_finished() -> None:
    """Drop the finished jobs from the list (a fresh page session in tests)."""
    with _lock:
        for job_id in [i for i, j in _jobs.items() if not j.running]:
            del _jobs[job_id]
            _threads.pop(job_id, None)


def running_for(video_id: str) -> Job | None:
    return next((j for j in jobs() if j.video_id == video_id and j.running), None)


def wait_all(timeout: float = 60.0) -> None:
    """Block until local jobs are done (tests, shutdown)."""
    for j in jobs():
        thread = _threads.get(j.id)
        if thread is not None:
            thread.join(timeout)


def _new_job(label: str, where: str, video_id: str | None, by: str | None = None) -> Job:
    with _lock:
        job = Job(id=next(_ids), label=label, where=where, video_id=video_id, by=by)
        _jobs[job.id] = job
    return job


def tagged(call: Callable[[], Any], *tags: str) -> Callable[[], Any]:
    """``call`` with ``tags`` on every flow run it starts (Prefect's tags context)."""
    chosen = [t for t in tags if t]
    if not chosen:
        return call

    def run() -> Any:
        from prefect import tags as prefect_tags

        with prefect_tags(*chosen):
            return call()

    return run


def run_local(
    label: str, call: Callable[[], Any], video_id: str | None = None, by: str | None = None
) -> Job:
    """Run ``call`` in a background thread; the job records its result or one-line error.
    Its flow run is tagged with who started it and the job's key."""
    job = _new_job(label, "local", video_id, by)
    call = tagged(call, runs.by_tag(by) if by else "", f"job:{job.key}")

    def target() -> None:
        try:
            job.result = call()
            job.status = "completed"
        except Exception as e:  # shown on the page as one line; details go to the log
            traceback.print_exc()
            job.error = redact(f"{type(e).__name__}: {e}")
            job.status = "failed"
        finally:
            job.finished = utcnow()

    thread = threading.Thread(target=target, name=f"review-job-{job.id}", daemon=True)
    _threads[job.id] = thread
    thread.start()
    return job


def prefect_server() -> str | None:
    """The configured Prefect API URL, or None when flows would run on a temporary server."""
    return os.environ.get("PREFECT_API_URL") or None


def find_server() -> str | None:
    """:func:`prefect_server`, else the server ``make up`` runs (then used by this process)."""
    if url := prefect_server():
        return url
    from novaavatar.service.prefect_server import prefect_home
    from novaavatar.service.stack import running_api_url

    if url := running_api_url(prefect_home()):
        os.environ["PREFECT_API_URL"] = url
    return url


def ui_url() -> str | None:
    """Base URL of the Prefect UI for links, when a server is configured."""
    if not prefect_server():
        return None
    try:
        from prefect.settings import get_current_settings

        url = get_current_settings().ui_url
        return str(url).rstrip("/") if url else None
    except Exception:
        return None


def flow_run_link(flow_run_id: str | None) -> str | None:
    base = ui_url()
    return f"{base}/runs/flow-run/{flow_run_id}" if base and flow_run_id else None


def _deployment_exists(name: str) -> bool:
    if not prefect_server():
        return False
    try:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(name)
        return True
    except Exception:  # no server, no deployment: run locally instead
        return False


def submit(
    label: str,
    deployment: str,
    parameters: dict[str, Any],
    local: Callable[[], Any],
    video_id: str | None = None,
    by: str | None = None,
) -> Job:
    """Run ``deployment`` with ``parameters`` on the server, else ``local`` in a thread;
    ``by``: who starts it, recorded on the flow run (tag ``by:<name>``)."""
    if _deployment_exists(deployment):
        from prefect.deployments import run_deployment

        job = _new_job(label, "deployment", video_id, by)
        tags = [runs.by_tag(by)] if by else None
        try:
            run: Any = run_deployment(  # named now; the flow names it again when it starts
                deployment, parameters=parameters, timeout=0, tags=tags, flow_run_name=label
            )
            job.status, job.result = "submitted", str(run.id)
            job.url = flow_run_link(str(run.id))
        except Exception as e:
            job.status, job.error = "failed", redact(f"{type(e).__name__}: {e}")
        job.finished = utcnow()
        return job
    return run_local(label, _on_server(local), video_id, by)


def _on_server(call: Callable[[], Any]) -> Callable[[], Any]:
    """``call`` against the configured server (a thread does not see the settings Prefect
    read at import), so a local job's run is listed with the others; else as it is."""
    url = prefect_server()
    if url is None:
        return call

    def run() -> Any:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: url}):
            return call()

    return run


def listing(by: str | None = None, limit: int = 20) -> list[runs.RunView]:
    """Jobs newest first, ``by``: only those that person started.

    With a Prefect server: its flow runs of this project, plus this process's jobs that have
    no run there (a local job whose flow never began). Without one: this process's jobs.
    Raises when the server cannot be read.
    """
    mine = [j for j in jobs() if by is None or j.by == by]
    if prefect_server() is None:
        return [j.as_run() for j in mine[:limit]]
    from_server = runs.read_runs(by, limit)
    keys = {r.job_key for r in from_server if r.job_key}
    handed = {r.id for r in from_server}
    oldest = from_server[-1].created if len(from_server) >= limit else None
    extra = [
        j.as_run()
        for j in mine
        if j.key not in keys
        and str(j.result or "") not in handed
        and (j.where == "local" or j.status == "failed")
        and (oldest is None or j.started >= oldest)
    ]
    return sorted([*from_server, *extra], key=lambda r: r.created, reverse=True)[:limit]
