"""The ``plan`` task: what one run of a rule copies, as the list the copy task maps over."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import islice
from typing import Any

from airflow.sdk import conf
from airflow.sdk.exceptions import AirflowFailException

from regrep.operators.clients import rule_clients
from regrep.operators.outcomes import task_outcome
from regrep.planning import Plan, plan_replication
from regrep.rules import Rule

log = logging.getLogger(__name__)

MOUNT_CANDIDATES = 2
"""Destination repositories offered to each copy for cross-repository blob mounts. A mount
of a blob the repository lacks costs two requests, so only the likeliest few are offered."""


@dataclass(frozen=True)
class PlannedRun:
    """The work of one run: ``copies`` for the mapped copy task, ``counts`` for the summary.

    Each copy is the keyword arguments of one copy task instance (``resource``, a
    :meth:`Resource.to_dict`, and ``mount_from``); ``counts`` holds ``listed`` and
    ``unchanged``. Airflow maps only over a task's return value, so the DAG returns the
    copies and passes the counts as a second XCom.
    """

    copies: list[dict[str, Any]]
    counts: dict[str, int]


def plan(rule: Rule) -> PlannedRun:
    """List the source, compare with the destination, and return the work of this run.

    A disabled rule refuses to run.
    """
    if not rule.enabled:
        raise AirflowFailException(
            f"rule {rule.name!r} is disabled (enabled: false in its rule file): "
            "set enabled: true to replicate"
        )
    with task_outcome(), rule_clients(rule) as (source, destination):
        try:
            result = plan_replication(rule, source, destination)
        except ValueError as error:  # the rule cannot apply to what the source holds
            raise AirflowFailException(f"rule {rule.name!r}: {error}") from error
    check_map_length(rule, len(result.resources))
    log.info(
        "rule %s: %d tag(s) listed at %s, %d to copy to %s, %d unchanged",
        rule.name,
        result.listed,
        rule.source,
        len(result.resources),
        rule.destination,
        len(result.unchanged),
    )
    for resource in result.resources:
        log.info(
            "to copy: %s -> %s:%s (%s)",
            resource.label,
            resource.destination_repository,
            resource.tag,
            resource.digest,
        )
    return PlannedRun(
        copies=[
            {"resource": resource.to_dict(), "mount_from": candidates}
            for resource, candidates in zip(result.resources, mount_candidates(result), strict=True)
        ],
        counts={"listed": result.listed, "unchanged": len(result.unchanged)},
    )


def check_map_length(rule: Rule, count: int) -> None:
    """Refuse a plan longer than Airflow can map, saying so in the rule's terms.

    Airflow would otherwise reject the plan's result with "pushed value is too large to
    map as a downstream's dependency".
    """
    limit = conf.getint("core", "max_map_length", fallback=1024)
    if count > limit:
        raise AirflowFailException(
            f"rule {rule.name!r} has {count} resources to copy, more than the {limit} task "
            "instances Airflow maps per task ([core] max_map_length): narrow the rule's "
            "filters or raise max_map_length"
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
