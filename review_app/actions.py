"""How the review page starts work: a Prefect deployment when a server has one, else locally.

With ``PREFECT_API_URL`` set and the deployment registered, the run is handed to the
server (``run_deployment(..., timeout=0)``) and the page links to it in the Prefect UI.
Otherwise the flow runs in a background thread of the Streamlit process (Prefect starts a
temporary server for it) and the page polls the job until it is done.
"""

from __future__ import annotations

import itertools
import os
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from novaavatar.domain import utcnow
from novaavatar.logs import redact

PRODUCE_BATCH = "produce-batch/default"
PRODUCE_VIDEO = "produce-video/default"
SCRAPE = "scrape-content/default"
MANUAL = "manual-create/default"


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

    @property
    def running(self) -> bool:
        return self.status == "running"


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


def _new_job(label: str, where: str, video_id: str | None) -> Job:
    with _lock:
        job = Job(id=next(_ids), label=label, where=where, video_id=video_id)
        _jobs[job.id] = job
    return job


def run_local(label: str, call: Callable[[], Any], video_id: str | None = None) -> Job:
    """Run ``call`` in a background thread; the job records its result or one-line error."""
    job = _new_job(label, "local", video_id)

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
) -> Job:
    if _deployment_exists(deployment):
        from prefect.deployments import run_deployment

        job = _new_job(label, "deployment", video_id)
        try:
            run: Any = run_deployment(deployment, parameters=parameters, timeout=0)
            job.status, job.result = "submitted", str(run.id)
            job.url = flow_run_link(str(run.id))
        except Exception as e:
            job.status, job.error = "failed", redact(f"{type(e).__name__}: {e}")
        job.finished = utcnow()
        return job
    return run_local(label, local, video_id)


def scrape(sources: list[str], keywords: list[str], limit: int) -> Job:
    def local() -> Any:
        from flows import scrape as scrape_flows

        items = scrape_flows.scrape_content(sources=sources, keywords=keywords, limit=limit)
        return f"{len(items)} items"

    params = {"sources": sources, "keywords": keywords, "limit": limit}
    return submit("scrape sources", SCRAPE, params, local)


def check_produce(
    style: str, duration_s: float, aspect: str, format: str, languages: list[str], transition: str
) -> None:
    """InputError naming what does not fit (a duration outside the format's range, an
    unknown language, no language at all), before anything is started."""
    from pydantic import ValidationError

    from novaavatar.domain import ProduceOptions
    from novaavatar.errors import InputError

    if not languages:
        raise InputError("languages: choose at least one (one video is made per language)")
    for lang in languages:
        try:
            ProduceOptions(
                style=style,  # type: ignore[arg-type]
                duration_s=duration_s,
                aspect=aspect,  # type: ignore[arg-type]
                format=format,  # type: ignore[arg-type]
                language=lang,
                transition=transition,  # type: ignore[arg-type]
            )
        except ValidationError as e:
            why = "; ".join(str(err["msg"]).removeprefix("Value error, ") for err in e.errors())
            raise InputError(why) from None


def produce(
    item_ids: list[str],
    style: str,
    duration_s: float,
    aspect: str,
    format: str = "single",
    languages: list[str] | None = None,
    template: str | None = None,
    transition: str = "crossfade",
) -> Job:
    """Produce the items as a batch: one video per item and language, in ``format``, drawn
    with ``template`` (None: the format's default; "none": the plain look). InputError, and
    nothing started, when the options do not fit together."""
    languages = ["en"] if languages is None else list(dict.fromkeys(languages))
    check_produce(style, duration_s, aspect, format, languages, transition)
    params: dict[str, Any] = dict(
        item_ids=item_ids,
        style=style,
        duration_s=duration_s,
        aspect=aspect,
        format=format,
        languages=languages,
        template=template,
        transition=transition,
    )

    def local() -> Any:
        from flows import produce as produce_flows

        return produce_flows.produce_batch(**params)

    return submit(f"produce {len(item_ids)} item(s)", PRODUCE_BATCH, params, local)


def regenerate(video_id: str, stages: list[str], reviewer: str, item_params: dict[str, Any]) -> Job:
    """Re-run ``stages`` of a video and what depends on them; it returns to the queue."""

    def local() -> Any:
        from flows import produce as produce_flows

        return produce_flows.regenerate_video(video_id, stages, reviewer)

    params = {**item_params, "regenerate": stages, "reviewer": reviewer}
    return submit(
        f"regenerate {', '.join(stages)} of {video_id}", PRODUCE_VIDEO, params, local, video_id
    )


def manual_create_available() -> bool:
    """Whether the manual-create flow exists yet (``flows.manual.manual_create``)."""
    try:
        from flows import manual
    except ImportError:
        return False
    return callable(getattr(manual, "manual_create", None))


def manual_create(parameters: dict[str, Any]) -> Job:
    def local() -> Any:
        from flows import manual

        return manual.manual_create(**parameters)

    return submit(f"create {parameters.get('title', 'video')!r}", MANUAL, parameters, local)
