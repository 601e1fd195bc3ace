"""The ``summary`` task: the execution's table, and its verdict.

It runs whatever happened upstream (trigger rule ``all_done``) and reads the execution
record (:mod:`regrep.executions.record`) from the task states and what each task reported.
A failed plan, a failed copy or deletion, or a resource stopped before it finished fails
this task, and with it the DAG run, as a Harbor execution with a failed task is failed.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from regrep.executions.record import (
    COPY_TASK,
    DELETE_TASK,
    PLAN_TASK,
    RETURN_KEY,
    Execution,
    build_execution,
    copy_results_by_index,
    render,
)
from regrep.rules import Rule

log = logging.getLogger(__name__)


def summary_task(rule: Rule, context: Context) -> dict[str, Any]:
    """The summary task's body: log the record, return its counts, fail on any failure."""
    return summarise(rule, current_execution(context))


def summarise(rule: Rule, execution: Execution) -> dict[str, Any]:
    """Log ``execution``'s table and return its counts; raise if anything failed."""
    log.info(
        "replication %s: %s -> %s\n%s", rule.name, rule.source, rule.destination, render(execution)
    )
    if not execution.planned:
        raise AirflowFailException(
            f"replication {rule.name}: the plan task failed, so nothing was replicated; "
            "its log says why"
        )
    total = len(execution.outcomes)
    problems = [
        f"{len(labels)} of {total} resource(s) {what}: {', '.join(labels)}"
        for what, status in (("failed to replicate", "failed"), ("were stopped", "stopped"))
        if (labels := [o.label for o in execution.outcomes if o.status == status])
    ]
    if problems:
        raise AirflowFailException("; ".join(problems))
    return execution.summary()


def current_execution(context: Context) -> Execution:
    """This run's record, read through the task's own access to Airflow (task SDK).

    The copies' results are read in one request (every map index of the copy task's return
    value at once) rather than one per copy instance, which took about 20 ms each here: 5 s
    for 256 instances, all of it between the last copy and the run's end. Other XComs (a
    failure's ``error``, a failed batch's results) are read one by one, where the record
    needs them.
    """
    ti = context["ti"]
    reported = ti.get_task_states(
        dag_id=ti.dag_id, task_ids=[PLAN_TASK, COPY_TASK, DELETE_TASK], run_ids=[ti.run_id]
    )
    states = {
        _task_key(key): None if state is None else str(state)
        for key, state in reported.get(ti.run_id, {}).items()
    }
    copies = ti.xcom_pull(task_ids=PLAN_TASK, map_indexes=-1)
    # A list of task ids: always a list back, even of one value.
    results = copy_results_by_index(copies or [], ti.xcom_pull(task_ids=[COPY_TASK]) or [])

    def xcom(task_id: str, key: str, map_index: int) -> Any:
        if key == RETURN_KEY and task_id == PLAN_TASK:
            return copies
        if key == RETURN_KEY and task_id == COPY_TASK:
            return results.get(map_index)
        return ti.xcom_pull(task_ids=task_id, key=key, map_indexes=map_index)

    return build_execution(ti.dag_id, ti.run_id, "running", states, xcom)


def _task_key(key: str) -> tuple[str, int]:
    """``copy_3`` -> ``("copy", 3)``, ``plan`` -> ``("plan", -1)``: how the SDK names them."""
    task_id, _, index = key.rpartition("_")
    return (task_id, int(index)) if task_id and index.isdigit() else (key, -1)
