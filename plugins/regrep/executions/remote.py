"""Executions through Airflow's REST API: read a run's record, stop a run truthfully.

Airflow's own stop (*Mark as failed*, ``PATCH`` of the run's state) fails every instance of
a mapped task that still had one running, those already finished included. :func:`stop`
first ends only the unfinished task instances, one ``PATCH`` each (running ones failed,
which kills them; pending ones skipped), then fails the run, so copies that finished stay
succeeded in the UI as in the record.
"""

from __future__ import annotations

import json
from typing import Any

from regrep.airflow_api import AirflowApi, ApiError
from regrep.executions.record import (
    ACTIVE_RUN_STATES,
    UNFINISHED,
    Execution,
    build_execution,
)

RUNNING_STATES = frozenset({"running", "deferred", "up_for_reschedule", "awaiting_input"})


class ExecutionNotFound(LookupError):
    """No such rule DAG or run; the message says which."""


def runs_path(dag_id: str) -> str:
    return f"/api/v2/dags/{dag_id}/dagRuns"


def latest_run_id(api: AirflowApi, dag_id: str) -> str:
    """The id of the rule's most recent run."""
    try:
        page = api.get(runs_path(dag_id), order_by="-run_after", limit=1)
    except ApiError as error:
        if error.status == 404:
            raise ExecutionNotFound(f"no DAG {dag_id} in Airflow") from None
        raise
    if not page["dag_runs"]:
        raise ExecutionNotFound(f"{dag_id} has no runs yet")
    return str(page["dag_runs"][0]["dag_run_id"])


def active_run_ids(api: AirflowApi, dag_id: str) -> list[str]:
    """The ids of the rule's queued and running runs; none when Airflow has no such DAG."""
    try:
        runs = api.paginate(runs_path(dag_id), "dag_runs", state=sorted(ACTIVE_RUN_STATES))
        return [str(run["dag_run_id"]) for run in runs]
    except ApiError as error:
        if error.status == 404:
            return []
        raise


def fetch_execution(api: AirflowApi, dag_id: str, run_id: str) -> Execution:
    """The run's record, from its task instances and the XComs its tasks reported."""
    run_path = f"{runs_path(dag_id)}/{run_id}"
    try:
        run = api.get(run_path)
    except ApiError as error:
        if error.status == 404:
            raise ExecutionNotFound(f"{dag_id} has no run {run_id!r}") from None
        raise
    states = {
        (str(ti["task_id"]), int(ti["map_index"])): ti["state"]
        for ti in api.paginate(f"{run_path}/taskInstances", "task_instances")
    }

    def xcom(task_id: str, key: str, map_index: int) -> Any:
        path = f"{run_path}/taskInstances/{task_id}/xcomEntries/{key}"
        try:
            value = api.get(path, map_index=map_index)["value"]
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        # Airflow answers with the stored JSON, as a document or as its text.
        return json.loads(value) if isinstance(value, str) else value

    return build_execution(dag_id, run_id, str(run["state"]), states, xcom)


def stop(api: AirflowApi, dag_id: str, run_id: str) -> list[str]:
    """Stop a queued or running run; return the ``task[index]`` labels of what was ended.

    Raises :class:`ExecutionNotFound`, or ``ValueError`` when the run has already ended.
    """
    execution = fetch_execution(api, dag_id, run_id)
    if not execution.active:
        raise ValueError(f"run {run_id} of {dag_id} has already ended ({execution.state})")
    run_path = f"{runs_path(dag_id)}/{run_id}"
    ended: list[str] = []
    for ti in api.paginate(f"{run_path}/taskInstances", "task_instances"):
        task_id, map_index, state = str(ti["task_id"]), int(ti["map_index"]), ti["state"]
        if state not in UNFINISHED:
            continue
        new_state = "failed" if state in RUNNING_STATES else "skipped"
        suffix = f"/{map_index}" if map_index >= 0 else ""
        api.patch(f"{run_path}/taskInstances/{task_id}{suffix}", {"new_state": new_state})
        ended.append(f"{task_id}[{map_index}]" if map_index >= 0 else task_id)
    api.patch(run_path, {"state": "failed"})
    return ended
