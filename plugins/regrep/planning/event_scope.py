"""What an event-triggered run of a rule replicates: the resources its events name.

A run started by hand or by the schedule replicates everything the rule selects. A run
started by asset events replans only the repositories and tags the events name (the rule's
filters still apply, in planning), and the digests of pushes without a tag (untagged
artifacts, replicated by digest where the tag filter selects them, as in Harbor); an event
naming a repository without a tag or digest, or a
referrer tag (a signature pushed after its image, which travels with its subject), replans
the whole repository, and an event naming nothing replans the whole source.

Delete events become :class:`Deletion` s only for rules with ``replicate_deletion``, and
only when the rule's name and tag filters select the resource; Harbor does not replicate
deletions otherwise, so they are logged and ignored. Pure: no Airflow.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from regrep.oci.referrers import is_referrer_tag
from regrep.planning.image_events import ImageEvent, latest_per_resource
from regrep.rules import Rule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deletion:
    """A deletion at the source, mapped to the destination. ``label`` names the source side."""

    label: str
    destination_repository: str
    tag: str | None
    digest: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form for XCom."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Deletion:
        return cls(
            label=str(data["label"]),
            destination_repository=str(data["destination_repository"]),
            tag=data.get("tag"),
            digest=data.get("digest"),
        )


@dataclass(frozen=True)
class EventScope:
    """``only``: repositories to plan and their tags and untagged digests (None: all), or
    None for everything."""

    only: dict[str, set[str] | None] | None
    deletions: list[Deletion]


def scope_of(rule: Rule, events: Sequence[ImageEvent] | None) -> EventScope:
    """The scope of a run triggered by ``events``; None means no event triggered it."""
    if events is None:
        return EventScope(only=None, deletions=[])
    only: dict[str, set[str] | None] = {}
    deletions: list[Deletion] = []
    everything = False
    for event in latest_per_resource(events):
        if event.action == "delete":
            deletion = _deletion(rule, event)
            if deletion is not None:
                deletions.append(deletion)
        elif event.repository is None:
            everything = True
        elif (event.tag is None and event.digest is None) or (
            event.tag is not None and is_referrer_tag(event.tag)
        ):
            only[event.repository] = None
        else:
            references = only.setdefault(event.repository, set())
            if references is not None:
                references.add(event.tag or str(event.digest))
    return EventScope(only=None if everything else only, deletions=deletions)


def _deletion(rule: Rule, event: ImageEvent) -> Deletion | None:
    """The destination side of a deletion, or None (logged) when the rule does not apply."""
    repository = str(event.repository)
    if not rule.replicate_deletion:
        log.info("ignoring deletion of %s: the rule does not replicate deletions", event.label)
        return None
    if not rule.filters.name.accepts(repository) or (
        event.tag is not None and not rule.filters.tag.accepts(event.tag)
    ):
        log.info("ignoring deletion of %s: the rule's filters do not select it", event.label)
        return None
    try:
        destination = rule.destination_repository(repository)
    except ValueError as error:
        log.warning("ignoring deletion of %s: %s", event.label, error)
        return None
    return Deletion(event.label, destination, event.tag, event.digest)
