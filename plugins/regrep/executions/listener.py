"""An Airflow listener that writes each ended execution's record into its DAG run's note,
and has the rule's ``notify`` endpoints told (:mod:`regrep.executions.notifications`).

This is where a run's record is completed: the run ends with its copies, no task comes
after them (a task would cost the run another scheduler loop and task start). The UI shows a
run's note beside the run, so the record is there however the run ended: its tasks done, or
stopped from the UI or the REST API, when Airflow's own task states say "failed" even for
resources already copied. The record comes from what each task reported
(:mod:`regrep.executions.record`), and the scheduler's log gets it too.

Airflow calls the hooks inside the transaction that ended the run: in the scheduler, or in
the API server for a ``PATCH`` of the run's state. The record is read through that same
session (flushed first: Airflow's sessions do not autoflush), so it sees the task states
just set, and the note is committed with them. A failure here is logged and never
disturbs the caller. A note a user wrote on the run is replaced.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow.listeners import hookimpl

from regrep.executions import notifications
from regrep.executions.record import (
    COPY_TASK,
    DAG_ID_PREFIX,
    DELETE_TASK,
    PLAN_TASK,
    Execution,
    build_execution,
    note,
    render,
)

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

WORK_TASKS = (PLAN_TASK, COPY_TASK, DELETE_TASK)


@hookimpl
def on_dag_run_success(dag_run: DagRun, msg: str) -> None:
    write_note(dag_run)


@hookimpl
def on_dag_run_failed(dag_run: DagRun, msg: str) -> None:
    write_note(dag_run)


def write_note(dag_run: DagRun) -> None:
    """Set the note of a regrep run to its record; other DAGs' runs are left alone.

    A run the caller holds outside any session (``dag.test()``, ``airflow dags test``) is
    read and noted in a session of its own.
    """
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.orm import object_session

    if not dag_run.dag_id.startswith(DAG_ID_PREFIX):
        return
    try:
        session = object_session(dag_run)
        if session is not None:
            _note(dag_run, session, str(dag_run.state))
            return
        with create_session() as own:
            attached = own.scalar(
                select(DagRun).where(
                    DagRun.dag_id == dag_run.dag_id, DagRun.run_id == dag_run.run_id
                )
            )
            if attached is not None:  # its state may not be committed yet: take the caller's
                _note(attached, own, str(dag_run.state))
    except Exception:
        log.exception("could not write the record of run %s of %s", dag_run.run_id, dag_run.dag_id)


def _note(dag_run: DagRun, session: Session, state: str) -> None:
    session.flush()
    execution = read_execution(dag_run, session, state)
    if execution.plan_state is not None:  # else an invalid rule's placeholder DAG
        log.info("replication %s %s\n%s", dag_run.dag_id, dag_run.run_id, render(execution))
        dag_run.note = note(execution)
        notifications.announce(dag_run, execution)


def read_execution(dag_run: DagRun, session: Session, state: str) -> Execution:
    """The record of the run, now in ``state``, from the metadata database."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    rows = session.execute(
        select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
            TaskInstance.dag_id == dag_run.dag_id,
            TaskInstance.run_id == dag_run.run_id,
            TaskInstance.task_id.in_(WORK_TASKS),
        )
    )
    states = {
        (task_id, index): None if state is None else str(state) for task_id, index, state in rows
    }
    xcoms = session.scalars(
        select(XComModel).where(
            XComModel.dag_id == dag_run.dag_id,
            XComModel.run_id == dag_run.run_id,
            XComModel.task_id.in_(WORK_TASKS),
        )
    )
    values = {(x.task_id, x.key, x.map_index): XComModel.deserialize_value(x) for x in xcoms}

    def xcom(task_id: str, key: str, map_index: int) -> Any:
        return values.get((task_id, key, map_index))

    return build_execution(dag_run.dag_id, dag_run.run_id, state, states, xcom)
