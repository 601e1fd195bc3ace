"""Rules in, DAGs out: one Airflow DAG ``replicate_<name>`` per replication rule file.

Each DAG is ``plan`` -> ``copy`` (mapped, one task instance per resource, labelled
``repo:tag``) -> ``summary``. A rule's trigger becomes the schedule: none for manual, its
cron for scheduled, and for event-based the asset of the source endpoint
(:func:`source_asset`), which the webhook receiver updates when the source reports a push.

Building is cheap because Airflow re-parses the DAG file at every task start: only Airflow's
SDK and the rule models are imported here (the registry client and ``requests`` load inside
the task bodies), and when Airflow says which DAG it is about to run
(:func:`airflow.sdk.get_parsing_context`) only that DAG is built.

An invalid rule file never stops the valid rules from loading. It becomes a DAG of its own,
``replicate_<file stem>`` tagged ``regrep-invalid``, whose description and docs carry the
:class:`RuleError` text (file, field, problem) and whose only task fails with it. We chose
this over Airflow's per-file import errors because those belong to the whole DAG file: a
raised error would hide every valid rule's DAG, and Airflow 3.3 offers a DAG file no way to
report an error for another file (the rule) while still returning DAGs. The placeholder
also keeps the id of a rule whose file just broke, so its DAG visibly turns into the error
instead of vanishing. The error is logged to the DAG processor's log as well.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, get_current_context, get_parsing_context, task
from airflow.sdk.exceptions import AirflowFailException

from regrep.rules import Rule, RuleError, load_rule_files, rule_files, rules_dir

log = logging.getLogger(__name__)

START_DATE = datetime(2024, 1, 1, tzinfo=UTC)
INVALID_TAG = "regrep-invalid"
COUNTS_KEY = "counts"  # the plan's second XCom: listed and unchanged, for the summary
# ``resource`` is the mapped argument, so the label is known before the task even starts.
MAP_INDEX_TEMPLATE = (
    "{{ task.op_kwargs.resource.source_repository }}:{{ task.op_kwargs.resource.tag }}"
)


def build_dags(default_rules_dir: Path) -> dict[str, DAG]:
    """Build the DAGs of every rule file in ``$REGREP_RULES_DIR`` (or ``default_rules_dir``).

    Returns ``{dag_id: DAG}`` for the DAG file's globals. When Airflow is parsing the file
    to run one task, only that task's DAG is built.
    """
    wanted = get_parsing_context().dag_id
    files, errors = rule_files([rules_dir(default_rules_dir)])
    dags: dict[str, DAG] = {}
    invalid: list[RuleError] = list(errors)
    for path, outcome in load_rule_files(files):
        if isinstance(outcome, RuleError):
            invalid.append(outcome)
        elif wanted in (None, outcome.dag_id):
            dags[outcome.dag_id] = rule_dag(outcome, path)
    for error in invalid:
        dag_id = invalid_dag_id(error.path)
        if wanted not in (None, dag_id):
            continue  # keep other DAGs' task logs free of this file's error
        log.error("Invalid replication rule: %s", error)
        if dag_id in dags:
            log.error("%s is taken by a valid rule: no DAG reports %s", dag_id, error.path)
        else:
            dags[dag_id] = invalid_rule_dag(dag_id, error)
    return dags


def rule_dag(rule: Rule, path: Path) -> DAG:
    """The DAG of one valid rule."""
    with DAG(
        dag_id=rule.dag_id,
        description=rule.description or f"Replicate {rule.source} to {rule.destination}",
        doc_md=rule_doc(rule, path),
        schedule=schedule(rule),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,  # Harbor runs one execution of a policy at a time
        is_paused_upon_creation=not rule.enabled,
        tags=["regrep", rule.trigger.type],
        default_args={
            "retries": rule.retries,
            "retry_delay": timedelta(minutes=rule.retry_delay_minutes),
        },
    ) as dag:

        @task(task_id="plan")
        def plan() -> list[dict[str, Any]]:
            from regrep.operators.plan import plan as run_plan

            planned = run_plan(rule)
            get_current_context()["ti"].xcom_push(key=COUNTS_KEY, value=planned.counts)
            return planned.copies

        @task(task_id="copy", map_index_template=MAP_INDEX_TEMPLATE)
        def copy(resource: dict[str, Any], mount_from: list[str]) -> dict[str, Any]:
            from regrep.operators.copy import copy as run_copy

            return run_copy(rule, resource, mount_from)

        @task(task_id="summary", trigger_rule="all_done", retries=0)
        def summary(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
            from regrep.operators.summary import summarise

            # The plan's output is pulled, not passed: after a failed plan there is none,
            # and the summary must still run to fail the DAG run with a clear message.
            ti = get_current_context()["ti"]
            copies = ti.xcom_pull(task_ids="plan")
            counts = ti.xcom_pull(task_ids="plan", key=COUNTS_KEY)
            # One slice read: iterating the lazy sequence would probe past its end.
            return summarise(rule, copies, counts, list(results[:]))

        # XComArgs at parse time; ``Any`` because the SDK types a task call by the
        # callable's own parameter types.
        copies: Any = plan()
        results: Any = copy.expand_kwargs(copies)
        summary(results)
    return dag


def schedule(rule: Rule) -> str | list[Asset] | None:
    """The DAG schedule for the rule's trigger."""
    trigger = rule.trigger
    if trigger.type == "scheduled":
        return trigger.cron
    if trigger.type == "event_based":
        return [source_asset(rule.source)]
    return None


def source_asset(conn_id: str) -> Asset:
    """The asset that stands for "content changed at this source endpoint"."""
    return Asset(name=f"regrep-source-{conn_id}", uri=f"x-regrep://{conn_id}")


def rule_doc(rule: Rule, path: Path) -> str:
    """The DAG's documentation: the rule at a glance, in Harbor's terms."""
    trigger = rule.trigger
    if trigger.type == "scheduled":
        when = f"scheduled, cron `{trigger.cron}`"
    elif trigger.type == "event_based":
        when = f"event based, on pushes to `{rule.source}`"
    else:
        when = "manual"
    tag = rule.filters.tag
    namespace = (
        f"`{rule.destination_namespace}` (replace count {rule.destination_namespace_replace_count})"
        if rule.destination_namespace
        else "source names kept"
    )
    rows = [
        ("Source", f"`{rule.source}`"),
        ("Destination", f"`{rule.destination}`"),
        ("Destination namespace", namespace),
        ("Name filter", f"`{rule.filters.name}`" if rule.filters.name else "all"),
        ("Tag filter", f"{tag.decoration} `{tag.pattern}`" if tag.pattern else "all"),
        ("Resource filter", rule.filters.resource or "all"),
        ("Trigger", when),
        ("Override", "yes" if rule.override else "no"),
        ("Enabled", "yes" if rule.enabled else "no"),
        ("Retries", f"{rule.retries}, {rule.retry_delay_minutes} min apart"),
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
    ) as dag:

        @task(task_id="invalid_rule", retries=0)
        def invalid_rule() -> None:
            raise AirflowFailException(message)

        invalid_rule()
    return dag
