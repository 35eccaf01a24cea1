"""Which Prefect API a command or the REST API talks to, and the temporary server behind it.

In order: ``PREFECT_API_URL`` when set; the server ``make up`` started when it runs; else one
temporary server for this process (started once, shared by its threads), on a free loopback
port, with its database in ``PREFECT_HOME`` so migrations run once per home, not per command.

The temporary server dies with the process that started it: it stays in that process's
group (``kill -9 -PGID`` takes it along) and on Linux gets SIGKILL when its parent dies
(``PR_SET_PDEATHSIG``). Every server we start keeps concurrency leases on disk, so a slot
held by a run that died is found again and freed when its lease expires.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from novaavatar.errors import NovaAvatarError
from novaavatar.service.stack import SERVER_ENV, server_healthy

_PR_SET_PDEATHSIG = 1
T = TypeVar("T")


class PrefectServerError(NovaAvatarError):
    """The temporary Prefect server did not start; the message names its log."""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TemporaryServer:
    """One Prefect API server (uvicorn, every service on) on 127.0.0.1 for this process."""

    def __init__(self, home: Path, timeout_s: float = 180) -> None:
        self.home = Path(home)
        self.timeout_s = timeout_s
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._healthy = False

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def log_path(self) -> Path:
        return self.home / "logs" / "temporary-server.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env.update(SERVER_ENV, PREFECT_HOME=str(self.home), PREFECT_UI_ENABLED="false")
        return env

    def _spawn(self) -> None:
        """Start uvicorn; runs in an owner thread that lives as long as this process, because
        the parent-death signal fires when the *thread* that forked the child ends."""
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.port = _free_port()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "--factory",
                        "prefect.server.api.server:create_app",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(self.port),
                        "--log-level",
                        "warning",
                        "--lifespan",
                        "on",
                    ],
                    env=self.env(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
        except BaseException as e:  # reported by start()
            self._error = e
        finally:
            self._started.set()
        if self.proc is not None:
            self.proc.wait()

    def healthy_once(self) -> bool:
        """Started and answered its health check (without asking again)."""
        return self._healthy and self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        return server_healthy(self.api_url)

    def start(self) -> str:
        """Start the server and wait for its health; returns its API URL."""
        self.home.mkdir(parents=True, exist_ok=True)
        # one start at a time per home: the first one creates the database, the rest reuse it
        with _home_lock(self.home):
            threading.Thread(target=self._spawn, name="prefect-server", daemon=True).start()
            self._started.wait()
            if self._error is not None or self.proc is None:
                raise PrefectServerError(f"could not start a Prefect server: {self._error}")
            atexit.register(self.stop)
            deadline = time.monotonic() + self.timeout_s
            while time.monotonic() < deadline:
                proc = self.proc  # stop() from another thread (exit) sets it to None
                if proc is None or proc.poll() is not None:
                    code = proc.returncode if proc is not None else "stopped"
                    raise PrefectServerError(
                        f"the temporary Prefect server exited ({code}): see {self.log_path}"
                    )
                if self.healthy():
                    self._healthy = True
                    return self.api_url
                time.sleep(0.2)
        self.stop()
        raise PrefectServerError(
            f"the temporary Prefect server did not answer within {self.timeout_s:.0f} s "
            f"(PREFECT_SERVER_START_TIMEOUT; or run `make up` once): see {self.log_path}"
        )

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def _home_lock(home: Path) -> Iterator[None]:
    import fcntl

    with open(home / ".server-start.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


_lock = threading.Lock()
_server: TemporaryServer | None = None


def prefect_home() -> Path:
    from novaavatar.settings import PROJECT_ROOT

    return Path(os.environ.get("PREFECT_HOME") or PROJECT_ROOT / ".prefect").expanduser()


def ensure_api_url(timeout_s: float | None = None) -> str:
    """The Prefect API this process uses; starts the temporary server at most once, however
    many threads ask at the same time (the API's jobs)."""
    global _server
    with _lock:
        if _server is not None and _server.proc is not None and _server.proc.poll() is None:
            return _server.api_url
        if url := os.environ.get("PREFECT_API_URL"):
            return url
        from prefect.settings import PREFECT_API_URL

        if url := PREFECT_API_URL.value():  # a profile or an enclosing temporary_settings
            return str(url)
        from novaavatar.service.stack import running_api_url

        home = prefect_home()
        if url := running_api_url(home):
            os.environ["PREFECT_API_URL"] = url  # deployments of `make up` are used too
            return url
        if timeout_s is None:
            from novaavatar.settings import get_settings

            timeout_s = get_settings().prefect_server_start_timeout
        _server = TemporaryServer(home, timeout_s)
        try:
            return _server.start()
        except BaseException:
            _server = None
            raise


def call_with_prefect_api(call: Callable[[], T]) -> T:
    """``call()`` inside :func:`using_prefect_api` (for a job's thread)."""
    with using_prefect_api():
        return call()


def known_api_url() -> str | None:
    """The Prefect API this process already uses, without starting one: its temporary
    server, ``PREFECT_API_URL``, or Prefect's settings (a profile, ``temporary_settings``)."""
    server = _server  # no lock: the API's event loop must not wait for a server to start
    if server is not None and server.proc is not None and server.healthy_once():
        return server.api_url
    if url := os.environ.get("PREFECT_API_URL"):
        return url
    from prefect.settings import PREFECT_API_URL

    return str(url) if (url := PREFECT_API_URL.value()) else None


def read_client() -> Any:
    """An async Prefect client for reads on :func:`known_api_url`; never starts a server (a
    process without one has no runs to read: :class:`PrefectServerError`)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = known_api_url()
    if url is None:
        raise PrefectServerError("no Prefect server in this process yet")
    with temporary_settings(updates={PREFECT_API_URL: url}):
        return get_client()


def stop_temporary_server() -> None:
    """Stop this process's temporary server, if it started one (tests; atexit does it too)."""
    global _server
    with _lock:
        if _server is not None:
            _server.stop()
        _server = None


@contextlib.contextmanager
def using_prefect_api(timeout_s: float | None = None) -> Iterator[str]:
    """Run the body against :func:`ensure_api_url`'s server, whatever Prefect read at import."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = ensure_api_url(timeout_s)
    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield url
