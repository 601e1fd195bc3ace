"""Run regrep's DAGs for real with ``dag.test()`` and read back what Airflow recorded.

Airflow is imported inside the functions: the conftest must configure it first.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from tests.support.layout import DAGS_FOLDER
from tests.support.registries import RunningRegistry

if TYPE_CHECKING:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.dagrun import DagRun
    from airflow.sdk import DAG


class WriteRule(Protocol):
    def __call__(self, name: str, *, file: str | None = None, **fields: object) -> Path: ...


class Connect(Protocol):
    def __call__(
        self,
        conn_id: str,
        registry: RunningRegistry,
        *,
        login: str | None = None,
        password: str | None = None,
        **extra: object,
    ) -> None: ...


def rule_yaml(name: str, **fields: object) -> str:
    """A rule file's text."""
    return yaml.safe_dump({"name": name, **fields}, sort_keys=False)


def connection_json(
    registry: RunningRegistry, *, login: str | None, password: str | None, **extra: object
) -> str:
    """An ``AIRFLOW_CONN_*`` JSON document for ``registry``; its own user unless given."""
    document: dict[str, Any] = {
        "conn_type": "regrep_docker_registry",
        "host": registry.url,
        "login": registry.username if login is None else login,
        "password": registry.password if password is None else password,
    }
    if registry.ca_cert is not None:
        extra.setdefault("ca_bundle", str(registry.ca_cert))
    if extra:
        document["extra"] = extra
    return json.dumps(document)


def load_dags() -> DagBag:
    """Parse the DAG folder the way the DAG processor does."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


@dataclass(frozen=True)
class TaskRecord:
    """One task instance as Airflow recorded it."""

    task_id: str
    map_index: int
    state: str | None
    try_number: int
    label: str | None


@dataclass(frozen=True)
class RunRecord:
    """One DAG run: its id and state, its task instances and its execution record's counts
    (:meth:`~regrep.executions.record.Execution.summary`; None when nothing was planned)."""

    run_id: str
    state: str
    tasks: list[TaskRecord]
    summary: dict[str, Any] | None

    def task(self, task_id: str) -> TaskRecord:
        """The task instance of an unmapped task (or of a mapped one that mapped nothing)."""
        (record,) = [t for t in self.tasks if t.task_id == task_id and t.map_index == -1]
        return record

    def mapped(self, task_id: str) -> list[TaskRecord]:
        """The mapped instances of a task, by map index."""
        found = [t for t in self.tasks if t.task_id == task_id and t.map_index >= 0]
        return sorted(found, key=lambda t: t.map_index)


def run_dag(dag_id: str) -> RunRecord:
    """Parse the DAG folder, run ``dag_id`` once in-process and return what happened."""
    from airflow.models import TaskInstance
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from regrep.executions.listener import read_execution

    bag = load_dags()
    assert not bag.import_errors, bag.import_errors
    run = _test_without_leaking_parsing_context(bag.dags[dag_id])
    with create_session() as session:
        instances = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id
            )
        ).all()
        tasks = [
            TaskRecord(ti.task_id, ti.map_index, ti.state, ti.try_number, ti.rendered_map_index)
            for ti in instances
        ]
        attached = session.scalars(select(DagRun).where(DagRun.run_id == run.run_id)).one()
        execution = read_execution(attached, session, str(run.state))
        summary = execution.summary() if execution.planned else None
    return RunRecord(run_id=run.run_id, state=str(run.state), tasks=tasks, summary=summary)


def run_note(run: RunRecord) -> list[str]:
    """The execution record an ended run gets as its note, written as ``dag.test()`` ends a
    run: by regrep's listener, the run held outside any session."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from regrep.executions.listener import write_note

    with create_session() as session:
        detached = session.scalars(select(DagRun).where(DagRun.run_id == run.run_id)).one()
        session.expunge(detached)
    write_note(detached)
    with create_session() as session:
        note = session.scalars(select(DagRun).where(DagRun.run_id == run.run_id)).one().note
    return str(note).splitlines()


def _test_without_leaking_parsing_context(dag: DAG) -> DagRun:
    """``dag.test()``, then the DAG parsing context as it was before.

    Airflow 3.2's ``dag.test()`` parses the DAG folder under a parsing context naming the DAG
    and leaves ``_AIRFLOW_PARSING_CONTEXT_DAG_ID`` set when it was unset before (3.3 no
    longer sets it): every later parse in this process, the next test's, would then build
    only that DAG (regrep's DAG file builds only the DAG a task runs).
    """
    names = ("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "_AIRFLOW_PARSING_CONTEXT_TASK_ID")
    before = {name: os.environ.get(name) for name in names}
    try:
        return dag.test()
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
