"""Preview: what a rule would replicate now, without copying anything (Harbor has none).

The preview plans the way a run's ``plan`` task does (:func:`regrep.planning.planner.
plan_replication`: the same filters, destination names and unchanged detection), bounded
for large sources:

- the source is listed (repositories, then their tags, :data:`PLAN_WORKERS` at a time)
  for at most ``seconds`` / 2; the tags the rule's name and tag filters select are counted,
  and ``complete`` says whether every repository was listed in time;
- only the first ``limit`` of them (in the run's order: by repository, then tag) are
  inspected at both ends, each shown with its destination and whether it is ``new`` there,
  ``changed`` (the destination tag points elsewhere, or its signatures are missing) or
  already ``in_place``. The resource, label and platform filters, which need each
  manifest, apply to those only.

Past ``seconds`` in all, :class:`PreviewTimeout` is raised and the registry clients stop
retrying; a request in flight ends at its own timeout.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from regrep.planning.listing import PLAN_WORKERS, list_candidates, select_repositories
from regrep.planning.planner import plan_replication
from regrep.planning.resources import Resource
from regrep.registry.cancellation import Cancellation
from regrep.registry.protocols import DestinationRegistry
from regrep.rules import Rule
from regrep.tasks.rule_clients import rule_clients

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
DEFAULT_SECONDS = 60.0
MAX_SECONDS = 300.0


class PreviewTimeout(TimeoutError):
    """The registries did not answer within the preview's time."""


def preview(
    rule: Rule, limit: int = DEFAULT_LIMIT, seconds: float = DEFAULT_SECONDS
) -> dict[str, Any]:
    """The preview of ``rule`` as the API answers it (see the module docstring)."""
    stop = Cancellation()
    started = time.monotonic()
    pool = ThreadPoolExecutor(1, thread_name_prefix="regrep-preview")
    future = pool.submit(_preview, rule, limit, started + seconds / 2, stop)
    pool.shutdown(wait=False)
    try:
        answer = future.result(timeout=seconds)
    except TimeoutError:
        stop.cancel("the preview ran out of time")
        raise PreviewTimeout(
            f"the registries did not answer within {seconds:.0f} s: preview fewer resources "
            "(limit) or narrow the rule's filters"
        ) from None
    return {**answer, "seconds": round(time.monotonic() - started, 2)}


def _preview(rule: Rule, limit: int, listing_deadline: float, stop: Cancellation) -> dict[str, Any]:
    with rule_clients(rule, stop) as (source, destination):
        selected = select_repositories(rule, source, deadline=listing_deadline)
        listing = list_candidates(rule, source, selected, deadline=listing_deadline)
        shown = listing.candidates[:limit]
        only: dict[str, set[str]] = {}
        for repository, tag in shown:
            only.setdefault(repository, set()).add(tag)
        items: list[dict[str, Any]] = []
        if shown:
            plan = plan_replication(rule, source, destination, only=only)
            items = [_item(resource, "in_place", "") for resource in plan.unchanged]
            items += _compare(rule, destination, plan.resources)
    items.sort(key=lambda item: (item["source_repository"], item["tag"] or "", item["digest"]))
    return {
        "rule": rule.name,
        "total": len(listing.candidates),
        "complete": listing.complete,
        "repositories": listing.repositories,
        "repositories_listed": listing.repositories_listed,
        "inspected": len(shown),
        "limit": limit,
        "items": items,
        "counts": {
            status: sum(1 for item in items if item["status"] == status)
            for status in ("new", "changed", "in_place")
        },
    }


def _compare(
    rule: Rule, destination: DestinationRegistry, resources: Sequence[Resource]
) -> list[dict[str, Any]]:
    """Resources a run would copy: new at the destination, or changed there."""
    with ThreadPoolExecutor(PLAN_WORKERS, thread_name_prefix="regrep-preview-dst") as pool:
        heads: list[Future[Any]] = [
            pool.submit(destination.head_manifest, r.destination_repository, r.reference)
            for r in resources
        ]
        items = []
        for resource, head in zip(resources, heads, strict=True):
            current = head.result()
            if current is None:
                items.append(_item(resource, "new", ""))
            elif current.digest == resource.digest:
                note = "in place, but some of its signatures or SBOMs are missing there"
                items.append(_item(resource, "changed", note))
            elif rule.override:
                note = f"the destination tag points at {current.digest}: it is overwritten"
                items.append(_item(resource, "changed", note))
            else:
                note = f"the destination tag points at {current.digest}: kept (override off)"
                items.append(_item(resource, "changed", note))
    return items


def _item(resource: Resource, status: str, note: str) -> dict[str, Any]:
    return {
        "source": resource.label,
        "source_repository": resource.source_repository,
        "tag": resource.tag,
        "destination": resource.destination_label,
        "digest": resource.digest,
        "status": status,
        "note": note,
    }
