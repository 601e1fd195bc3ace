"""How a run's resources fan out over the instances of the mapped ``copy`` task.

One task instance per resource is regrep's promise (each ``repo:tag`` has its own retries,
log and state), up to :data:`MAX_COPY_TASKS` resources. Beyond that an instance costs more
than it gives and Airflow caps mapping at ``[core] max_map_length``, so a larger plan is cut
into batches of consecutive resources of at least :data:`MIN_BATCH`, into at most
:data:`MAX_COPY_TASKS` instances (fewer under a lower ``max_map_length``), each labelled
``repo:tag (+N more)`` (docs/performance.md, "Many resources: batches").

A copy instance's keyword arguments are one resource's entry (``resource``, a
:meth:`~regrep.planning.resources.Resource.to_dict` with the referrer tags its copy asks
about; ``mount_from``; ``seeded``, where the blobs it shares with other resources were put,
:mod:`regrep.engine.seeding`) plus ``more``, how many resources the rest of its batch holds.
That rest travels apart, as the plan's XCom :func:`~regrep.executions.record.batch_key` of
the instance: every mapped instance reads the whole mapped list when it starts.

Repositories the plan refused get one last instance, whose ``resource`` lists them
(:data:`~regrep.executions.record.REFUSED`): it fails with their reasons, so the run fails as
Harbor's execution does, with no task after the copies to decide it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from regrep.engine.seeding import seed_shared_blobs
from regrep.engine.transfer import Transfer
from regrep.executions.record import REFUSED
from regrep.registry.protocols import DestinationRegistry, SourceRegistry

if TYPE_CHECKING:
    from regrep.planning.resources import Plan
    from regrep.rules import Rule

MAX_COPY_TASKS = 256
"""Copy task instances of one run, at most; more resources are batched."""
MIN_BATCH = 20
"""Resources of a batch, at least: a task instance costs about a second of Airflow's time,
a small image's copy a fraction of one, so a batch of 20 spends most of its time copying."""


@dataclass(frozen=True)
class CopyMap:
    """What the copy task is mapped over, and the rest of each batch."""

    instances: list[dict[str, Any]]  # each instance's keyword arguments, ``more`` a count
    rests: dict[int, list[dict[str, Any]]]  # by map index: the entries after the first


def copy_entries(
    plan: Plan,
    mount_from: Sequence[list[str]],
    seeded: Sequence[dict[str, str]],
    max_tasks: int = MAX_COPY_TASKS,
) -> CopyMap:
    """The copy task instances (at most ``max_tasks``, and the refusals' one) and the rests of
    their batches."""
    entries = [
        {"resource": resource.to_dict(), "mount_from": candidates, "seeded": shared}
        for resource, candidates, shared in zip(plan.resources, mount_from, seeded, strict=True)
    ]
    size = 1
    if len(entries) > max_tasks:
        size = max(MIN_BATCH, -(-len(entries) // max(1, max_tasks)))  # ceiling division
    batches = [entries[start : start + size] for start in range(0, len(entries), size)]
    instances = [{**batch[0], "more": len(batch) - 1} for batch in batches]
    if plan.refused:
        refused = [refusal.to_dict() for refusal in plan.refused]
        instances.append(
            {"resource": {REFUSED: refused}, "mount_from": [], "seeded": {}, "more": 0}
        )
    return CopyMap(
        instances=instances,
        rests={index: batch[1:] for index, batch in enumerate(batches) if len(batch) > 1},
    )


def seed(
    rule: Rule,
    plan: Plan,
    source: SourceRegistry,
    destination: DestinationRegistry,
    mount_from: Sequence[str],
    log: logging.Logger,
    max_tasks: int = MAX_COPY_TASKS,
    *,
    transfer: Transfer,
) -> list[dict[str, str]]:
    """Copy the large blobs the plan's resources share, once (:mod:`regrep.engine.seeding`).

    Only for a run of one instance per resource: a batch shares its uploads in its own
    process, and reading thousands of manifests ahead would slow planning down more than
    it saves. ``mount_from`` names destination repositories that may hold them already;
    ``transfer`` (:meth:`Transfer.of` the rule) is the plan task's, so its stop reaches them.
    """
    resources = plan.resources
    if not 1 < len(resources) <= max_tasks:
        return [{} for _ in resources]
    return seed_shared_blobs(
        source,
        destination,
        resources,
        transfer=transfer,
        log=log,
        mount_from=mount_from,
        platforms=rule.filters.platforms,
    )
