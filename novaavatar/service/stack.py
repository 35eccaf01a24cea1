"""``make up`` / ``make down``: the whole local stack on 127.0.0.1.

``up`` starts (or reuses) a Prefect server with its SQLite database under ``.prefect/``,
creates the ``cpu`` and ``gpu`` work pools, deploys everything in ``prefect.yaml``, starts
one worker per pool, the review page and the REST API, triggers a first scrape and prints
the URLs.
Every process it starts has a pid file in ``.prefect/pids/`` and a log in ``.prefect/logs/``;
``down`` stops exactly those processes. Running ``up`` twice reuses what is running.

    python -m novaavatar.service.stack up [--port 4200] [--review-port 8501]
        [--api-port 8000] [--no-scrape]
    python -m novaavatar.service.stack down
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from novaavatar.settings import PROJECT_ROOT, Settings, load_settings

POOLS = ("cpu", "gpu")
SCRAPE_DEPLOYMENT = "scrape-content/default"
REVIEW_APP = Path("review_app/app.py")
# Settings of every Prefect server we start (the stack's and the temporary one).
SERVER_ENV = {
    # leases survive a server restart: with the default (memory) a slot whose holder died
    # while the server was down stays taken forever
    "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": (
        "prefect.server.concurrency.lease_storage.filesystem"
    ),
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "5",  # expired leases freed within 5 s
    # a render waiting for a slot asks again after 2 s, not Prefect's 10: a short video
    # renders in a few seconds, so 10 s waits left the renderer idle most of a batch
    "PREFECT_SERVER_TASKS_TAG_CONCURRENCY_SLOT_WAIT_SECONDS": "2",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}
API_APP = "api.app:create_app"
HEARTBEAT_S = 30  # PREFECT_FLOWS_HEARTBEAT_FREQUENCY of the flow runs our workers start (min 30)


class StackError(RuntimeError):
    """A part of the stack could not be started; the message says which log to read."""


@functools.cache
def _loopback() -> httpx.Client:
    """One client for the health checks: ``httpx.get`` builds a TLS context (reading the CA
    bundle) on every call, which a 0.2 s poll while a server starts pays fifty times over.
    No kept-alive connections: a server restarted on the same port answers the next check."""
    return httpx.Client(timeout=2, limits=httpx.Limits(max_keepalive_connections=0))


def server_healthy(api_url: str) -> bool:
    """Whether the Prefect server at ``api_url`` answers its health check."""
    try:
        return _loopback().get(f"{api_url}/health").status_code == 200
    except httpx.HTTPError:
        return False


@dataclass(frozen=True)
class Component:
    """One long-running process of the stack."""

    name: str  # pid file and log file name
    argv: tuple[str, ...]
    marker: str  # a piece of its command line, to tell it from a recycled pid


@dataclass
class Stack:
    """Where the stack lives and how its processes are configured."""

    root: Path = PROJECT_ROOT
    home: Path = PROJECT_ROOT / ".prefect"  # PREFECT_HOME: database, pids, logs
    host: str = "127.0.0.1"
    port: int = 4200
    review_port: int = 8501
    api_port: int | None = None  # None: API_PORT
    ui: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)  # for every process it starts
    settings: Settings = field(default_factory=load_settings)

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def review_url(self) -> str:
        return f"http://{self.host}:{self.review_port}"

    @property
    def rest_api_port(self) -> int:
        return self.api_port or self.settings.api_port

    @property
    def rest_api_url(self) -> str:
        return f"http://{self.host}:{self.rest_api_port}"

    @property
    def pid_dir(self) -> Path:
        return self.home / "pids"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    # --- processes ------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The environment of every process the stack starts."""
        env = dict(os.environ)
        env.update(
            PREFECT_HOME=str(self.home),
            PREFECT_API_URL=self.api_url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_UI_ENABLED=str(self.ui).lower(),
            PREFECT_UI_ENABLED=str(self.ui).lower(),
            PREFECT_CLI_PROMPT="false",
            NOVAAVATAR_HOME=str(self.root),  # the pull step's working directory
            STORAGE_PATH=str(self.settings.storage_path.resolve()),
            SCRAPE_CRON=self.settings.scrape_cron,
            SCRAPE_TIMEZONE=self.settings.scrape_timezone,
            PYTHONUNBUFFERED="1",
        )
        # workers look for new runs every 2 s instead of 10 s: a video waits less to start
        env.setdefault("PREFECT_WORKER_QUERY_SECONDS", "2")
        # flow runs send a heartbeat this often; the zombie automation crashes the silent ones
        env.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", str(HEARTBEAT_S))
        # prefect.yaml's auto-export automation: `enabled: "{{ $AUTO_EXPORT }}"` at deploy
        env["AUTO_EXPORT"] = str(self.settings.auto_export).lower()
        for key, value in SERVER_ENV.items():  # leases on disk: a dead holder's slot comes back
            env.setdefault(key, value)
        env.update(self.extra_env)
        return env

    def prefect(self, *args: str) -> tuple[str, ...]:
        exe = Path(sys.executable).with_name("prefect")
        return (str(exe), *args) if exe.exists() else (sys.executable, "-m", "prefect", *args)

    def components(self) -> list[Component]:
        s = self.settings
        gpu_limit = s.gpu_concurrency
        server = Component(
            "server",
            self.prefect(
                "server", "start", "--host", self.host, "--port", str(self.port), "--analytics-off"
            ),
            "server start",
        )
        workers = [
            Component(
                f"worker-{pool}",
                self.prefect(
                    "worker",
                    "start",
                    "--pool",
                    pool,
                    "--type",
                    "process",
                    "--name",
                    f"{pool}-{os.uname().nodename}",
                    "--limit",
                    str(gpu_limit if pool == "gpu" else s.max_concurrent_jobs),
                ),
                f"--pool {pool}",
            )
            for pool in POOLS
        ]
        review = Component(
            "review", review_page_command(self.review_port, self.host), "streamlit run"
        )
        rest_api = Component(
            "api",
            (
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                API_APP,
                "--host",
                self.host,
                "--port",
                str(self.rest_api_port),
                "--no-server-header",
            ),
            API_APP,
        )
        return [server, *workers, review, rest_api]

    def component(self, name: str) -> Component:
        return next(c for c in self.components() if c.name == name)

    def running_pid(self, c: Component) -> int | None:
        """The pid of ``c`` when its pid file names a live process that is still ``c``."""
        pid_file = self.pid_dir / f"{c.name}.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if _is_alive(pid) and c.marker in _command_line(pid):
            return pid
        pid_file.unlink(missing_ok=True)  # stale: the process is gone or the pid was reused
        return None

    def start(self, c: Component) -> int:
        """Start ``c`` in its own session (so ``down`` can stop its children too), or reuse it."""
        if (pid := self.running_pid(c)) is not None:
            return pid
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{c.name}.log", "ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(c.argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                c.argv,
                cwd=self.root,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (self.pid_dir / f"{c.name}.pid").write_text(f"{proc.pid}\n")
        return proc.pid

    def stop(self, c: Component, grace_s: float = 20) -> bool:
        """Stop ``c`` and its children (SIGTERM, then SIGKILL after ``grace_s``)."""
        pid = self.running_pid(c)
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while _is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        _signal_group(pid, signal.SIGKILL)  # leftovers of the group, e.g. a flow run subprocess
        (self.pid_dir / f"{c.name}.pid").unlink(missing_ok=True)
        return True

    # --- server ---------------------------------------------------------------------------

    def healthy(self) -> bool:
        return server_healthy(self.api_url)

    def ui_ready(self) -> bool:
        try:
            # the UI answers a page's URL with its index.html only to a browser's navigation
            r = _loopback().get(f"{self.ui_url}/deployments", headers={"accept": "text/html"})
        except httpx.HTTPError:
            return False
        return r.status_code == 200 and "<html" in r.text.lower()

    def ensure_server(self, timeout_s: float = 180) -> None:
        """Reuse a healthy server on the port, else start one and wait for its health."""
        if self.healthy():
            return
        server = self.component("server")
        pid = self.start(server)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.healthy():
                return
            if not _is_alive(pid):
                raise StackError(
                    f"the Prefect server exited at start (is port {self.port} in use?): "
                    f"see {self.log_dir / 'server.log'}"
                )
            time.sleep(0.5)
        raise StackError(f"the Prefect server did not answer within {timeout_s:.0f} s")

    @contextlib.contextmanager
    def client(self) -> Iterator[Any]:
        """A Prefect client for this stack's server, whatever the caller's profile says."""
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with (
            temporary_settings(updates={PREFECT_API_URL: self.api_url}),
            get_client(sync_client=True) as client,
        ):
            yield client

    # --- pools, deployments, runs --------------------------------------------------------

    def ensure_pools(self) -> None:
        """Create the process pools ``cpu`` and ``gpu``; the gpu pool's concurrency limit is
        GPU_CONCURRENCY (default 1), so a GPU never gets two renders at once."""
        from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
        from prefect.exceptions import ObjectNotFound
        from prefect.workers.process import ProcessWorker

        gpu_limit = self.settings.gpu_concurrency
        with self.client() as client:
            for pool in POOLS:
                limit = gpu_limit if pool == "gpu" else None
                try:
                    current = client.read_work_pool(pool)
                except ObjectNotFound:
                    client.create_work_pool(
                        WorkPoolCreate(
                            name=pool,
                            type="process",
                            base_job_template=ProcessWorker.get_default_base_job_template(),
                            concurrency_limit=limit,
                            description=f"NovaAvatar {pool} work (process workers)",
                        )
                    )
                    continue
                if current.concurrency_limit != limit:
                    client.update_work_pool(pool, WorkPoolUpdate(concurrency_limit=limit))

    def _only_local(self, client: Any, pools: frozenset[str]) -> frozenset[str]:
        """The pools among ``pools`` that no worker of another machine serves (a run there
        may be alive elsewhere; heartbeats and lease TTLs cover those)."""
        suffix = f"-{os.uname().nodename}"
        local = set()
        for pool in pools:
            try:
                workers = client.read_workers_for_work_pool(pool)
            except Exception:  # no such pool yet: nothing ran there
                continue
            if all(w.name.endswith(suffix) for w in workers):
                local.add(pool)
        return frozenset(local)

    def results_storage(self) -> str:
        """Save the block under STORAGE_PATH that flow and task results go to, so a produce
        run on the cpu pool reads what the render-avatar run on the gpu pool returned."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from flows.produce import with_results

        with temporary_settings(updates={PREFECT_API_URL: self.api_url}):
            return str(with_results(self.settings)["result_storage"])

    def deploy(self, timeout_s: float = 300) -> None:
        """``prefect deploy --all`` from ``prefect.yaml``: creates or updates every deployment."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / "deploy.log"
        argv = self.prefect("--no-prompt", "deploy", "--all", "--prefect-file", "prefect.yaml")
        with open(log_path, "wb") as log:
            done = subprocess.run(
                argv,
                cwd=self.root,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=timeout_s,
                check=False,
            )
        if done.returncode != 0:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise StackError(f"prefect deploy failed (see {log_path}):\n{tail}")

    def first_scrape(self) -> str | None:
        """Run the scrape deployment now unless a scrape completed or one is under way (asked
        for, pending or running; the sweep crashed those of dead workers first); returns the
        new flow run id. A scrape that crashed or failed does not count: Sources would stay
        empty until the next scheduled one."""
        from prefect.client.schemas.filters import (
            DeploymentFilter,
            DeploymentFilterId,
            FlowRunFilter,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType

        under_way = [StateType.PENDING, StateType.RUNNING, StateType.SCHEDULED]
        with self.client() as client:
            dep = client.read_deployment_by_name(SCRAPE_DEPLOYMENT)
            ran = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.COMPLETED, *under_way])
                    )
                ),
                limit=50,
            )
            # the cron schedule's future runs are not a scrape under way
            if any(r.auto_scheduled is not True for r in ran):
                return None
            run = client.create_flow_run_from_deployment(dep.id, name="first scrape")
            return str(run.id)

    def ensure_zombie_automation(self) -> None:
        """Install the automation that crashes flow runs whose heartbeats stopped."""
        from novaavatar.sweep import ensure_zombie_automation

        beat = int(self.env().get("PREFECT_FLOWS_HEARTBEAT_FREQUENCY") or HEARTBEAT_S)
        within = self.settings.zombie_after_s
        if within <= beat:
            raise StackError(
                f"ZOMBIE_AFTER_S={within} must be longer than the heartbeat interval "
                f"(PREFECT_FLOWS_HEARTBEAT_FREQUENCY={beat}), or healthy runs would be crashed"
            )
        with self.client() as client:
            ensure_zombie_automation(client, within)

    # --- up / down ------------------------------------------------------------------------

    def up(
        self,
        *,
        scrape: bool = True,
        review: bool = True,
        api: bool | None = None,
        echo: Any = print,
    ) -> None:
        """Start what is not running yet; ``api`` (the REST API) defaults to ``review``: the
        services people and integrations call start together."""
        t0 = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        echo(f"Prefect server  {self.ui_url}  (PREFECT_HOME={self.home})")
        self.ensure_server()
        echo(f"  healthy after {time.monotonic() - t0:.1f} s")
        self.ensure_pools()
        # pools whose worker is not running: what it had picked up lost its process with it
        dead_pools = frozenset(
            c.name.removeprefix("worker-")
            for c in self.components()
            if c.name.startswith("worker-") and self.running_pid(c) is None
        )
        with self.client() as client:  # runs of processes that died since the last `up`
            from novaavatar.sweep import sweep
            from tasks.common import RENDER_TAG

            report = sweep(client, RENDER_TAG, self._only_local(client, dead_pools))
        self.ensure_zombie_automation()
        if report.crashed_flow_runs or report.released_slots:
            echo(
                f"  {len(report.crashed_flow_runs)} run(s) of dead processes marked Crashed, "
                f"{report.released_slots} render slot(s) given back"
            )
        results = self.results_storage()
        self.extra_env.setdefault("PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK", results)
        echo("work pools     cpu, gpu; deploying prefect.yaml ...")
        self.deploy()
        for c in self.components():
            if c.name.startswith("worker-"):
                echo(f"{c.name:14} pid {self.start(c)}")
        if review and (self.root / REVIEW_APP).exists():
            echo(f"review page    pid {self.start(self.component('review'))}")
        if review if api is None else api:
            echo(f"REST API       pid {self.start(self.component('api'))}")
            if not self.settings.api_tokens:
                echo("  (it refuses every request until API_TOKENS is set)")
        if scrape and (run_id := self.first_scrape()):
            echo(f"first scrape   flow run {run_id}")
        echo(f"ready in {time.monotonic() - t0:.1f} s")

    def down(self, echo: Any = print) -> list[str]:
        stopped = []
        for c in reversed(self.components()):
            if self.stop(c):
                stopped.append(c.name)
                echo(f"stopped {c.name}")
        if not stopped:
            echo("nothing was running")
        return stopped

    def urls(self) -> dict[str, str]:
        out = {
            "Prefect UI": self.ui_url,
            "deployments": f"{self.ui_url}/deployments",
            "Prefect API": self.api_url,
        }
        if self.running_pid(self.component("review")) is not None:
            out["review page"] = self.review_url
        if self.running_pid(self.component("api")) is not None:
            out["REST API"] = f"{self.rest_api_url}/docs"
        return out


def running_api_url(home: Path = PROJECT_ROOT / ".prefect", port: int = 4200) -> str | None:
    """The API of the stack ``make up`` started under ``home``, when it is running."""
    stack = Stack(home=home, port=port)
    if stack.running_pid(stack.component("server")) is None:
        return None
    return stack.api_url


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    # a zombie child of ours (exited, not yet reaped) is not alive
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        with contextlib.suppress(OSError, IndexError):
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _command_line(pid: int) -> str:
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.exists():
        with contextlib.suppress(OSError):
            return proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    done = subprocess.run(
        ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return done.stdout


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group ``start`` created (the process and what it spawned)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)
PortOpt = Annotated[int, typer.Option(help="Prefect server port on 127.0.0.1.")]
HomeOpt = Annotated[
    Path, typer.Option(help="PREFECT_HOME of the stack: database, pid files, logs.")
]


@app.command()
def up(
    port: PortOpt = 4200,
    review_port: Annotated[int, typer.Option(help="Review page port.")] = 8501,
    api_port: Annotated[int | None, typer.Option(help="REST API port (default API_PORT).")] = None,
    scrape: Annotated[bool, typer.Option(help="Trigger a first scrape.")] = True,
    home: HomeOpt = PROJECT_ROOT / ".prefect",
) -> None:
    """Start (or reuse) the server, pools, deployments, workers and review page."""
    stack = Stack(home=home.resolve(), port=port, review_port=review_port, api_port=api_port)
    try:
        stack.up(scrape=scrape, echo=typer.echo)
    except (StackError, subprocess.TimeoutExpired) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    typer.echo("")
    for name, url in stack.urls().items():
        typer.echo(f"  {name:12} {url}")
    typer.echo(f"  {'logs':12} {stack.log_dir}")
    typer.echo("\nStop everything with `make down`.")


@app.command()
def down(port: PortOpt = 4200, home: HomeOpt = PROJECT_ROOT / ".prefect") -> None:
    """Stop every process `up` started (by pid file)."""
    Stack(home=home.resolve(), port=port).down(echo=typer.echo)


def main(argv: Sequence[str] | None = None) -> None:
    app(args=list(argv) if argv is not None else None)


if __name__ == "__main__":
    main()


def review_page_command(port: int = 8501, address: str = "127.0.0.1") -> tuple[str, ...]:
    """The review page's own launcher (``python -m review_app``), which becomes
    ``streamlit run``; started as a process, so this floor imports nothing of the page."""
    return (sys.executable, "-m", "review_app", "--port", str(port), "--address", address)
