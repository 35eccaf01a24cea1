"""Editing the settings in ``.env``: validated by :class:`~novaavatar.settings.Settings`
itself, written atomically, every change logged with who and when (never a secret's value).

Non-secret settings are read and written as text; secrets (``SecretStr`` fields) can only be
set or replaced, never read back. :func:`restart_note` says which processes pick a change
up when: the review page at once, a flow run from its next run, the REST API and the
workers' limits after a restart.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from novaavatar.domain import utcnow
from novaavatar.errors import InputError, SettingsError
from novaavatar.settings import Settings, load_settings

LOG_SUFFIX = ".changes.jsonl"
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")
_PLAIN = re.compile(r"^[A-Za-z0-9_./:@,+\-%*?=&]*$")

API_FIELDS = {"api_port", "api_tokens", "api_cors_origins", "api_rate_limit", "max_upload_mb"}
EVERY_PROCESS = {
    "storage_path",
    "artifact_store",
    "s3_endpoint",
    "s3_bucket",
    "s3_prefix",
    "s3_region",
    "s3_secure",
    "s3_access_key",
    "s3_secret_key",
    "s3_create_bucket",
    "log_level",
    "log_dir",
    "log_retention_days",
    "sentry_dsn",
    "sentry_environment",
}
WORKER_LIMITS = {"gpu_concurrency", "max_concurrent_jobs"}
SCHEDULE = {"scrape_cron", "scrape_timezone"}


def env_path() -> Path:
    """The ``.env`` the settings are read from: the working directory's, as pydantic's."""
    return Path(Settings.model_config.get("env_file") or ".env")  # type: ignore[arg-type]


def is_secret(name: str) -> bool:
    """Whether setting ``name`` holds a secret (a ``SecretStr``, or a list of them)."""
    info = Settings.model_fields[name]
    return "SecretStr" in str(info.annotation) or any(
        a is SecretStr for a in typing.get_args(info.annotation)
    )


def editable() -> list[str]:
    """The non-secret settings, by name (lowercase, as the model has them)."""
    return [n for n in Settings.model_fields if not is_secret(n)]


def secrets() -> list[str]:
    return [n for n in Settings.model_fields if is_secret(n)]


def shown(settings: Settings, name: str) -> str:
    """A setting's value as text; a secret only as "set" or "not set"."""
    value = getattr(settings, name)
    if is_secret(name):
        values = value if isinstance(value, list) else [value]
        return "set" if any(v is not None and v.get_secret_value() for v in values) else "not set"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def restart_note(name: str) -> str:
    """Which process picks a change of ``name`` up, and when."""
    if name in API_FIELDS:
        return "restart the REST API (`make down`, then `make up`)"
    if name in SCHEDULE:
        return "run `make up` again: it deploys the scrape schedule anew"
    if name in WORKER_LIMITS:
        return "restart the workers (`make down`, then `make up`)"
    if name in EVERY_PROCESS:
        return "restart every process: review page, REST API and workers (`make down`, `make up`)"
    return (
        "none: the review page uses it now, flow runs from their next run; "
        "the REST API after a restart"
    )


@dataclass
class Change:
    """What one save did: the settings changed (secrets by name only) and what to restart."""

    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (before, after)
    secrets_set: list[str] = field(default_factory=list)
    overridden: list[str] = field(default_factory=list)  # set in the environment: it wins

    @property
    def restarts(self) -> dict[str, str]:
        return {n: restart_note(n) for n in [*self.changed, *self.secrets_set]}


def _quote(value: str) -> str:
    if _PLAIN.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _rewrite(text: str, updates: dict[str, str | None]) -> str:
    """``.env`` text with ``updates`` applied in place (None removes); comments and order kept."""
    pending = {k.upper(): v for k, v in updates.items()}
    out: list[str] = []
    for line in text.splitlines():
        m = _LINE.match(line)
        key = m.group(1).upper() if m else None
        if key is not None and key in pending:
            value = pending.pop(key)
            if value is not None:
                out.append(f"{key}={_quote(value)}")
            continue  # a repeated key: only the first place keeps it
        if key is not None and key in {k.upper() for k in updates}:
            continue
        out.append(line)
    out += [f"{k}={_quote(v)}" for k, v in pending.items() if v is not None]
    return "\n".join(out) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o600)  # it may hold secrets
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _validated(text: str, folder: Path) -> Settings:
    """The Settings the new ``.env`` text would give (the environment still wins)."""
    fd, tmp = tempfile.mkstemp(prefix=".env-check.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return load_settings(_env_file=tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def save(
    values: dict[str, str | None],
    secret_values: dict[str, str] | None = None,
    *,
    by: str,
    path: Path | None = None,
) -> Change:
    """Write non-secret ``values`` (text; empty or None: back to the default) and
    ``secret_values`` into ``.env``, after the Settings model accepted the result.

    Raises ``InputError`` for an unknown or secret name given as a value, and
    ``SettingsError`` (naming the variable) for a value the model refuses; nothing is
    written then. Every save appends who, when and which settings changed to
    ``<.env>.changes.jsonl``; a secret appears there by name only.
    """
    path = path or env_path()
    secret_values = {k: v for k, v in (secret_values or {}).items() if v and v.strip()}
    for name in values:
        if name not in Settings.model_fields:
            raise InputError(f"unknown setting {name.upper()!r}")
        if is_secret(name):
            raise InputError(f"{name.upper()} is a secret: set it as one, it is never shown")
    for name in secret_values:
        if name not in Settings.model_fields or not is_secret(name):
            raise InputError(f"{name.upper()!r} is not a secret setting")
    before_text = path.read_text(encoding="utf-8") if path.is_file() else ""
    before = load_settings(_env_file=str(path)) if path.is_file() else load_settings(_env_file=None)
    updates: dict[str, str | None] = {
        n: (v.strip() if v is not None and v.strip() else None) for n, v in values.items()
    }
    updates |= {n: v.strip() for n, v in secret_values.items()}
    text = _rewrite(before_text, updates)
    after = _validated(text, path.parent)
    change = Change(
        changed={
            n: (shown(before, n), shown(after, n))
            for n in values
            if shown(before, n) != shown(after, n)
        },
        secrets_set=sorted(secret_values),
        overridden=[n for n in [*values, *secret_values] if n.upper() in os.environ],
    )
    if text != before_text:
        _write_atomic(path, text)
    if change.changed or change.secrets_set:
        _log(path, by, change)
    return change


def _log(path: Path, by: str, change: Change) -> None:
    entry: dict[str, Any] = {
        "at": utcnow().isoformat(),
        "by": by,
        "changed": {n.upper(): {"from": a, "to": b} for n, (a, b) in change.changed.items()},
        "secrets_set": [n.upper() for n in change.secrets_set],  # names only, never values
    }
    log = path.with_name(path.name + LOG_SUFFIX)
    with log.open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def history(path: Path | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The latest changes, newest first."""
    log = (path or env_path()).with_name((path or env_path()).name + LOG_SUFFIX)
    if not log.is_file():
        return []
    out = []
    for line in log.read_text(encoding="utf-8").splitlines()[-limit:]:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out[::-1]


__all__ = ["Change", "SettingsError", "editable", "history", "restart_note", "save", "secrets"]
