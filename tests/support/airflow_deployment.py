"""A real, distributed Airflow deployment on this machine, for end-to-end tests.

`start_deployment` runs what a production install runs, each as its own process: the API
server, the scheduler, the DAG processor, the triggerer and, for the CeleryExecutor, a Celery
worker (or several, each with its own name and queues: `CeleryWorker`). They share a fresh
PostgreSQL database on the machine's server (127.0.0.1:5432, user postgres) and, for Celery,
the machine's Redis under a key prefix of their own, so deployments of concurrent test runs
never see each other's tasks. Everything a deployment creates is named
``regrep_e2e_<pid>_<random>``; a later start drops what a dead test process left behind.

Tests then drive the deployment the way a user does, through the REST API v2 (`Deployment.api`
and the helpers on `Deployment`). When something fails, the tail of every component's log is
attached to the exception (and, through the deployment conftest, to the pytest report).
"""

from __future__ import annotations

import base64
import ctypes
import itertools
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack, closing, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import psycopg2
import redis
from celery import Celery

from regrep.airflow_api import AirflowApi, ApiError
from tests.support.layout import DAGS_FOLDER, PLUGINS_FOLDER, REPO
from tests.support.worker_hostname import HOSTNAME_CALLABLE, HOSTNAME_ENV

Executor = Literal["LocalExecutor", "CeleryExecutor"]
T = TypeVar("T")

AIRFLOW = Path(sys.executable).with_name("airflow")
POSTGRES_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/{database}"
REDIS_URL = "redis://127.0.0.1:6379/0"
# Databases and Redis keys are named regrep_e2e_<owner pid>_<random>, so leftovers of a test
# process that died without stopping its deployment can be recognised and removed.
NAME_PREFIX = "regrep_e2e_"
OWNER = re.compile(rf"^{NAME_PREFIX}(\d+)_")
ADMIN_USER = "admin"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
TERMINAL_RUN_STATES = frozenset({"success", "failed"})
HEALTH_COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")
# The Celery provider's worker logs every workload it runs (celery_executor_utils), e.g.
# "[<celery id>] Executing workload in Celery: ... ti=TaskInstanceDTO(id=UUID('<ti id>'), ..."
CELERY_WORKLOAD = re.compile(
    r"Executing workload in Celery: .*?\bti=\w+\(id=UUID\('([0-9a-f-]+)'\)"
)
# Airflow's plugin loaders (core and Task SDK) log these when a plugin fails or comes twice.
PLUGIN_PROBLEM = re.compile(r"Failed to import plugin|Failed to load plugin|already registered")


class DeploymentError(RuntimeError):
    """The deployment did not start, a component died, or a wait ran out of time."""


@dataclass(frozen=True)
class CeleryWorker:
    """One Celery worker process of a deployment: its name and the queues it consumes.

    ``name`` is also the host name its task instances record (Airflow's ``hostname`` of a
    task instance), which tells apart workers that all run on this one machine. No queues:
    Airflow's default queue (``[operators] default_queue``).
    """

    name: str
    queues: tuple[str, ...] = ()


@dataclass
class Component:
    """One Airflow process, leader of its own process group, logging to one file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


def start_deployment(
    workdir: Path,
    *,
    executor: Executor,
    dags_folder: Path = DAGS_FOLDER,
    plugins_folder: Path = PLUGINS_FOLDER,
    rules_dir: Path | None = None,
    connections: Mapping[str, Mapping[str, Any]] | None = None,
    extra_env: Mapping[str, str] | None = None,
    worker_concurrency: int = 4,
    celery_workers: Sequence[CeleryWorker] = (),
    startup_timeout: float = 240,
) -> Deployment:
    """Start a deployment in ``workdir`` and wait until every component reports healthy.

    Airflow's dags and plugins folders are the repository's ``dags/`` and ``plugins/`` unless
    given (`tests.support.layout`).
    ``connections`` maps a connection id to its ``AIRFLOW_CONN_<ID>`` JSON document;
    ``rules_dir`` becomes ``REGREP_RULES_DIR``; ``extra_env`` is applied last, so a test can
    override any setting (``AIRFLOW__CORE__PARALLELISM``...). The CeleryExecutor gets one
    worker, ``celery-worker``, on the default queue, unless ``celery_workers`` names them
    (components ``celery-worker-<name>``). Use the result as a context manager, or call
    `Deployment.stop`.
    """
    deployment = Deployment(workdir, executor)
    try:
        deployment.start(
            dags_folder=dags_folder,
            plugins_folder=plugins_folder,
            rules_dir=rules_dir,
            connections=connections or {},
            extra_env=extra_env or {},
            worker_concurrency=worker_concurrency,
            celery_workers=celery_workers,
            startup_timeout=startup_timeout,
        )
    except BaseException as error:
        error.add_note(deployment.log_tails())
        deployment.stop()
        raise
    return deployment


class Deployment:
    """A running deployment: its processes, database, Redis keys and a REST API client."""

    def __init__(self, workdir: Path, executor: Executor) -> None:
        self.workdir = workdir
        self.executor = executor
        self.name = f"{NAME_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
        self.home = workdir / "airflow_home"
        self.logs_dir = workdir / "logs"
        self.port = 0
        self.url = ""
        self.admin_password = ""
        self.env: dict[str, str] = {}
        self.worker_name = f"{self.name}@{socket.gethostname()}"
        self.celery_workers: list[CeleryWorker] = []
        self.components: list[Component] = []
        self._api: AirflowApi | None = None
        self._celery: Celery | None = None
        self._database_created = False
        self._stopped = False

    # --- lifecycle ---------------------------------------------------------------------------

    def start(
        self,
        *,
        dags_folder: Path,
        plugins_folder: Path,
        rules_dir: Path | None,
        connections: Mapping[str, Mapping[str, Any]],
        extra_env: Mapping[str, str],
        worker_concurrency: int,
        celery_workers: Sequence[CeleryWorker],
        startup_timeout: float,
    ) -> None:
        """Create the database, migrate it, start the components and wait for their health."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        _remove_leftovers()
        _admin_sql(f'CREATE DATABASE "{self.name}"')
        self._database_created = True

        self.port, log_server_port, trigger_log_port = _free_ports(3)
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_password = password = secrets.token_urlsafe(12)
        passwords_file = self.home / "simple_auth_manager_passwords.json"
        passwords_file.write_text(json.dumps({ADMIN_USER: password}))
        self.env = self._environment(
            dags_folder,
            plugins_folder,
            rules_dir,
            connections,
            passwords_file,
            log_server_port,
            trigger_log_port,
        )
        self.env.update(extra_env)
        # `source airflow.env` gives a developer the airflow CLI against a kept workdir.
        (self.workdir / "airflow.env").write_text(
            "".join(f"export {key}={shlex.quote(value)}\n" for key, value in self.env.items())
        )

        self.cli("db", "migrate", timeout=300)
        self._spawn("api-server", "api-server")
        self._spawn("scheduler", "scheduler")
        self._spawn("dag-processor", "dag-processor")
        self._spawn("triggerer", "triggerer")
        if self.executor == "CeleryExecutor":
            self._celery = Celery(broker=REDIS_URL)
            self._celery.conf.broker_transport_options = {"global_keyprefix": self.name}
            worker = ("celery", "worker", "--concurrency", str(worker_concurrency))
            quiet = ("--without-mingle", "--without-gossip")
            self.celery_workers = list(celery_workers)
            if not celery_workers:
                self._spawn("celery-worker", *worker, "--celery-hostname", self.worker_name, *quiet)
            for named in celery_workers:
                self._spawn(
                    f"celery-worker-{named.name}",
                    *worker,
                    "--celery-hostname",
                    self._celery_hostname(named),
                    *(("--queues", ",".join(named.queues)) if named.queues else ()),
                    # Logs are read where every worker writes them, the deployment's own
                    # folder; one log server per worker would want a port of its own.
                    "--skip-serve-logs",
                    *quiet,
                    env={
                        # Airflow names a task instance's host by [core] hostname_callable.
                        "AIRFLOW__CORE__HOSTNAME_CALLABLE": HOSTNAME_CALLABLE,
                        HOSTNAME_ENV: named.name,
                        "PYTHONPATH": str(REPO),
                    },
                )
        self._api = AirflowApi(self.url, ADMIN_USER, password)
        self._poll(
            "every component to report healthy", self._healthy, startup_timeout, self._health
        )

    def stop(self, grace: float = 20) -> None:
        """Stop every process (SIGTERM, then SIGKILL), drop the database, delete Redis keys.

        Whole process groups are signalled so uvicorn, Celery pool and task processes go too;
        task processes put themselves in their own group, so the process tree is also walked.
        """
        if self._stopped:
            return
        self._stopped = True
        if self._api is not None:
            self._api.close()
        if self._celery is not None:
            self._celery.close()
        _terminate([component.process for component in self.components], grace)
        if self._database_created:
            _admin_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        _delete_redis_keys(f"{self.name}*")

    def kill_worker(self, name: str) -> None:
        """SIGKILL the Celery worker ``name`` and every process it started, as if its host
        were lost: no task it ran can finish or report anything afterwards.

        The worker's process group is not enough: Airflow puts each task process in a group
        of its own. The tree is stopped (SIGSTOP) and listed again until no process is new,
        so nothing in it forks or exits while it is listed; then all of it is killed. (Listing
        after a kill would miss the task processes: orphaned, they belong to init by then.)
        """
        (component,) = [c for c in self.components if c.name == f"celery-worker-{name}"]
        self.components.remove(component)
        leader = component.process.pid
        with suppress(ProcessLookupError):
            os.killpg(leader, signal.SIGSTOP)
        tree: set[int] = set()
        while new := _descendants([leader]) - tree:
            for pid in new:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
            tree |= new
        with suppress(ProcessLookupError):
            os.killpg(leader, signal.SIGKILL)
        for pid in tree:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        component.process.wait()
        deadline = time.monotonic() + 10
        while survivors := sorted(pid for pid in tree if _running(pid)):
            if time.monotonic() > deadline:
                raise DeploymentError(f"worker {name}: processes {survivors} outlived SIGKILL")
            time.sleep(0.1)

    def __enter__(self) -> Deployment:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is not None:
            exc.add_note(self.log_tails())
        self.stop()

    # --- the REST API, as a user drives it ------------------------------------------------------

    @property
    def api(self) -> AirflowApi:
        if self._api is None:
            raise DeploymentError("the deployment has not started")
        return self._api

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """Wait until the DAG processor has parsed ``dag_id``; return the DAG's REST resource."""

        def parsed() -> dict[str, Any] | None:
            try:
                return dict(self.api.get(f"/api/v2/dags/{dag_id}"))
            except ApiError as error:
                if error.status == 404:
                    return None
                raise

        return self._poll(f"DAG {dag_id} to be parsed", parsed, timeout, self._import_errors)

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """Trigger a run now (no logical date, as the UI's button does); return its run id."""
        run = self.api.post(
            f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": dict(conf or {})}
        )
        return str(run["dag_run_id"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        """Wait until the run ends; return its final state ("success" or "failed")."""

        def finished() -> str | None:
            state = str(self.api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])
            return state if state in TERMINAL_RUN_STATES else None

        def task_states() -> str:
            rows = sorted(
                (ti["task_id"], ti["map_index"], ti["state"])
                for ti in self.task_instances(dag_id, run_id)
            )
            return "task instances: " + ", ".join(f"{t}[{i}]={s}" for t, i, s in rows)

        return self._poll(f"run {run_id} of {dag_id} to finish", finished, timeout, task_states)

    def create_connection(
        self, conn_id: str, conn_type: str, host: str, extra: Mapping[str, Any] | None = None
    ) -> None:
        """Create a connection through the REST API, as the Connections page does."""
        body = {"connection_id": conn_id, "conn_type": conn_type, "host": host}
        if extra:
            body["extra"] = json.dumps(dict(extra))
        self.api.post("/api/v2/connections", body)

    def client_env(self) -> dict[str, str]:
        """The environment a ``regrep`` command needs to reach this deployment's REST API."""
        return {
            "REGREP_API_URL": self.url,
            "REGREP_API_USER": ADMIN_USER,
            "REGREP_API_PASSWORD": self.admin_password,
        }

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run, mapped ones included (the API pages at 100)."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return list(self.api.paginate(path, "task_instances"))

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1, try_number: int = 1
    ) -> str:
        """A task attempt's log as text, one line per structured log entry."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        answer = self.api.get(path, map_index=map_index, full_content="true")
        return "\n".join(_render_log_entry(entry) for entry in answer["content"])

    # --- processes and their logs -------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 120) -> str:
        """Run one ``airflow`` command against this deployment; return its output."""
        log_path = self.logs_dir / f"cli-{args[0]}.log"
        done = subprocess.run(
            [str(AIRFLOW), *args],
            env=self.env,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
        output = done.stdout.decode(errors="replace")
        with log_path.open("a") as log:
            log.write(output)
        if done.returncode != 0:
            raise DeploymentError(f"airflow {' '.join(args)} failed:\n{_tail(output, 60)}")
        return output

    def worker_task_instance_ids(self) -> set[str]:
        """Ids of the task instances the Celery worker has run, read from the worker's log."""
        text = self.log_path("celery-worker").read_text(errors="replace")
        return set(CELERY_WORKLOAD.findall(text))

    def log_path(self, component: str) -> Path:
        return self.logs_dir / f"{component}.log"

    def plugin_problems(self) -> list[str]:
        """The lines of every component's and task's log where Airflow's plugin loader failed
        to import a plugin or refused one whose name was already registered."""
        paths = [*sorted(self.logs_dir.glob("*.log")), *sorted(self.home.glob("logs/**/*.log"))]
        return [
            f"{path.name}: {line}"
            for path in paths
            for line in path.read_text(errors="replace").splitlines()
            if PLUGIN_PROBLEM.search(line)
        ]

    def log_tails(self, lines: int = 60, task_logs: int = 10) -> str:
        """What a failing CI run needs to show: the last lines of every component's log, and
        of up to ``task_logs`` task and DAG-parsing logs that recorded an error."""
        parts = [f"Airflow deployment {self.name} ({self.workdir}):"]
        for path in sorted(self.logs_dir.glob("*.log")):
            text = path.read_text(errors="replace")
            parts.append(f"==== {path.name} (last {lines} lines) ====\n{_tail(text, lines)}")
        erroneous = (
            (path, text)
            for path in sorted(self.home.glob("logs/**/*.log"))
            if '"level":"error"' in (text := path.read_text(errors="replace"))
        )
        for path, text in itertools.islice(erroneous, task_logs):
            name = path.relative_to(self.home)
            parts.append(f"==== {name} (last {lines} lines) ====\n{_tail(text, lines)}")
        return "\n".join(parts)

    def _spawn(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> None:
        log_path = self.log_path(name)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [str(AIRFLOW), *args],
                env={**self.env, **(env or {})},
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.components.append(Component(name, process, log_path))

    def _check_alive(self) -> None:
        for component in self.components:
            code = component.process.poll()
            if code is not None:
                tail = _tail(component.log_path.read_text(errors="replace"), 40)
                raise DeploymentError(f"{component.name} exited with code {code}:\n{tail}")

    def _healthy(self) -> Literal[True] | None:
        """True once the API answers and every component heartbeats; None while not yet."""
        try:
            health = self.api.get("/api/v2/monitor/health")
        except (ApiError, OSError):
            return None
        if any(health[part]["status"] != "healthy" for part in HEALTH_COMPONENTS):
            return None
        if self._celery is not None:
            names = [self._celery_hostname(w) for w in self.celery_workers] or [self.worker_name]
            answered = self._celery.control.ping(destination=names, timeout=1.0)
            if {name for reply in answered for name in reply} != set(names):
                return None
        return True

    def _celery_hostname(self, worker: CeleryWorker) -> str:
        return f"{worker.name}.{self.name}@{socket.gethostname()}"

    def _health(self) -> str:
        """What the API server last said about health, for a startup timeout's message."""
        try:
            return "health: " + json.dumps(self.api.get("/api/v2/monitor/health"))
        except (ApiError, OSError) as error:
            return f"health: {error}"

    def _import_errors(self) -> str:
        errors = self.api.get("/api/v2/importErrors")["import_errors"]
        return "import errors: " + json.dumps(errors, indent=1) if errors else "no import errors"

    def _poll(
        self,
        what: str,
        check: Callable[[], T | None],
        timeout: float,
        explain: Callable[[], str] | None = None,
    ) -> T:
        """Call ``check`` until it returns a value, failing fast if a component died."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            result = check()
            if result is not None:
                return result
            if time.monotonic() > deadline:
                detail = f"; {explain()}" if explain is not None else ""
                raise DeploymentError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
            time.sleep(1)

    def _environment(
        self,
        dags_folder: Path,
        plugins_folder: Path,
        rules_dir: Path | None,
        connections: Mapping[str, Mapping[str, Any]],
        passwords_file: Path,
        log_server_port: int,
        trigger_log_port: int,
    ) -> dict[str, str]:
        """Every setting as an environment variable: one place, inherited by every process."""
        # Start from the test process's environment minus its own Airflow/regrep settings,
        # which belong to whatever in-process Airflow the unit tests configured.
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AIRFLOW", "REGREP_"))
        }
        env.update(
            {
                "PATH": f"{AIRFLOW.parent}{os.pathsep}{env.get('PATH', '')}",
                "PYTHONUNBUFFERED": "1",
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
                # Task processes report to the execution API at this URL; its default assumes
                # port 8080 and tasks fail with "connection refused" on any other port.
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
                # SimpleAuthManager keeps a password it finds in this file instead of generating
                # one, so the test knows the admin password before the API server starts.
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": POSTGRES_URL.format(database=self.name),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": _async_database_url(self.name),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                # Rule files are read by the DAG file: a new rule is noticed when the unchanged
                # DAG file is parsed again, which min_file_process_interval paces.
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_server_port),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_log_port),
                "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
            }
        )
        if self.executor == "CeleryExecutor":
            env.update(
                {
                    "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
                    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": self.name,
                    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "3600",
                }
            )
        if rules_dir is not None:
            env["REGREP_RULES_DIR"] = str(rules_dir)
        for conn_id, document in connections.items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(dict(document))
        return env


# --- machine resources: PostgreSQL, Redis, ports, processes -------------------------------------


def _async_database_url(database: str) -> str:
    """Airflow 3 also opens PostgreSQL through an async engine, which needs asyncpg."""
    return POSTGRES_URL.format(database=database).replace("+psycopg2", "+asyncpg")


def _admin_sql(statement: str) -> list[tuple[Any, ...]]:
    """Run one statement as postgres outside a transaction (CREATE/DROP DATABASE need that)."""
    with closing(psycopg2.connect(POSTGRES_ADMIN_DSN)) as connection:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return list(cursor.fetchall()) if cursor.description else []


def _owner_is_dead(name: str) -> bool:
    match = OWNER.match(name)
    if match is None:
        return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _remove_leftovers() -> None:
    """Drop databases and Redis keys whose owning test process no longer exists."""
    rows = _admin_sql(f"SELECT datname FROM pg_database WHERE datname LIKE '{NAME_PREFIX}%'")
    for (database,) in rows:
        if _owner_is_dead(database):
            _admin_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    with closing(redis.Redis.from_url(REDIS_URL)) as client:
        stale = [
            key
            for key in client.scan_iter(match=f"{NAME_PREFIX}*", count=1000)
            if _owner_is_dead(key.decode(errors="replace"))
        ]
        if stale:
            client.delete(*stale)


def _delete_redis_keys(pattern: str) -> None:
    with closing(redis.Redis.from_url(REDIS_URL)) as client:
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)


def _die_with_parent() -> None:
    """Run in each component before exec: SIGTERM it if the test process dies unannounced.

    Without this a killed pytest leaves a scheduler and a worker running on a 2-core machine.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def _free_ports(count: int) -> list[int]:
    """Distinct loopback ports that were free a moment ago (held open together while chosen)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def _descendants(pids: list[int]) -> set[int]:
    """Every live descendant of ``pids``, from /proc (the pids themselves excluded)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    pending = list(pids)
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _terminate(processes: list[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM each process group, SIGKILL what is left after ``grace`` seconds, then reap."""
    leaders = [process.pid for process in processes]
    tree = _descendants(leaders)
    for pid in leaders:
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.poll() is None for p in processes):
        time.sleep(0.2)
    tree |= _descendants(leaders)
    for pid in leaders:
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    for pid in tree:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for process in processes:
        process.wait()


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _render_log_entry(entry: Mapping[str, Any]) -> str:
    """One structured task log entry as a line: time, level, message, then its other fields."""
    fields = {k: v for k, v in entry.items() if k not in ("timestamp", "level", "event")}
    head = " ".join(str(entry[k]) for k in ("timestamp", "level", "event") if entry.get(k))
    return f"{head} {json.dumps(fields, default=str)}" if fields else head
