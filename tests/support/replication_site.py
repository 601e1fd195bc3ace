"""A real Airflow deployment for the Replication page and its API, with users of three roles.

SimpleAuthManager users: ``admin`` (Admin), ``viewer`` (Viewer: reads DAGs, not
connections) and ``editor`` (User: edits and runs DAGs, no connections); their passwords
are the ones SimpleAuthManager generated into the deployment's passwords file. The DAG
processor refreshes its files only every ``REFRESH_SECONDS``, so a rule whose DAG shows up
sooner was parsed because the API asked for it (``DagPriorityParsingRequest``).
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.support.airflow_deployment import Deployment, start_deployment
from tests.support.registries import RunningRegistry

REPO = Path(__file__).resolve().parents[2]
USERS = {"admin": "admin", "viewer": "viewer", "editor": "user"}
REFRESH_SECONDS = 600
CONN_TYPE = "regrep_docker_registry"


def regrep_plugin_registered() -> bool:
    """Whether the installed regrep registers its Airflow plugin through the entry point."""
    points = importlib.metadata.entry_points(group="airflow.plugins")
    return any(point.value.startswith("regrep.plugin") for point in points)


@dataclass
class ReplicationSite:
    """The deployment, its rules folder and its users' passwords."""

    deployment: Deployment
    rules: Path
    passwords: dict[str, str]

    @property
    def url(self) -> str:
        return self.deployment.url

    def token(self, user: str = "admin") -> str:
        """An Airflow token of ``user`` (``POST /auth/token``)."""
        answer = requests.post(
            f"{self.url}/auth/token",
            json={"username": user, "password": self.passwords[user]},
            timeout=30,
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def client(self, user: str | None = "admin") -> requests.Session:
        """A client of regrep's API as ``user`` (bearer token); None: no credentials."""
        session = requests.Session()
        if user is not None:
            session.headers["Authorization"] = f"Bearer {self.token(user)}"
        return session

    def api(self, path: str) -> str:
        """The URL of ``/regrep/api/<path>``."""
        return f"{self.url}/regrep/api/{path}"

    def connect(self, conn_id: str, registry: RunningRegistry | str, **extra: Any) -> None:
        """A registry endpoint, created as the Connections page creates it."""
        url = registry if isinstance(registry, str) else registry.url
        self.deployment.create_connection(conn_id, CONN_TYPE, url, extra or None)


@contextmanager
def replication_site(workdir: Path) -> Iterator[ReplicationSite]:
    """The deployment (see the module docstring) for the ``with`` block."""
    started = start_replication_site(workdir)
    try:
        yield started
    finally:
        started.deployment.stop()


def start_replication_site(workdir: Path, **extra_env: str) -> ReplicationSite:
    """Start the deployment (see the module docstring); the caller stops it."""
    rules, plugins = workdir / "rules", workdir / "plugins"
    rules.mkdir()
    plugins.mkdir()
    if not regrep_plugin_registered():
        (plugins / "regrep_plugin.py").write_text("from regrep.plugin import RegrepPlugin\n")
    deployment = start_deployment(
        workdir,
        executor="LocalExecutor",
        dags_folder=REPO / "dags",
        rules_dir=rules,
        extra_env={
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{user}:{role}" for user, role in USERS.items()
            ),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": str(REFRESH_SECONDS),
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(REFRESH_SECONDS),
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            **extra_env,
        },
    )
    passwords_file = Path(deployment.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    return ReplicationSite(deployment, rules, json.loads(passwords_file.read_text()))
