"""Optional error tracking with Sentry (``SENTRY_DSN``); off when unset.

Events carry the component, flow run id, video id, stage and provider as tags, and pass
through the same redactor as the logs, so no configured secret reaches Sentry.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from novaavatar.settings import Settings

_enabled = False


def init_sentry(settings: Settings, component: str) -> bool:
    """Start the Sentry client when ``SENTRY_DSN`` is set; returns whether it is on."""
    global _enabled
    if settings.sentry_dsn is None:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration

    from novaavatar.logs import redactor_for

    redactor = redactor_for(settings)  # the same redactor as the logs, the store and the API

    def scrub(event: Any, _hint: Any) -> Any:
        return _redact(event, redactor.redact)

    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.sentry_environment,
        before_send=scrub,
        # stage failures are reported once, with their tags, by `stage_scope`
        integrations=[LoggingIntegration(event_level=None)],
    )
    sentry_sdk.set_tag("component", component)
    _enabled = True
    return True


def _redact(value: Any, redact: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, redact) for v in value]
    return value


@contextlib.contextmanager
def stage_scope(
    video_id: str, stage: str, provider: Callable[[], str] | None = None
) -> Iterator[None]:
    """Report an exception raised inside to Sentry, tagged with the run, video and stage."""
    if not _enabled:
        yield
        return
    import sentry_sdk
    from prefect.runtime import flow_run

    with sentry_sdk.new_scope() as scope:
        scope.set_tag("video_id", video_id)
        scope.set_tag("stage", stage)
        if flow_run.id:
            scope.set_tag("flow_run_id", str(flow_run.id))
        try:
            yield
        except Exception as e:
            if provider is not None and provider():
                scope.set_tag("provider", provider())  # the one that was running when it failed
            sentry_sdk.capture_exception(e)
            raise
