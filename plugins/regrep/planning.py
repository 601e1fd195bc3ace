"""Planning: which tags a rule replicates, and which are already in place.

Planning lists the source (repositories, then tags), applies Harbor's name and tag filters,
works out each destination repository and compares manifest digests at both ends: a tag
whose destination already points at the source digest is ``unchanged`` and is not copied
again. The digest comparison costs one HEAD request per tag at each end, which dominates
planning time for thousands of tags, so those requests run in a small bounded thread pool;
results are always ordered by (repository, tag), whatever order the requests finish in.
Importable without Airflow.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from regrep import filters, oci
from regrep.oci import Descriptor, Manifest
from regrep.registry import RegistryClient
from regrep.registry.errors import NotFound
from regrep.rules import ResourceType, Rule

log = logging.getLogger(__name__)

PLAN_WORKERS = 8
"""Concurrent registry requests while planning: enough to hide latency, few enough to stay
polite to a registry (and under typical rate limits)."""

_IMAGE_CONFIGS = frozenset({oci.DOCKER_CONFIG, oci.OCI_CONFIG})

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


@dataclass(frozen=True)
class Resource:
    """One tag to replicate: where it comes from, where it goes, and what it points at."""

    source_repository: str
    tag: str
    destination_repository: str
    digest: str
    media_type: str

    @property
    def label(self) -> str:
        """``repo:tag`` at the source, for logs and task names."""
        return f"{self.source_repository}:{self.tag}"

    def to_dict(self) -> dict[str, str]:
        """A JSON-serialisable form (Airflow passes plans between tasks through XCom)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Resource:
        """Rebuild a resource from :meth:`to_dict`; ``ValueError`` if a field is missing."""
        values: dict[str, str] = {}
        for field in dataclasses.fields(cls):
            value = data.get(field.name)
            if not isinstance(value, str):
                raise ValueError(f"resource field {field.name!r} must be a string, got {value!r}")
            values[field.name] = value
        return cls(**values)


@dataclass(frozen=True)
class Plan:
    """What one run of a rule has to do.

    ``resources`` are the tags to copy, ``unchanged`` the tags whose destination already
    holds the source digest, and ``listed`` the number of tags that passed the name and tag
    filters (the resource filter, when set, drops some of those from both lists).
    """

    resources: list[Resource]
    unchanged: list[Resource]
    listed: int


def resource_type(manifest: Manifest) -> ResourceType:
    """Classify a manifest for Harbor's resource filter.

    A Helm chart has the Helm config media type; an image is a Docker or OCI image manifest
    with an image config (or a schema1 manifest), or an index whose entries declare no
    artifact type; anything else (``artifactType`` set, a custom config) is an artifact.
    """
    if manifest.is_index:
        entries = manifest.children
        if manifest.artifact_type or any(entry.artifact_type for entry in entries):
            return "artifact"
        return "image"
    if manifest.media_type in oci.SCHEMA1_TYPES:
        return "image"
    config = manifest.config
    if config is not None and config.media_type == oci.HELM_CONFIG:
        return "chart"
    if (
        manifest.artifact_type is None
        and config is not None
        and config.media_type in _IMAGE_CONFIGS
    ):
        return "image"
    return "artifact"


def plan_replication(rule: Rule, source: RegistryClient, destination: RegistryClient) -> Plan:
    """List what ``rule`` selects at ``source`` and compare it with ``destination``.

    Manifests are fetched only when the rule filters by resource type; otherwise HEAD
    requests suffice. A tag deleted between listing and inspection is left out. Raises
    ``ValueError`` if the namespace flattening cannot apply to a selected repository or
    sends two of them to one destination, and the registry client's typed errors if a
    registry fails.
    """
    repositories = sorted(
        repository
        for repository in source.list_repositories()
        if filters.match(rule.filters.name, repository)
    )
    targets = _destinations(rule, repositories)

    def selected_tags(repository: str) -> list[str]:
        return sorted(tag for tag in source.list_tags(repository) if rule.filters.tag.accepts(tag))

    def inspect(candidate: tuple[str, str]) -> tuple[Resource, bool] | None:
        repository, tag = candidate
        found = _source_descriptor(source, repository, tag, rule.filters.resource)
        if found is None:
            return None
        resource = Resource(repository, tag, targets[repository], found.digest, found.media_type)
        current = destination.head_manifest(resource.destination_repository, tag)
        return resource, current is not None and current.digest == found.digest

    with ThreadPoolExecutor(PLAN_WORKERS, thread_name_prefix="regrep-plan") as pool:
        tag_lists = _map_all(pool, selected_tags, repositories)
        candidates = [
            (repository, tag)
            for repository, tags in zip(repositories, tag_lists, strict=True)
            for tag in tags
        ]
        outcomes = _map_all(pool, inspect, candidates)

    resources: list[Resource] = []
    unchanged: list[Resource] = []
    for outcome in outcomes:
        if outcome is not None:
            resource, same = outcome
            (unchanged if same else resources).append(resource)
    return Plan(resources=resources, unchanged=unchanged, listed=len(candidates))


def _destinations(rule: Rule, repositories: Sequence[str]) -> dict[str, str]:
    """Map each source repository to its destination, refusing two sources on one target.

    Flattening can send different repositories to one place (``a/x`` and ``b/x`` both to
    ``n/x``); their tags would overwrite each other, so planning stops and says which.
    """
    targets: dict[str, str] = {}
    owners: dict[str, str] = {}
    for repository in repositories:
        target = rule.destination_repository(repository)
        owner = owners.setdefault(target, repository)
        if owner != repository:
            raise ValueError(
                f'repositories "{owner}" and "{repository}" would both replicate to "{target}": '
                "choose a destination_namespace_replace_count that keeps their names apart"
            )
        targets[repository] = target
    return targets


def _source_descriptor(
    source: RegistryClient, repository: str, tag: str, wanted: ResourceType | None
) -> Descriptor | None:
    """The source manifest's descriptor, or None if the tag is gone or filtered out by type."""
    descriptor: Descriptor | None
    if wanted is None:
        descriptor = source.head_manifest(repository, tag)
    else:
        try:
            manifest = source.get_manifest(repository, tag)
        except NotFound:
            descriptor = None
        else:
            if resource_type(manifest) != wanted:
                return None
            descriptor = manifest.descriptor()
    if descriptor is None:
        log.info("Skipping %s:%s: the tag disappeared after listing", repository, tag)
    return descriptor


def _map_all(
    pool: ThreadPoolExecutor, function: Callable[[_Item], _Result], items: Sequence[_Item]
) -> list[_Result]:
    """Run ``function`` over ``items`` in ``pool``, results in input order.

    On the first failure the requests not yet started are cancelled before the error
    propagates, so a dead registry does not keep planning busy for thousands of tags.
    """
    futures = [pool.submit(function, item) for item in items]
    try:
        return [future.result() for future in futures]
    except BaseException:
        for future in futures:
            future.cancel()
        raise
