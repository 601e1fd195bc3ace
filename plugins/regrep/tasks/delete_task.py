"""The ``delete`` task of rules with ``replicate_deletion``: Harbor's "Delete remote resources
when locally deleted".

The plan turns each delete event that passes the rule's filters into a
:class:`~regrep.planning.event_scope.Deletion`; this task deletes the destination's manifest
by digest, but only when the destination still holds what the source deleted: a destination tag that
now points at another digest was pushed again since (or never came from this rule), and is
skipped with a message saying so. Deleting by digest removes every destination tag pointing
at that manifest, as the deletion at the source did.

Each deletion gets its own entry in the result (deleted, skipped, or failed with the
registry's error); only a transient failure (5xx, rate limit, unreachable) fails the task,
so its retry redoes the deletions, which are idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from regrep.planning.event_scope import Deletion
from regrep.registry.errors import ConnectionFailed, RateLimited, RegistryError, ServerError
from regrep.registry.protocols import DestinationRegistry
from regrep.rules import Rule
from regrep.tasks.outcomes import recorded_failure, task_outcome
from regrep.tasks.rule_clients import rule_clients

log = logging.getLogger(__name__)

TRANSIENT_ERRORS = (ServerError, RateLimited, ConnectionFailed)


def delete(rule: Rule, deletions: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Apply the planned deletions at the destination; one result entry per deletion."""
    with recorded_failure("deletions"), task_outcome(), rule_clients(rule) as (_, destination):
        return [apply(destination, Deletion.from_dict(item)) for item in deletions]


def apply(destination: DestinationRegistry, deletion: Deletion) -> dict[str, str]:
    """Delete one resource at the destination; log and return what happened."""
    repository = deletion.destination_repository
    reference = deletion.tag or deletion.digest
    target = f"{destination.name}/{repository}" + (
        f":{deletion.tag}" if deletion.tag else f"@{deletion.digest}"
    )
    try:
        present = destination.head_manifest(repository, str(reference))
        if present is None:
            status, message = "skipped", f"{target} is not at the destination: nothing to delete"
        elif deletion.digest and present.digest != deletion.digest:
            status, message = (
                "skipped",
                f"{target} now points at {present.digest}, not at the deleted "
                f"{deletion.digest}: kept",
            )
        else:
            destination.delete_manifest(repository, present.digest)
            status, message = "deleted", f"deleted {target} (manifest {present.digest})"
    except TRANSIENT_ERRORS:
        raise
    except RegistryError as error:
        status, message = "failed", f"could not delete {target}: {error}"
    (log.info if status != "failed" else log.error)("%s", message)
    return {"resource": deletion.label, "status": status, "message": message}
