"""Rules in, DAGs out: one Airflow DAG ``replicate_<name>`` per replication rule file.

Each DAG is ``plan`` -> ``copy`` (mapped, one task instance per resource, labelled
``repo:tag``); a rule with ``replicate_deletion`` also has ``delete`` beside ``copy``; a
rule's ``worker_queue`` is the Celery queue of them all (:func:`worker_queue`). The run ends
with its copies: it fails if the plan or any copy or deletion failed (the repositories the
plan refused fail an instance of their own, :mod:`regrep.tasks.fanout`), and the execution
record is written into the run's note by the listener (:mod:`regrep.executions.listener`) as
the run ends, so no task after the copies has to wait for the scheduler to start it
(docs/performance.md, "Where a run's seconds go").
A rule's trigger becomes the schedule: none for manual, its cron for scheduled (one run at a
time, no catch-up: runs never pile up), and for event-based the asset of the source endpoint
(:func:`~regrep.tasks.assets.source_asset`), which the webhook receiver
(:mod:`regrep.webhooks`) updates when the source reports a push or a deletion.

Airflow re-parses the DAG file at every task start, so building is cheap: only Airflow's SDK
and the rule models are imported here (the task bodies import the registry client and the
engine when they run; ``tests/unit/test_dag_file_imports.py``), and when Airflow says which
DAG it is about to run only that DAG is built. The tasks are
:func:`~regrep.tasks.data_task.data_task` s, which write no rendered template fields when
they start (docs/performance.md, "Per-task overhead").

An invalid rule file never stops the valid rules from loading: it becomes a DAG of its own,
``replicate_<file stem>`` tagged ``regrep-invalid``, whose description and docs carry the
:class:`RuleError` text and whose only task fails with it. Airflow's per-file import errors
belong to the whole DAG file (a raised error would hide every valid rule's DAG), and the
placeholder keeps the id of a rule whose file just broke, so its DAG visibly turns into the
error instead of vanishing.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, get_current_context, get_parsing_context, task
from airflow.sdk.exceptions import AirflowFailException

from regrep.executions.record import COPY_TASK, DELETE_TASK, DELETIONS_KEY, PLAN_TASK, REFUSED
from regrep.rules import Rule, RuleError, load_rule_files, modes, rule_files, rules_dir
from regrep.tasks.assets import source_asset
from regrep.tasks.data_task import data_task

log = logging.getLogger(__name__)

START_DATE = datetime(2024, 1, 1, tzinfo=UTC)
INVALID_TAG = "regrep-invalid"
# ``resource`` is the mapped argument, so the label is known before the task even starts:
# ``repo:tag``, or ``repo@sha256:...`` for an untagged artifact (Resource.label); a batch
# (see regrep.tasks.fanout) says how many more resources it copies; the refused repositories'
# instance names the first (record.entry_label).
MAP_INDEX_TEMPLATE = (
    "{% set resource = task.op_kwargs.resource %}"
    f"{{% set refused = resource.get('{REFUSED}') %}}"
    "{% if refused %}refused: {{ refused[0].label }}"
    "{% if refused | length > 1 %} (+{{ refused | length - 1 }} more){% endif %}"
    "{% else %}{{ resource.source_repository }}"
    "{% if resource.tag %}:{{ resource.tag }}{% else %}@{{ resource.digest }}{% endif %}"
    "{% if task.op_kwargs.more %} (+{{ task.op_kwargs.more }} more){% endif %}{% endif %}"
)


def build_dags(default_rules_dir: Path) -> dict[str, DAG]:
    """Build the DAGs of every rule file in ``$REGREP_RULES_DIR`` (or ``default_rules_dir``).

    Returns ``{dag_id: DAG}`` for the DAG file's globals. When Airflow is parsing the file
    to run one task, only that task's DAG is built.
    """
    wanted = get_parsing_context().dag_id
    files, errors = rule_files([rules_dir(default_rules_dir)])
    dags: dict[str, DAG] = {}
    read_from: dict[str, Path] = {}
    invalid: list[RuleError] = list(errors)
    for path, outcome in load_rule_files(files):
        if isinstance(outcome, RuleError):
            invalid.append(outcome)
        elif wanted in (None, outcome.dag_id):
            dags[outcome.dag_id] = rule_dag(outcome, path)
            read_from[outcome.dag_id] = path
    for error in invalid:
        dag_id = invalid_dag_id(error.path)
        if wanted not in (None, dag_id):
            continue  # keep other DAGs' task logs free of this file's error
        log.error("Invalid replication rule: %s", error)
        if dag_id in dags:
            log.error("%s is taken by a valid rule: no DAG reports %s", dag_id, error.path)
        else:
            dags[dag_id] = invalid_rule_dag(dag_id, error)
    # A rule deleted (``regrep rules delete``) while this parse ran must not be saved again
    # after its DAG was deleted: drop the DAGs whose file is gone by now.
    return {
        dag_id: dag
        for dag_id, dag in dags.items()
        if dag_id not in read_from or read_from[dag_id].exists()
    }


def rule_dag(rule: Rule, path: Path) -> DAG:
    """The DAG of one valid rule."""
    with DAG(
        dag_id=rule.dag_id,
        description=modes.describe(rule),
        doc_md=rule_doc(rule, path),
        schedule=schedule(rule),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,  # Harbor runs one execution of a policy at a time
        is_paused_upon_creation=not rule.enabled,
        tags=["regrep", rule.trigger.type],
        # Only the DAG file's globals count (see build_dags): a DAG built for a rule file
        # deleted during the parse is left out of them, and must not be collected anyway.
        auto_register=False,
        default_args={
            "retries": rule.retries,
            "retry_delay": timedelta(minutes=rule.retry_delay_minutes),
            **worker_queue(rule),
        },
    ) as dag:
        _add_tasks(rule)
    return dag


def _add_tasks(rule: Rule) -> None:
    """``plan`` -> ``copy`` (mapped) [+ ``delete``], in the DAG being built.

    The task bodies import their modules when they run: parsing the DAG file loads no
    registry client.
    """

    # The source's asset is also the plan's inlet, so an event-triggered plan can read
    # the events Airflow left out of its run (see operators.plan.triggering_events).
    # Its return value is the copies' arguments (large for thousands of tags): the log names
    # the resources itself, so Airflow's "Returned value was" line is left out.
    @data_task(task_id=PLAN_TASK, inlets=schedule_assets(rule), show_return_value_in_logs=False)
    def plan() -> list[dict[str, Any]]:
        from regrep.tasks.plan_task import plan_task

        return plan_task(rule, get_current_context())

    @data_task(task_id=COPY_TASK, map_index_template=MAP_INDEX_TEMPLATE)
    def copy(
        resource: dict[str, Any],
        mount_from: list[str],
        seeded: dict[str, str],
        more: int,
    ) -> dict[str, Any] | list[dict[str, Any]]:
        from regrep.tasks.copy_task import copy as run_copy

        return run_copy(
            rule, {"resource": resource, "mount_from": mount_from, "seeded": seeded}, more
        )

    @data_task(task_id=DELETE_TASK)
    def delete() -> list[dict[str, str]]:
        from regrep.tasks.delete_task import delete as run_delete

        ti = get_current_context()["ti"]
        return run_delete(rule, ti.xcom_pull(task_ids=PLAN_TASK, key=DELETIONS_KEY) or [])

    # XComArgs at parse time; ``Any`` because the SDK types a task call by the
    # callable's own parameter types.
    planned: Any = plan()
    copy.expand_kwargs(planned)
    if rule.replicate_deletion:
        deletions: Any = delete()
        planned >> deletions


def worker_queue(rule: Rule) -> dict[str, str]:
    """The ``queue`` of every task of the rule's DAG: its ``worker_queue``, if it has one.

    All of them, not the copies alone: the plan lists both registries and copies the blobs
    resources share, copies and deletions write to the destination, so workers serving only
    regional queues run a whole execution, with no default-queue worker needed. Without
    one, Airflow's ``[operators] default_queue`` applies; executors without queues ignore it.
    """
    return {"queue": rule.worker_queue} if rule.worker_queue else {}


def schedule(rule: Rule) -> str | list[Asset] | None:
    """The DAG schedule for the rule's trigger."""
    trigger = rule.trigger
    if trigger.type == "scheduled":
        return trigger.cron
    if trigger.type == "event_based":
        return schedule_assets(rule)
    return None


def schedule_assets(rule: Rule) -> list[Asset]:
    """The assets an event-based rule runs on: its source's; none for other triggers."""
    return [source_asset(rule.source)] if rule.trigger.type == "event_based" else []


def rule_doc(rule: Rule, path: Path) -> str:
    """The DAG's documentation: the rule at a glance, in Harbor's terms."""
    trigger = rule.trigger
    if trigger.type == "scheduled":
        when = f"scheduled, cron `{trigger.cron}`"
    elif trigger.type == "event_based":
        deletions = "deletions replicated" if rule.replicate_deletion else "deletions ignored"
        when = f"event based, on pushes to `{rule.source}` ({deletions})"
    else:
        when = "manual"
    name, tag = rule.filters.name, rule.filters.tag
    namespace = (
        f"`{rule.destination_namespace}` (replace count {rule.destination_namespace_replace_count})"
        if rule.destination_namespace
        else "source names kept"
    )
    rows = [
        ("Source", f"`{rule.source}`"),
        ("Destination", f"`{rule.destination}`"),
        ("Replication mode", modes.mode_row(rule)),
        ("Destination namespace", namespace),
        ("Name filter", f"{name.decoration} `{name.pattern}`" if name.pattern else "all"),
        ("Tag filter", f"{tag.decoration} `{tag.pattern}`" if tag.pattern else "all"),
        ("Resource filter", rule.filters.resource or "all"),
        ("Trigger", when),
        ("Override", "yes" if rule.override else "no"),
        ("Enabled", "yes" if rule.enabled else "no"),
        ("Retries", f"{rule.retries}, {rule.retry_delay_minutes} min apart"),
        ("Worker queue", f"`{rule.worker_queue}`" if rule.worker_queue else "Airflow's default"),
        ("Rule file", f"`{path}`"),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    intro = f"{rule.description}\n\n" if rule.description else ""
    return f"### Replication rule `{rule.name}`\n\n{intro}| | |\n|---|---|\n{table}\n"


def invalid_dag_id(path: Path) -> str:
    """``replicate_<file stem>``, with characters a DAG id cannot hold replaced."""
    return "replicate_" + re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)


def invalid_rule_dag(dag_id: str, error: RuleError) -> DAG:
    """A DAG that shows why a rule file is invalid and fails with that text if run."""
    message = str(error)
    with DAG(
        dag_id=dag_id,
        description=f"Invalid rule file {error.path.name}: {error.problems[0]}",
        doc_md=f"### Invalid replication rule file\n\nFix the file:\n\n```\n{message}\n```\n",
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        tags=["regrep", INVALID_TAG],
        auto_register=False,  # as rule_dag's
    ) as dag:

        @task(task_id="invalid_rule", retries=0)
        def invalid_rule() -> None:
            raise AirflowFailException(message)

        invalid_rule()
    return dag
