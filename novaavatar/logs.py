"""One logging configuration for the CLI, flows, workers and the review page.

Records go to the console (and, inside runs, to Prefect's run logger as usual) and to a
JSON-lines file rotated daily and kept for ``LOG_RETENTION_DAYS``. A filter that knows
every configured secret value redacts them from every record, wherever it goes.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from novaavatar.settings import Settings

REDACTED = "[redacted]"
# Shapes of secrets that are worth hiding even when not configured here.
_SECRET_SHAPES = [
    re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"),  # OpenAI-style keys
    re.compile(r"\br8_[A-Za-z0-9]{20,}"),  # Replicate tokens
    re.compile(r"(?i)(authorization:\s*bearer\s+)[^\s'\"]+"),
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=\-]{8,}"),  # a bearer credential anywhere
    re.compile(r"(?i)([?&](?:api[_-]?key|apikey|token|secret|password)=)[^&\s'\"]+"),
]
_OWN_HANDLER = "novaavatar-file"


class SecretRedactor(logging.Filter):
    """Replace configured secret values (and well-known secret shapes) in every record, and
    show absolute paths under the store relative to it (``roots``: folder → shown prefix)."""

    def __init__(self, secrets: Iterable[str] = (), roots: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self.roots = sorted({(r.rstrip("/") + "/", shown) for r, shown in roots if len(r) > 1})
        self.roots.sort(key=lambda r: len(r[0]), reverse=True)  # the deepest folder first

    def redact(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, REDACTED)
        for shape in _SECRET_SHAPES:
            text = shape.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
        for root, shown in self.roots:
            text = text.replace(root, shown)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string still must not leak its arguments
            message = str(record.msg)
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record.exc_info = None if record.exc_text else record.exc_info
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and run context when known."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for attr in ("flow_run_id", "task_run_id", "flow_run_name", "task_run_name"):
            value = getattr(record, attr, None)
            if value:
                entry[attr] = str(value)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def file_handler(path: Path, retention_days: int, redactor: SecretRedactor) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.TimedRotatingFileHandler(
        path, when="midnight", backupCount=retention_days, encoding="utf-8", utc=True
    )
    handler.name = _OWN_HANDLER
    handler.setFormatter(JsonLinesFormatter())
    handler.addFilter(redactor)
    return handler


def redactor_for(settings: Settings) -> SecretRedactor:
    """The one redactor: configured secrets and secret shapes, and store paths made relative
    (``<STORAGE_PATH>/artifacts/videos/x`` → ``videos/x``, other files under STORAGE_PATH →
    ``$STORAGE_PATH/...``). Logs, manifests, stage records, artifacts, API answers and
    webhook bodies all pass it."""
    storage = settings.storage_path.expanduser()
    roots = []
    for base in {storage, storage.resolve()}:
        roots += [(str(base / "artifacts"), ""), (str(base), "$STORAGE_PATH/")]
    return SecretRedactor(settings.secret_values(), roots)


class CurrentRedactor(SecretRedactor):
    """:func:`redactor_for` the settings of the moment: a process whose settings change (a key
    added, a test) never logs through a redactor that predates them."""

    def __init__(self) -> None:
        super().__init__()
        self._for: tuple[int, SecretRedactor] | None = None

    def redact(self, text: str) -> str:
        from novaavatar.settings import get_settings

        try:
            settings = get_settings()
        except Exception:  # bad settings still must not let a secret shape through
            return SecretRedactor().redact(text)
        cached = self._for
        if cached is None or cached[0] != id(settings):
            cached = self._for = (id(settings), redactor_for(settings))
        return cached[1].redact(text)


def redact(text: str, settings: Settings | None = None) -> str:
    """``text`` through :func:`redactor_for` (the current settings when none are given)."""
    if settings is None:
        from novaavatar.settings import get_settings

        try:
            settings = get_settings()
        except Exception:  # bad settings still must not let a secret shape through
            return SecretRedactor().redact(text)
    return redactor_for(settings).redact(text)


def configure_logging(settings: Settings, component: str = "cli") -> Path:
    """Set up logging for this process; safe to call more than once. Returns the log file."""
    redactor = CurrentRedactor()
    path = settings.log_path / f"{component}.jsonl"
    level = getattr(logging, settings.log_level)
    targets = [logging.getLogger("novaavatar"), *_prefect_loggers()]
    handler = file_handler(path, settings.log_retention_days, redactor)
    for logger in targets:
        for old in [h for h in logger.handlers if h.name == _OWN_HANDLER]:
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        for h in logger.handlers:  # Prefect's console and API handlers get redaction too
            if not any(isinstance(f, SecretRedactor) for f in h.filters):
                h.addFilter(redactor)
    logging.getLogger("novaavatar").setLevel(level)
    from novaavatar.sentry import init_sentry

    init_sentry(settings, component, redactor.redact)
    return path


def _prefect_loggers() -> list[logging.Logger]:
    """Prefect's run loggers (their records go to the Prefect API and the console)."""
    names = ["prefect", "prefect.flow_runs", "prefect.task_runs"]
    return [logging.getLogger(n) for n in names]


def run_settings(component: str = "flows") -> Settings:
    """Settings for a flow run, with this process's logging configured (once per process)."""
    from novaavatar.settings import get_settings

    settings = get_settings()
    if not any(h.name == _OWN_HANDLER for h in logging.getLogger("prefect.flow_runs").handlers):
        configure_logging(settings, component)
    return settings
