"""The mapped ``copy`` task: replicate one resource with the transfer engine."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from regrep.operators.clients import rule_clients
from regrep.operators.outcomes import task_outcome
from regrep.planning import Resource
from regrep.rules import Rule
from regrep.transfer import copy_resource

log = logging.getLogger(__name__)


def copy(rule: Rule, resource: Mapping[str, Any], mount_from: Sequence[str]) -> dict[str, Any]:
    """Copy ``resource`` (a :meth:`Resource.to_dict`) and return the result for the summary.

    The transfer engine logs each blob (existing, mounted or copied, with size and speed)
    to this module's logger, which Airflow routes into the task log. The returned dict is
    :meth:`CopyResult.to_dict` plus ``resource``, the ``repo:tag`` label the summary uses
    to tell which planned resources have no result (failed).
    """
    item = Resource.from_dict(resource)
    log.info(
        "copying %s/%s to %s/%s:%s (override %s)",
        rule.source,
        item.label,
        rule.destination,
        item.destination_repository,
        item.tag,
        "on" if rule.override else "off",
    )
    with task_outcome(), rule_clients(rule) as (source, destination):
        result = copy_resource(
            source,
            destination,
            item.source_repository,
            item.tag,
            item.destination_repository,
            override=rule.override,
            mount_from=mount_from,
            copy_referrers=rule.copy_referrers,
            platforms=rule.filters.platforms,
            log=log,
        )
    return {"resource": item.label, **result.to_dict()}
