"""Real Airflow for the DAG tests: a throw-away ``AIRFLOW_HOME`` with SQLite.

Airflow's dags and plugins folders are the repository's ``dags/`` and ``plugins/``, as in
Airflow's own docker-compose (`tests.support.layout`). Airflow reads its configuration once,
when it is first imported, so the environment is set here at import time, before any test
module of this directory imports Airflow; the database is created once per session. Each
test gets its own rules directory (``REGREP_RULES_DIR``) and its connections as
``AIRFLOW_CONN_*`` JSON.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.airflow.dagruns import (
    Connect,
    WriteRule,
    connection_json,
    rule_yaml,
)
from tests.support.layout import DAGS_FOLDER, PLUGINS_FOLDER
from tests.support.registries import RunningRegistry

if "airflow.settings" in sys.modules:
    raise pytest.UsageError(
        "Airflow was imported before tests/integration/airflow/conftest.py could point it at "
        "a test AIRFLOW_HOME; run these tests in a process where nothing imports it earlier"
    )

_HOME = tempfile.mkdtemp(prefix="regrep-airflow-home-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
os.environ.update(
    {
        "AIRFLOW_HOME": _HOME,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME}/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
    }
)


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> None:
    """Create the metadata database once (SQLite in the session's AIRFLOW_HOME)."""
    from airflow.utils.db import initdb

    initdb()


@pytest.fixture
def rules_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty rules directory that the DAG file reads (``REGREP_RULES_DIR``)."""
    directory = tmp_path / "rules"
    directory.mkdir()
    monkeypatch.setenv("REGREP_RULES_DIR", str(directory))
    return directory


@pytest.fixture
def write_rule(rules_dir: Path) -> WriteRule:
    """Write ``<file or name>.yaml`` into the rules directory from keyword fields."""

    def write(name: str, *, file: str | None = None, **fields: object) -> Path:
        path = rules_dir / f"{file or name}.yaml"
        path.write_text(rule_yaml(name, **fields))
        return path

    return write


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch) -> Connect:
    """Define a ``regrep_docker_registry`` connection for a running registry."""

    def define(
        conn_id: str,
        registry: RunningRegistry,
        *,
        login: str | None = None,
        password: str | None = None,
        **extra: object,
    ) -> None:
        document = connection_json(registry, login=login, password=password, **extra)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", document)

    return define


@pytest.fixture
def parsing_context(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Pretend Airflow parses the DAG file to run a task of the given DAG."""

    def set_dag(dag_id: str) -> None:
        monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", dag_id)

    return set_dag
