"""The ``plan`` task: what one run of a rule copies, as the list the copy task maps over,
and what it deletes.

A run triggered by asset events replicates only what they name
(:mod:`regrep.planning.event_scope`); any other run replicates everything the rule selects.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from airflow.sdk import Context, conf
from airflow.sdk.exceptions import AirflowFailException

from regrep.engine.transfer import Transfer
from regrep.executions.record import COUNTS_KEY, DELETIONS_KEY, batch_key
from regrep.planning.event_scope import EventScope, scope_of
from regrep.planning.image_events import EventError, ImageEvent
from regrep.planning.planner import plan_replication
from regrep.planning.resources import Plan
from regrep.registry.cancellation import Cancellation
from regrep.rules import Rule
from regrep.tasks.assets import source_asset
from regrep.tasks.fanout import MAX_COPY_TASKS, copy_entries, seed
from regrep.tasks.outcomes import task_outcome
from regrep.tasks.rule_clients import rule_clients
from regrep.tasks.termination import stop_on_termination

log = logging.getLogger(__name__)

MOUNT_CANDIDATES = 2
"""Destination repositories offered to each copy for cross-repository blob mounts. A mount
of a blob the repository lacks costs two requests, so only the likeliest few are offered."""


LOGGED_RESOURCES = 200
"""Resources to copy the plan's log names one by one; a log of thousands helps nobody."""


@dataclass(frozen=True)
class RunWork:
    """The work of one run: ``copies`` for the mapped copy task (the repositories the rule
    cannot apply to included, see :mod:`regrep.tasks.fanout`), ``counts`` for the execution
    record, ``deletions`` (:meth:`Deletion.to_dict`) for the delete task.

    Each copy is the keyword arguments of one copy task instance (``resource``, a
    :meth:`Resource.to_dict`, ``mount_from``, ``seeded`` and ``more``, how many resources
    the rest of its batch holds: see :mod:`regrep.tasks.fanout`); ``batches`` are those rests by
    map index; ``counts`` holds ``listed`` and ``unchanged``. Airflow maps only over a
    task's return value, so the task returns the copies and passes the rest as XComs of
    their own (:func:`plan_task`).
    """

    copies: list[dict[str, Any]]
    counts: dict[str, int]
    deletions: list[dict[str, Any]]
    batches: dict[int, list[dict[str, Any]]]


def plan_task(rule: Rule, context: Context) -> list[dict[str, Any]]:
    """The plan task's body: plan this run, push counts and deletions, return the copies."""
    work = plan_run(rule, triggering_events(rule, context))
    ti = context["ti"]
    ti.xcom_push(COUNTS_KEY, work.counts)
    if work.deletions:
        ti.xcom_push(DELETIONS_KEY, work.deletions)
    for index, rest in work.batches.items():
        ti.xcom_push(batch_key(index), rest)
    return work.copies


def triggering_events(rule: Rule, context: Context) -> list[ImageEvent] | None:
    """The image events that triggered this run; None when no asset event did.

    An event-based rule's DAG is scheduled on its source's asset only, so every triggering
    event is about its source. An extra that is no image event is logged and left out.
    """
    if rule.trigger.type != "event_based":
        return None
    extras = [
        event.extra for events in context["triggering_asset_events"].values() for event in events
    ]
    if not extras:
        return None
    extras += stranded_extras(rule, context)
    found: list[ImageEvent] = []
    for extra in extras:
        try:
            found.append(ImageEvent.from_extra(extra))
        except EventError as error:
            log.warning("ignoring asset event %s: %s", extra, error)
    log.info(
        "triggered by %d event(s): %s",
        len(extras),
        ", ".join(f"{event.action} {event.label}" for event in found) or "none usable",
    )
    return found


def stranded_extras(rule: Rule, context: Context) -> list[dict[str, Any]]:
    """Events on the source's asset recorded after this run's trigger time.

    Airflow gives an asset-triggered run the events up to the time its queue entry was
    first made; events recorded while that entry waited (a burst of webhooks) are left to
    the next run, which only comes with yet another event. Reading them here (the plan's
    inlet is the source's asset) replicates them now; should a later run name them again,
    planning finds them unchanged at the destination and copies nothing twice.
    """
    asset = source_asset(rule.source)
    run_after = context["dag_run"].run_after
    events = context["inlet_events"][asset].after(run_after.isoformat())
    late = [dict(event.extra) for event in events if event.extra]
    if late:
        log.info("also planning %d event(s) recorded after this run was triggered", len(late))
    return late


def plan_run(rule: Rule, events: Sequence[ImageEvent] | None = None) -> RunWork:
    """Compare the source with the destination and return the work of this run.

    ``events`` are what triggered the run (None: no event did, replicate everything). A
    disabled rule refuses to run.
    """
    if not rule.enabled:
        raise AirflowFailException(
            f"rule {rule.name!r} is disabled (enabled: false in its rule file): "
            "set enabled: true to replicate"
        )
    scope = scope_of(rule, events)
    transfer, stop = Transfer.of(rule), Cancellation()
    # Stopped by Airflow (SIGTERM), the plan ends at once, shared blobs in flight abandoned.
    with (
        stop_on_termination(stop, log, what=f"the shared blobs of rule {rule.name}"),
        task_outcome(),
        rule_clients(rule, stop) as (source, destination),
    ):
        try:
            result = plan_replication(rule, source, destination, only=scope.only)
        except ValueError as error:  # the rule cannot apply to what the source holds
            raise AirflowFailException(f"rule {rule.name!r}: {error}") from error
        tasks = min(MAX_COPY_TASKS, conf.getint("core", "max_map_length", fallback=1024))
        held = list(dict.fromkeys(r.destination_repository for r in result.unchanged))
        seeded = seed(
            rule,
            result,
            source,
            destination,
            held[-MOUNT_CANDIDATES:],
            log,
            tasks,
            transfer=transfer,
        )
    copy_map = copy_entries(result, mount_candidates(result), seeded, tasks)
    _log_work(rule, result, scope, len(copy_map.instances))
    return RunWork(
        copies=copy_map.instances,
        batches=copy_map.rests,
        counts={"listed": result.listed, "unchanged": len(result.unchanged)},
        deletions=[deletion.to_dict() for deletion in scope.deletions],
    )


def mount_candidates(result: Plan) -> list[list[str]]:
    """For each resource to copy, destination repositories that may already hold its blobs.

    Images that share base layers usually live in different repositories. The repositories
    of unchanged resources hold their blobs already; those of resources earlier in the plan
    will once their copies finish (mapped copies start in plan order). The most recent
    repositories come first, as the likeliest to share a base with the next resource.
    """
    seen: dict[str, None] = dict.fromkeys(r.destination_repository for r in result.unchanged)
    candidates: list[list[str]] = []
    for resource in result.resources:
        own = resource.destination_repository
        candidates.append(
            list(islice((repo for repo in reversed(seen) if repo != own), MOUNT_CANDIDATES))
        )
        seen.pop(own, None)
        seen[own] = None
    return candidates


def _log_work(rule: Rule, result: Plan, scope: EventScope, instances: int) -> None:
    """Say in the plan task's log what the run will do, resource by resource (up to
    :data:`LOGGED_RESOURCES`)."""
    log.info(
        "rule %s: %d tag(s) listed at %s, %d to copy to %s, %d unchanged, %d to delete",
        rule.name,
        result.listed,
        rule.source,
        len(result.resources),
        rule.destination,
        len(result.unchanged),
        len(scope.deletions),
    )
    if instances < len(result.resources):
        log.info("%d copy task instances, each copying a batch of resources", instances)
    for resource in result.resources[:LOGGED_RESOURCES]:
        log.info(
            "to copy: %s -> %s (%s)", resource.label, resource.destination_label, resource.digest
        )
    if len(result.resources) > LOGGED_RESOURCES:
        log.info("... and %d more to copy", len(result.resources) - LOGGED_RESOURCES)
    for deletion in scope.deletions:
        log.info("to delete: %s at %s", deletion.label, deletion.destination_repository)
    for refusal in result.refused:
        log.error("not replicated: %s: %s", refusal.label, refusal.message)
