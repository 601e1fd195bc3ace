"""The mapped ``copy`` task: replicate one resource, or a batch, with the transfer engine."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowFailException

from regrep.engine.resource_copy import copy_resource
from regrep.engine.transfer import Transfer
from regrep.executions.record import BATCH_RESULTS_KEY, PLAN_TASK, batch_key, refusals
from regrep.planning.resources import Resource
from regrep.registry.cancellation import Cancellation
from regrep.registry.errors import RegistryError, is_transient
from regrep.registry.protocols import DestinationRegistry, SourceRegistry
from regrep.rules import Rule
from regrep.tasks.outcomes import recorded_failure, task_outcome
from regrep.tasks.rule_clients import rule_clients
from regrep.tasks.termination import stop_on_termination

log = logging.getLogger(__name__)

NAMED_REFUSALS = 20
"""Refused repositories the failure of their instance names; the execution record has all."""


def copy(
    rule: Rule, entry: Mapping[str, Any], more: int = 0
) -> dict[str, Any] | list[dict[str, Any]]:
    """Copy the resource of ``entry`` (and the ``more`` resources of the rest of its batch,
    read from the plan's XCom): its result.

    An entry is what the plan gave this instance (:mod:`regrep.tasks.fanout`): ``resource`` (a
    :meth:`Resource.to_dict`), ``mount_from`` and ``seeded``. The transfer engine logs each
    blob (existing, mounted or copied, with size and speed) to this module's logger, which
    Airflow routes into the task log. A result is :meth:`CopyResult.to_dict` plus
    ``resource``, the ``repo:tag`` label; a batch returns one per resource. A failure that
    will not be retried is recorded too, so the execution record tells it from a stop. The
    entry of the repositories the plan refused fails, naming them.
    """
    refused = refusals(entry)
    if refused is not None:
        raise AirflowFailException(refusal_message(refused))
    entries = [entry, *(batch_rest(more) if more else ())]
    label = Resource.from_dict(entry["resource"]).label
    transfer = Transfer.of(rule)  # one per task: the batch's copies share its uploads
    stop = Cancellation()
    # Airflow stops a task with SIGTERM: end the copy at once instead of being SIGKILLed.
    with (
        stop_on_termination(stop, log, what=f"{label} (+{more} more)" if more else label),
        recorded_failure(label),
        task_outcome(),
        rule_clients(rule, stop) as (source, destination),
    ):
        if not more:
            return _copy_one(rule, source, destination, entry, transfer)
        return _copy_batch(rule, source, destination, entries, transfer)


def refusal_message(refused: Sequence[Mapping[str, str]]) -> str:
    """Why the refusals' instance fails: each refused repository and the plan's reason."""
    named = "; ".join(f"{r['label']}: {r['message']}" for r in refused[:NAMED_REFUSALS])
    more = len(refused) - NAMED_REFUSALS
    return f"the rule cannot replicate {len(refused)} source repositories, not copied: {named}" + (
        f"; and {more} more (the run's note lists them)" if more > 0 else ""
    )


def batch_rest(more: int) -> list[Mapping[str, Any]]:
    """The entries after this instance's first, which the plan left as an XCom of its own."""
    ti = get_current_context()["ti"]
    key = batch_key(ti.map_index if ti.map_index is not None else -1)
    rest = ti.xcom_pull(task_ids=PLAN_TASK, key=key)
    if not isinstance(rest, list) or len(rest) != more:
        found = f"{len(rest)} entries" if isinstance(rest, list) else "nothing"
        raise AirflowFailException(
            f"the plan's XCom {key!r} should hold the {more} other "
            f"resources of this batch and holds {found}: clear the plan task to plan again"
        )
    return rest


def _copy_one(
    rule: Rule,
    source: SourceRegistry,
    destination: DestinationRegistry,
    entry: Mapping[str, Any],
    transfer: Transfer,
    source_tags: set[str] | None = None,
) -> dict[str, Any]:
    item = Resource.from_dict(entry["resource"])
    log.info(
        "copying %s/%s to %s/%s (override %s)",
        rule.source,
        item.label,
        rule.destination,
        item.destination_label,
        "on" if rule.override else "off",
    )
    for digest, repository in (entry.get("seeded") or {}).items():
        transfer.ledger.note(digest, repository)  # put there by the plan: mount it
    result = copy_resource(
        source,
        destination,
        item.source_repository,
        item.reference,
        item.destination_repository,
        override=rule.override,
        mount_from=entry.get("mount_from") or (),
        copy_referrers=rule.copy_referrers,
        platforms=rule.filters.platforms,
        transfer=transfer,
        source_tags=item.referrer_tags if source_tags is None else source_tags,
        log=log,
    )
    return {"resource": item.label, **result.to_dict()}


def _copy_batch(
    rule: Rule,
    source: SourceRegistry,
    destination: DestinationRegistry,
    entries: Sequence[Mapping[str, Any]],
    transfer: Transfer,
) -> list[dict[str, Any]]:
    """Copy each resource of a batch; one failure does not stop the others.

    The plan hands each resource the referrer tags its copy asks about; where it could not,
    the source repository's tags are listed once for the batch. If a
    resource failed, the results are left as :data:`BATCH_RESULTS_KEY` and the first
    transient error (else the first error) fails the task: a retry copies the batch again,
    finding in place what already made it.
    """
    log.info("copying a batch of %d resources", len(entries))
    results: list[dict[str, Any]] = []
    errors: list[RegistryError] = []
    tag_lists: dict[str, set[str]] = {}
    for entry in entries:
        item = Resource.from_dict(entry["resource"])
        try:
            tags = None
            if rule.copy_referrers and item.referrer_tags is None:
                repository = item.source_repository
                if repository not in tag_lists:
                    tag_lists[repository] = set(source.list_tags(repository))
                tags = tag_lists[repository]
            results.append(_copy_one(rule, source, destination, entry, transfer, tags))
        except RegistryError as error:
            log.error("%s failed: %s", item.label, error)
            errors.append(error)
            results.append({"resource": item.label, "status": "failed", "message": str(error)})
    if errors:
        get_current_context()["ti"].xcom_push(BATCH_RESULTS_KEY, results)
        log.error("%d of %d resources of the batch failed", len(errors), len(entries))
        raise next((e for e in errors if is_transient(e)), errors[0])
    return results
