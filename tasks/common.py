"""What every stage task shares: retries, cache policy, stage records and scratch folders."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy

from novaavatar.domain import StageRecord
from novaavatar.logs import redact
from novaavatar.store import ArtifactStore, store_from_uri

# A stage is cached on its inputs (which include RenderConfig: store, speed, quality) and on
# its code, so editing a stage or changing a setting re-runs it and nothing else.
STAGE_CACHE = INPUTS + TASK_SOURCE
PROJECT = Path(__file__).resolve().parents[1]


@dataclass
class CodeOf(CachePolicy):
    """A cache key part from the source files a stage really runs (its provider packages),
    not only the task function: editing the renderer re-renders, editing the script
    template does not."""

    paths: tuple[str, ...] = ()

    def compute_key(self, task_ctx: Any, inputs: Any, flow_parameters: Any, **kw: Any) -> str:
        return code_hash(self.paths)


@lru_cache(maxsize=64)
def code_hash(paths: tuple[str, ...], root: Path = PROJECT) -> str:
    """sha256 over the .py files under ``paths`` (relative to the project), once per process."""
    digest = hashlib.sha256()
    for rel in paths:
        target = root / rel
        files = [target] if target.is_file() else sorted(target.rglob("*.py"))
        for f in files:
            digest.update(f.relative_to(root).as_posix().encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def stage_cache(*paths: str) -> CachePolicy:
    """The cache policy of a stage whose providers live under ``paths``."""
    return STAGE_CACHE + CodeOf(paths=tuple(paths))


STAGE_RETRIES = 2
STAGE_RETRY_DELAYS = [2, 10]
# The heavy stages carry this tag; a Prefect tag concurrency limit of MAX_CONCURRENT_JOBS
# on it bounds how many render at once across every worker and process.
RENDER_TAG = "novaavatar-render"


def job_timeout() -> float:
    """JOB_TIMEOUT in seconds, read when the tasks are defined (default when unset/invalid)."""
    from novaavatar.errors import SettingsError
    from novaavatar.settings import get_settings

    try:
        return float(get_settings().job_timeout)
    except SettingsError:  # the CLI and flows report bad settings themselves
        return 1800.0


def stage_key(video_id: str, name: str) -> str:
    return f"videos/{video_id}/{name}"


@dataclass
class StageRun:
    """Collects what a stage wrote; saved as ``videos/<id>/stages/<stage>.json``."""

    store: ArtifactStore
    video_id: str
    stage: str
    workdir: Path
    provider: str = ""
    keys: list[str] = field(default_factory=list)
    detail: str = ""
    cost_usd: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        """Record a warning for the reviewer (manifest, review page) and log it in the run."""
        self.warnings.append(message)
        run_logger().warning("%s %s: %s", self.stage, self.video_id, message)

    def put_file(self, name: str, path: Path, content_type: str | None = None) -> str:
        key = self.store.put_file(stage_key(self.video_id, name), path, content_type)
        self.keys.append(key)
        return key


@contextlib.contextmanager
def stage_run(store_uri: str, video_id: str, stage: str) -> Iterator[StageRun]:
    """A scratch folder for the stage; on success its record is written to the store."""
    from novaavatar.sentry import stage_scope

    store = store_from_uri(store_uri)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"nova-{stage}-") as tmp:
        run = StageRun(store=store, video_id=video_id, stage=stage, workdir=Path(tmp))
        with stage_scope(video_id, stage, provider=lambda: run.provider):
            yield run
    record = StageRecord(
        provider=run.provider,
        keys=tuple(run.keys),
        seconds=round(time.perf_counter() - t0, 3),
        cost_usd=round(run.cost_usd, 6),
        detail=redact(run.detail),  # upstream error text may quote a key or a local path
        warnings=tuple(redact(w) for w in run.warnings),
    )
    store.put_bytes(
        stage_key(video_id, f"stages/{stage}.json"),
        record.model_dump_json().encode(),
        "application/json",
    )
    if run.warnings:
        warnings_artifact(video_id, stage, run.provider, run.warnings)


def run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The Prefect run's logger inside a flow or task run (it reaches the run's logs in the
    UI), else this module's logger."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("novaavatar.stages")


def warnings_artifact(video_id: str, stage: str, provider: str, warnings: list[str]) -> None:
    """A markdown artifact listing a stage's warnings, in the run that had them."""
    from prefect.artifacts import create_markdown_artifact
    from prefect.context import FlowRunContext, TaskRunContext

    if FlowRunContext.get() is None and TaskRunContext.get() is None:
        return  # .fn() in tests and scripts: no run to attach it to
    lines = "\n".join(f"- {w}" for w in warnings)
    create_markdown_artifact(
        key=f"{stage}-warnings",
        markdown=f"### {stage} of `{video_id}`: made by {provider or 'nothing'}, "
        f"with warnings\n\n{lines}\n",
        description=f"{stage} warnings for {video_id}",
    )


def read_stage_records(store: ArtifactStore, video_id: str) -> dict[str, StageRecord]:
    out = {}
    for key in store.list(f"videos/{video_id}/stages"):
        name = key.rsplit("/", 1)[-1].removesuffix(".json")
        out[name] = StageRecord.model_validate_json(store.get_bytes(key))
    return out


def retry_unless_bad_input(task: object, task_run: object, state: object) -> bool:
    """Retry a failed stage, except when the input itself was bad: that would fail again."""
    from novaavatar.errors import InputError

    try:
        exc = state.result(raise_on_failure=False)  # type: ignore[attr-defined]
    except Exception:
        return True
    return not isinstance(exc, InputError)
