"""A rule's executions as the Replication page shows them, read from the metadata database.

Each execution is one DAG run; its record comes from :func:`regrep.executions.listener.
read_execution`, the reading that writes the run's note, so the page, the
note and ``regrep executions show`` tell one story. On top of the record the page shows what
Airflow knows of the run (trigger, start, duration) and of each resource's task: its bytes
and seconds (the copy's result), and a link to its log in Airflow's UI.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from regrep.executions.listener import read_execution
from regrep.executions.record import (
    ACTIVE_RUN_STATES,
    COPY_TASK,
    DELETE_TASK,
    PLAN_TASK,
    RETURN_KEY,
    Execution,
    refusals,
)

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun
    from sqlalchemy.orm import Session

TRIGGERS = {"manual": "manual", "scheduled": "scheduled", "asset_triggered": "event_based"}
"""Harbor's trigger names by Airflow run type (backfills keep Airflow's word)."""

SUCCEEDED = ("copied", "skipped", "unchanged", "deleted")


@dataclass(frozen=True)
class TaskRef:
    """The task instance that handled a resource, for its log link."""

    task_id: str
    map_index: int


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 1) if start and end else None


def run_path(dag_id: str, run_id: str) -> str:
    """The run's page in Airflow's UI, relative to the UI's root."""
    return f"dags/{quote(dag_id)}/runs/{quote(run_id, safe='')}"


def execution_row(dag_run: DagRun, execution: Execution) -> dict[str, Any]:
    """One line of the executions table (and the rules list's "last execution")."""
    tally = execution.tally()
    total = len(execution.outcomes) + execution.unchanged
    done = sum(tally[status] for status in SUCCEEDED)
    return {
        "run_id": dag_run.run_id,
        "state": execution.state,
        "trigger": TRIGGERS.get(str(dag_run.run_type), str(dag_run.run_type)),
        "triggered_by": dag_run.triggering_user_name,
        "start_date": _iso(dag_run.start_date),
        "end_date": _iso(dag_run.end_date),
        "queued_at": _iso(dag_run.queued_at),
        "duration_seconds": _seconds(dag_run.start_date, dag_run.end_date),
        "planned": execution.planned,
        "plan_state": execution.plan_state,
        "counts": tally,
        "total": total,
        "success_rate": round(done / total, 4) if total else None,
        "bytes_copied": execution.summary()["bytes_copied"],
        "run_path": run_path(dag_run.dag_id, dag_run.run_id),
    }


def task_refs(copies: Sequence[dict[str, Any]] | None, execution: Execution) -> list[TaskRef]:
    """The task instance behind each of ``execution.outcomes``, in their order.

    :func:`~regrep.executions.record.build_execution` lists the copies' outcomes instance
    by instance (each instance's own resource, then the ``more`` others of its batch; the
    refused repositories' instance, one each), then the deletions, all handled by the one
    delete task.
    """
    refs = [
        TaskRef(COPY_TASK, index)
        for index, item in enumerate(copies or [])
        for _ in range(len(refusals(item) or ()) or 1 + int(item.get("more") or 0))
    ]
    refs += [TaskRef(DELETE_TASK, -1)] * (len(execution.outcomes) - len(refs))
    return refs[: len(execution.outcomes)]


def resource_rows(
    dag_run: DagRun, execution: Execution, copies: Sequence[dict[str, Any]] | None, tries: Any
) -> list[dict[str, Any]]:
    """One row per resource: state, message, bytes, seconds and the path to its task's log.

    ``tries`` maps ``(task_id, map_index)`` to the instance's latest try number.
    """
    rows = []
    for outcome, ref in zip(execution.outcomes, task_refs(copies, execution), strict=True):
        result = outcome.result or {}
        suffix = f"/mapped/{ref.map_index}" if ref.map_index >= 0 else ""
        try_number = tries.get((ref.task_id, ref.map_index))
        query = f"?try_number={try_number}" if try_number else ""
        rows.append(
            {
                "resource": outcome.label,
                "action": outcome.action,
                "status": outcome.status,
                "message": outcome.message,
                "destination": result.get("destination"),
                "bytes": result.get("bytes_copied"),
                "seconds": result.get("seconds"),
                "task_id": ref.task_id,
                "map_index": ref.map_index,
                "log_path": (
                    f"{run_path(dag_run.dag_id, dag_run.run_id)}/tasks/{ref.task_id}{suffix}{query}"
                ),
            }
        )
    return rows


def runs_of(session: Session, dag_id: str, limit: int) -> list[DagRun]:
    """The DAG's most recent runs, newest first."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    query = (
        select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.run_after.desc()).limit(limit)
    )
    return list(session.scalars(query))


def active_run_ids(session: Session, dag_ids: Iterable[str]) -> dict[str, list[str]]:
    """The queued and running runs of each DAG, by DAG id."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    rows = session.execute(
        select(DagRun.dag_id, DagRun.run_id)
        .where(DagRun.dag_id.in_(list(dag_ids)), DagRun.state.in_(sorted(ACTIVE_RUN_STATES)))
        .order_by(DagRun.run_after)
    )
    found: dict[str, list[str]] = {}
    for dag_id, run_id in rows:
        found.setdefault(dag_id, []).append(run_id)
    return found


def executions(session: Session, dag_id: str, limit: int) -> list[dict[str, Any]]:
    """The executions table of a rule: its latest ``limit`` runs, newest first."""
    return [
        execution_row(run, read_execution(run, session, str(run.state)))
        for run in runs_of(session, dag_id, limit)
    ]


def latest_execution(session: Session, dag_id: str) -> dict[str, Any] | None:
    """The rules list's "last execution" of a rule; None before its first run."""
    rows = executions(session, dag_id, 1)
    return rows[0] if rows else None


def execution_detail(session: Session, dag_id: str, run_id: str) -> dict[str, Any] | None:
    """One execution with its resources; None when the rule's DAG has no such run."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if run is None:
        return None
    execution = read_execution(run, session, str(run.state))
    stored = session.scalar(
        select(XComModel).where(
            XComModel.dag_id == dag_id,
            XComModel.run_id == run_id,
            XComModel.task_id == PLAN_TASK,
            XComModel.key == RETURN_KEY,
        )
    )
    copies = XComModel.deserialize_value(stored) if stored is not None else None
    tries = {
        (task_id, map_index): try_number
        for task_id, map_index, try_number in session.execute(
            select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.try_number).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        )
    }
    return {
        **execution_row(run, execution),
        "listed": execution.listed,
        "unchanged": execution.unchanged,
        "resources": resource_rows(run, execution, copies, tries),
    }
