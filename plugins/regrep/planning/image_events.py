"""Image events: "this tag was pushed to (or deleted from) this source endpoint".

Event-based rules are scheduled on one Airflow asset per source endpoint
(:func:`asset_name`, :func:`asset_uri`). Whoever learns of a change at the source records an
asset event whose ``extra`` is an :class:`ImageEvent` (:meth:`ImageEvent.to_extra`): the
webhook receiver (:mod:`regrep.webhooks`), any DAG with the asset as an outlet, or a user
through ``POST /api/v2/assets/events``. The plan task reads them back with
:meth:`ImageEvent.from_extra`.

An extra may name less than a tag: a repository alone means "every tag of it", and an empty
extra means "something changed here", which replans the whole source. Pure: no Airflow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from regrep.oci.manifests import is_digest, validate_repository

EventAction = Literal["push", "delete"]
ACTIONS: tuple[EventAction, ...] = ("push", "delete")
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")  # distribution-spec's tag grammar


def asset_name(conn_id: str) -> str:
    """The name of the asset that stands for "content changed at this source endpoint"."""
    return f"regrep-source-{conn_id}"


def asset_uri(conn_id: str) -> str:
    """The URI of that asset (an ``x-`` scheme: Airflow does not validate it)."""
    return f"x-regrep://{conn_id}"


class EventError(ValueError):
    """An event names no usable action or resource; the message says which field."""


@dataclass(frozen=True)
class ImageEvent:
    """A push or deletion at the source; ``None`` fields are unknown to the sender.

    A distribution registry names a deleted manifest by digest only; a push by digest has
    no tag. ``repository`` None (only from Airflow itself) means the whole source.
    """

    action: EventAction = "push"
    repository: str | None = None
    tag: str | None = None
    digest: str | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise EventError(f"action {self.action!r} is not one of {', '.join(ACTIONS)}")
        if self.repository is None and (self.tag or self.digest):
            raise EventError("an event naming a tag or digest must name its repository")
        if self.action == "delete" and not (self.repository and (self.tag or self.digest)):
            raise EventError("a delete event must name a repository and a tag or digest")
        if self.repository is not None:
            try:
                validate_repository(self.repository)
            except ValueError as error:
                raise EventError(str(error)) from None
        if self.tag is not None and TAG_RE.fullmatch(self.tag) is None:
            raise EventError(f"invalid tag {self.tag!r}")
        if self.digest is not None and not is_digest(self.digest):
            raise EventError(f"invalid digest {self.digest!r}")

    @property
    def label(self) -> str:
        """``repo:tag``, ``repo@digest``, ``repo`` or ``*`` for logs and task labels."""
        if self.repository is None:
            return "*"
        if self.tag:
            return f"{self.repository}:{self.tag}"
        if self.digest:
            return f"{self.repository}@{self.digest}"
        return self.repository

    def to_extra(self) -> dict[str, str]:
        """The asset event's ``extra``: the fields that are known."""
        fields = {
            "action": self.action,
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
        }
        return {key: value for key, value in fields.items() if value}

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> ImageEvent:
        """Read an asset event's ``extra``; :class:`EventError` names a bad field."""
        values: dict[str, Any] = {}
        for field in ("action", "repository", "tag", "digest"):
            value = extra.get(field)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise EventError(f"field {field!r} must be a string, got {value!r}")
            values[field] = value
        return cls(**values)


def latest_per_resource(events: Iterable[ImageEvent]) -> list[ImageEvent]:
    """Keep the last event per resource, in first-seen order.

    A tag pushed and then deleted within one run is deleted; deleted and pushed again, it
    is copied. Resources are told apart by repository and tag (or digest, without a tag).
    """
    latest: dict[tuple[str | None, str | None], ImageEvent] = {}
    for event in events:
        latest[(event.repository, event.tag or event.digest)] = event
    return list(latest.values())
