"""The record of one execution (DAG run), told from what each task reported.

Airflow's own task states are not enough to say what happened to a resource: stopping a run
(*Mark as failed* in the UI, or ``PATCH`` of the run's state) marks every instance of a mapped
task failed, including those that had finished copying. So each resource's outcome is read
from what its task reported, and its state only fills the gaps:

- a result (the copy task's return value, or the delete task's entry for it): copied,
  skipped, unchanged or deleted, whatever state Airflow shows now;
- no result, and the task has not finished: in progress (pending counts too);
- no result, and the task recorded a final failure (:data:`ERROR_KEY`, written when no retry
  will follow): failed, with the error;
- no result and no final failure: stopped, by ``regrep executions stop``, by the UI, or
  because its process was lost while a retry was still due.

The repositories the plan refused (a namespace flattening that cannot apply to them) are the
last copy instance's entry (:func:`refusals`): each is one failed outcome, named after the
repository, with the plan's reason; that instance fails, and with it the run.

A copy instance of a large run copies a batch of resources (:mod:`regrep.tasks.fanout`: its first
in the mapped list, the rest in the plan's XCom :func:`batch_key`) and returns one result
per resource; when it fails it leaves the results it has as
:data:`BATCH_RESULTS_KEY`, so each resource of the batch gets its own outcome.

:func:`build_execution` assembles an :class:`Execution` from task states and an XCom reader,
so the listener that writes the run's note when the run ends, the Replication page and
``regrep executions show`` (through the REST API) all read it the same way. Pure: no
Airflow, and cheap to import (the DAG factory takes its task ids and XCom keys from here
while Airflow parses DAG files).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from regrep.engine.sizes import human_size

DAG_ID_PREFIX = "replicate_"  # a rule's DAG is replicate_<rule name>
PLAN_TASK, COPY_TASK, DELETE_TASK = "plan", "copy", "delete"
COUNTS_KEY = "counts"  # the plan's XCom of ``listed`` and ``unchanged``
DELETIONS_KEY = "deletions"  # the plan's XCom of deletions for the delete task
REFUSED = "refused"  # the refused repositories' copy entry's resource: ``[{"label", "message"}]``
ERROR_KEY = "error"  # a work task's failure: ``{"resource", "message", "final"}``
BATCH_RESULTS_KEY = "results"  # a failed batch copy's results, failed resources included
RETURN_KEY = "return_value"


def refusals(entry: Mapping[str, Any]) -> list[Mapping[str, str]] | None:
    """The refused repositories if ``entry`` (a copy instance's arguments) is their entry."""
    found = entry["resource"].get(REFUSED)
    return list(found) if isinstance(found, list) else None


def entry_label(entry: Mapping[str, Any]) -> str:
    """The name of what copy entry ``entry`` copies: a resource's label, or the refusals'."""
    from regrep.planning.resources import Resource

    refused = refusals(entry)
    if refused is not None:
        more = f" (+{len(refused) - 1} more)" if len(refused) > 1 else ""
        return f"refused: {refused[0]['label']}{more}"
    return Resource.from_dict(entry["resource"]).label


def batch_key(index: int) -> str:
    """The plan's XCom holding the rest of copy instance ``index``'s batch (its ``more``)."""
    return f"batch-{index}"


STATUSES = ("copied", "skipped", "unchanged", "deleted", "failed", "stopped", "in_progress")
UNFINISHED = frozenset(
    {
        None,
        "scheduled",
        "queued",
        "running",
        "restarting",
        "up_for_retry",
        "up_for_reschedule",
        "deferred",
        "awaiting_input",
    }
)
ACTIVE_RUN_STATES = frozenset({"queued", "running"})
NOTE_LIMIT = 1000  # Airflow's maximum length of a DAG run note

XComReader = Callable[[str, str, int], Any]
"""``(task_id, key, map_index) -> value`` or None when there is no such XCom."""


@dataclass(frozen=True)
class Outcome:
    """What became of one planned resource."""

    label: str
    action: str  # "copy" or "delete"
    status: str  # one of STATUSES
    message: str
    result: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Execution:
    """One DAG run of a rule, as its tasks reported it.

    ``planned`` is False until the plan task has produced its work; then ``listed`` and
    ``unchanged`` are the plan's counts and ``outcomes`` hold one entry per resource.
    """

    dag_id: str
    run_id: str
    state: str
    plan_state: str | None
    planned: bool
    listed: int = 0
    unchanged: int = 0
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_RUN_STATES

    def tally(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        counts["unchanged"] = self.unchanged
        for outcome in self.outcomes:
            counts[outcome.status] += 1
        return counts

    def summary(self) -> dict[str, Any]:
        """The counts, bytes and failures: what the UI, the CLI and notifications report."""
        copies = [o.result for o in self.outcomes if o.action == "copy" and o.result is not None]
        return {
            **self.tally(),
            "bytes_copied": sum(int(result.get("bytes_copied", 0)) for result in copies),
            "blobs_mounted": sum(int(result.get("blobs_mounted", 0)) for result in copies),
            "failures": [o.label for o in self.outcomes if o.status == "failed"],
        }


def build_execution(
    dag_id: str,
    run_id: str,
    run_state: str,
    states: Mapping[tuple[str, int], str | None],
    xcom: XComReader,
) -> Execution:
    """Read a run's record from its task states (``(task_id, map_index) -> state``) and XComs.

    XComs are read only where they can exist: a copy's result only once its task has left
    the unfinished states.
    """
    plan_state = states.get((PLAN_TASK, -1))
    copies = xcom(PLAN_TASK, RETURN_KEY, -1)
    if copies is None:
        return Execution(dag_id, run_id, run_state, plan_state, planned=False)
    counts = xcom(PLAN_TASK, COUNTS_KEY, -1) or {}
    active = run_state in ACTIVE_RUN_STATES
    outcomes: list[Outcome] = []
    for index, item in enumerate(copies):
        refused = refusals(item)
        if refused is not None:
            outcomes += [Outcome(r["label"], "copy", "failed", r["message"]) for r in refused]
        else:
            labels = [entry_label(entry) for entry in _batch(item, index, xcom)]
            outcomes += _copy_outcomes(labels, index, states, xcom, active)
    deletions = xcom(PLAN_TASK, DELETIONS_KEY, -1) or []
    if deletions:
        labels = [str(item["label"]) for item in deletions]
        outcomes += _delete_outcomes(labels, states, xcom, active)
    return Execution(
        dag_id,
        run_id,
        run_state,
        plan_state,
        planned=True,
        listed=int(counts.get("listed", 0)),
        unchanged=int(counts.get("unchanged", 0)),
        outcomes=outcomes,
    )


def copy_results_by_index(
    copies: Sequence[Mapping[str, Any]], returned: Iterable[Any]
) -> dict[int, Any]:
    """The return values of the copy instances, read all at once, by map index.

    Airflow hands a mapped task's return values over in one request but without their map
    indexes, and leaves out instances that returned nothing. Each value names its resources
    (``resource``, the first of a batch's results being the instance's own), and the plan's
    ``copies`` (its return value) say which resource each instance copies, so the label
    finds the index. A value that matches no instance is ignored.
    """
    index = {entry_label(entry): i for i, entry in enumerate(copies) if refusals(entry) is None}
    found: dict[int, Any] = {}
    for value in returned:
        first = value[0] if isinstance(value, list) and value else value
        if isinstance(first, Mapping) and (i := index.get(str(first.get("resource")))) is not None:
            found[i] = value
    return found


def _batch(item: Mapping[str, Any], index: int, xcom: XComReader) -> list[Mapping[str, Any]]:
    """The entries copy instance ``index`` copies: its own, then the rest of its batch."""
    rest = xcom(PLAN_TASK, batch_key(index), -1) if item.get("more") else None
    return [item, *(rest or [])]


def _copy_outcomes(
    labels: Sequence[str],
    index: int,
    states: Mapping[tuple[str, int], str | None],
    xcom: XComReader,
    active: bool,
) -> list[Outcome]:
    """The outcomes of the resources one copy instance handles (one, or a batch)."""
    state = states.get((COPY_TASK, index))
    returned = None if state in UNFINISHED else xcom(COPY_TASK, RETURN_KEY, index)
    if isinstance(returned, Mapping):
        returned = [returned]
    if returned is None and len(labels) > 1 and state not in UNFINISHED:
        returned = xcom(COPY_TASK, BATCH_RESULTS_KEY, index)
    by_label = {str(result["resource"]): result for result in returned or []}

    def error() -> Any:
        return xcom(COPY_TASK, ERROR_KEY, index)

    outcomes = []
    for label in labels:
        result = by_label.get(label)
        if result is not None and result["status"] != "failed":
            outcomes.append(
                Outcome(label, "copy", str(result["status"]), str(result["message"]), result)
            )
            continue
        outcome = _without_result(label, "copy", state, active, error)
        if result is not None and outcome.status == "failed":
            outcome = Outcome(label, "copy", "failed", str(result["message"]))
        outcomes.append(outcome)
    return outcomes


def _delete_outcomes(
    labels: Sequence[str],
    states: Mapping[tuple[str, int], str | None],
    xcom: XComReader,
    active: bool,
) -> list[Outcome]:
    """One delete task handles every deletion of the run and returns one entry for each."""
    state = states.get((DELETE_TASK, -1))
    results = None if state in UNFINISHED else xcom(DELETE_TASK, RETURN_KEY, -1)
    by_label = {str(entry["resource"]): entry for entry in results or []}
    outcomes = []
    for label in labels:
        entry = by_label.get(label)
        if entry is not None:
            status, message = str(entry["status"]), str(entry["message"])
            outcomes.append(Outcome(label, "delete", status, message, entry))
        else:
            outcomes.append(
                _without_result(
                    label, "delete", state, active, lambda: xcom(DELETE_TASK, ERROR_KEY, -1)
                )
            )
    return outcomes


def _without_result(
    label: str, action: str, state: str | None, active: bool, error: Callable[[], Any]
) -> Outcome:
    """The outcome of a resource whose task left no result (see the module docstring)."""
    if state in UNFINISHED and active:
        return Outcome(label, action, "in_progress", state or "pending")
    failure = error()
    if failure is not None and failure.get("final"):
        return Outcome(label, action, "failed", str(failure["message"]))
    return Outcome(
        label,
        action,
        "stopped",
        f"stopped before it finished (task {state}): by a user, or its process was lost",
    )


def render(execution: Execution) -> str:
    """The execution as a table: counts, then one line per resource that was not unchanged."""
    lines = [f"{execution.dag_id} {execution.run_id}: {execution.state}"]
    if not execution.planned:
        lines.append(_unplanned(execution))
        return "\n".join(lines)
    tally = execution.tally()
    summary = execution.summary()
    lines += [
        f"{execution.listed} tag(s) listed, {len(execution.outcomes)} to replicate",
        *(f"{status.replace('_', ' '):<12} {tally[status]:>6}" for status in STATUSES),
        f"{human_size(summary['bytes_copied'])} copied, {summary['blobs_mounted']} blob(s) mounted",
        *(f"{o.status.replace('_', ' '):<12} {o.label}: {o.message}" for o in execution.outcomes),
    ]
    return "\n".join(lines)


def note(execution: Execution) -> str:
    """:func:`render` cut to fit a DAG run note, saying how much was left out."""
    text = render(execution)
    if len(text) <= NOTE_LIMIT:
        return text
    lines = text.splitlines()
    while lines:
        lines.pop()
        hidden = len(text.splitlines()) - len(lines)
        tail = f"... {hidden} more line(s): regrep executions show"
        if len("\n".join([*lines, tail])) <= NOTE_LIMIT:
            return "\n".join([*lines, tail])
    return text[:NOTE_LIMIT]


def _unplanned(execution: Execution) -> str:
    state = execution.plan_state
    if state in UNFINISHED and execution.active:
        return f"planning (plan task {state or 'pending'})"
    return f"nothing was replicated: the plan task ended {state or 'without running'}"
