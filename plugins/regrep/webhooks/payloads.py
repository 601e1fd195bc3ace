"""What a source registry's webhook says, as :class:`ImageEvent` s.

Two senders are understood, told apart by their shape:

- a CNCF distribution registry's ``notifications`` envelope (media type
  ``application/vnd.docker.distribution.events.v1+json``): ``{"events": [...]}``, each event
  with ``action`` (push, pull, delete) and a ``target`` (``repository``, ``tag``, ``digest``,
  ``mediaType``, ``url``). Pushes and pulls of blobs come through too; only manifest pushes
  and deletions matter. distribution 2.x deletes manifests by digest, so its delete events
  carry no tag.
- Harbor's webhook, in its Default format (``type`` PUSH_ARTIFACT or DELETE_ARTIFACT,
  ``event_data.repository.repo_full_name``, ``event_data.resources[]`` with ``tag`` and
  ``digest``) or its CloudEvents format (``type`` harbor.artifact.pushed/deleted, the same
  fields under ``data``). Harbor fills ``tag`` with the digest for an untagged artifact.

Other events (pulls, scans, quota...) yield nothing. Pushes without a tag yield nothing
either: a rule replicates tags, and an index's children arrive with their tagged parent.
Pure: no Airflow, no HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from regrep.oci import manifests as oci
from regrep.planning.image_events import EventAction, EventError, ImageEvent

DISTRIBUTION_ACTIONS: dict[str, EventAction] = {"push": "push", "delete": "delete"}
HARBOR_TYPES: dict[str, EventAction] = {
    "PUSH_ARTIFACT": "push",
    "DELETE_ARTIFACT": "delete",
    "harbor.artifact.pushed": "push",
    "harbor.artifact.deleted": "delete",
}


class PayloadError(ValueError):
    """The body is neither format, or an event in it is malformed; the message says where."""


def parse_payload(body: Any) -> list[ImageEvent]:
    """The image events of a webhook body (parsed JSON), in the order the sender listed them."""
    if not isinstance(body, Mapping):
        raise PayloadError("the body must be a JSON object")
    if "events" in body:
        return _distribution(body["events"])
    if "type" in body:
        return _harbor(body)
    raise PayloadError(
        "neither a distribution notification (no 'events') nor a Harbor webhook (no 'type')"
    )


def _distribution(events: Any) -> list[ImageEvent]:
    if not isinstance(events, list):
        raise PayloadError("'events' must be a list")
    found: list[ImageEvent] = []
    for index, event in enumerate(events):
        where = f"events[{index}]"
        fields = _mapping(event, where)
        action = DISTRIBUTION_ACTIONS.get(str(fields.get("action")))
        if action is None:
            continue  # pulls
        target = _mapping(fields.get("target"), f"{where}.target")
        if action == "push" and not _is_manifest(target):
            continue  # blob uploads
        tag = _text(target, "tag", where)
        if action == "push" and tag is None:
            continue  # pushed by digest: no tag to replicate
        found.append(
            _event(action, _text(target, "repository", where), tag, target, where),
        )
    return found


def _harbor(body: Mapping[str, Any]) -> list[ImageEvent]:
    action = HARBOR_TYPES.get(str(body["type"]))
    if action is None:
        return []  # pulls, scans, quota and replication notices
    data_key = "data" if "specversion" in body else "event_data"
    data = _mapping(body.get(data_key), data_key)
    repository = _text(_mapping(data.get("repository"), "repository"), "repo_full_name", data_key)
    resources = data.get("resources")
    if not isinstance(resources, list):
        raise PayloadError(f"{data_key}.resources must be a list")
    found: list[ImageEvent] = []
    for index, resource in enumerate(resources):
        where = f"{data_key}.resources[{index}]"
        fields = _mapping(resource, where)
        tag = _text(fields, "tag", where)
        if tag is not None and oci.is_digest(tag):
            tag = None  # Harbor's stand-in for "untagged"
        if action == "push" and tag is None:
            continue
        found.append(_event(action, repository, tag, fields, where))
    return found


def _is_manifest(target: Mapping[str, Any]) -> bool:
    """A manifest push, not a blob's: by the URL distribution reports, else the media type."""
    url = target.get("url")
    if isinstance(url, str) and url:
        return "/manifests/" in url
    return target.get("mediaType") in oci.MANIFEST_TYPES


def _event(
    action: EventAction,
    repository: str | None,
    tag: str | None,
    fields: Mapping[str, Any],
    where: str,
) -> ImageEvent:
    if repository is None:
        raise PayloadError(f"{where}: no repository")
    try:
        return ImageEvent(action, repository, tag, _text(fields, "digest", where))
    except EventError as error:
        raise PayloadError(f"{where}: {error}") from None


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"{where} must be a JSON object")
    return value


def _text(fields: Mapping[str, Any], key: str, where: str) -> str | None:
    """A string field; absent or empty is None, any other type is an error."""
    value = fields.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where}.{key} must be a string")
    return value
