"""Planning: which tags and untagged artifacts a rule replicates, and which are in place.

Planning lists the source (repositories, then tags), applies Harbor's name and tag filters,
works out each destination repository and compares manifest digests at both ends: a tag
whose destination already points at the digest it would get is ``unchanged`` and is not
copied again, unless ``copy_referrers`` finds signatures or SBOMs the destination lacks.

Artifacts without a tag are resources too, as in Harbor, whose tag filter matches them as
the tag ``""`` (:attr:`~regrep.rules.TagFilter.selects_untagged`): they are copied by
digest and are unchanged when the destination has that digest. Only a source that lists
them (Harbor: ``untagged_digests``) or an event naming
a digest brings them; a plain registry cannot list manifests without tags.

A repository the rule's namespace flattening cannot apply to (fewer namespace parts than
the replace count) is ``refused``: its resources are neither listed nor copied, the run
fails with the reason, and every other repository replicates as usual.
The resource filter and a platform filter need the manifest (a GET instead of a HEAD); a
label filter asks the source for labels (Harbor only).

With ``copy_referrers`` the referrers tags and cosign tags (``sha256-<hex>[.sig]``) are no
resources of their own: they travel with the manifest they name, whatever the tag filter.
Each resource to copy carries the ones its copy will ask about (``referrer_tags``), so a
copy task never lists the repository's tags again (see :func:`_hand_referrer_tags`).

The comparison costs a request or two per tag at each end, which dominates planning time
for thousands of tags, so those requests run in a small bounded thread pool; results are
always ordered by (repository, tag), whatever order the requests finish in.
Importable without Airflow.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from regrep.engine.referrer_copy import ReferrerCopier
from regrep.oci import manifests as oci
from regrep.oci.manifests import Manifest, is_digest
from regrep.oci.platform_filter import select_platforms
from regrep.oci.referrers import (
    is_referrer_tag,
    referrer_tags_by_subject,
    referrers_tag,
    subjects_for,
)
from regrep.registry.errors import NotFound
from regrep.registry.protocols import DestinationRegistry, SourceRegistry
from regrep.rules import ResourceType, Rule

log = logging.getLogger(__name__)

PLAN_WORKERS = 8
"""Concurrent registry requests while planning: enough to hide latency, few enough to stay
polite to a registry (and under typical rate limits)."""

SHARED_REFERRER_TAGS = 32
"""Referrer tags naming no planned tag's digest that every copy of a repository is handed, at
most. Past that (orphaned signatures pile up where images are deleted), its copies list the
repository's tags themselves rather than each carry them all through the plan's XCom."""

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


@dataclass(frozen=True)
class Resource:
    """One artifact to replicate: where it comes from, where it goes, and what it is.

    ``tag`` is None for an artifact without tags, which is copied by its ``digest`` and
    gets no tag at the destination either. ``referrer_tags`` are the referrer tags of the
    source repository that the copy's referrer survey may ask about, handed on by the plan
    that listed them; None when not known, and the copy lists the repository's tags. A hint,
    not part of what the resource is, so it takes no part in comparisons.
    """

    source_repository: str
    tag: str | None
    destination_repository: str
    digest: str
    media_type: str
    referrer_tags: tuple[str, ...] | None = field(default=None, compare=False)

    @property
    def reference(self) -> str:
        """What the resource is asked for by: its tag, or its digest when it has none."""
        return self.digest if self.tag is None else self.tag

    @property
    def label(self) -> str:
        """``repo:tag`` (``repo@sha256:...`` untagged) at the source, for logs and task names."""
        return _labelled(self.source_repository, self.reference)

    @property
    def destination_label(self) -> str:
        """``repo:tag`` (``repo@sha256:...`` untagged) at the destination."""
        return _labelled(self.destination_repository, self.reference)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (Airflow passes plans between tasks through XCom).

        ``referrer_tags`` is left out when unknown, which is also how a resource planned
        before resources carried it reads back; ``tag`` is None for an untagged artifact.
        """
        data: dict[str, Any] = {name: getattr(self, name) for name in _TEXT_FIELDS}
        data["tag"] = self.tag
        if self.referrer_tags is not None:
            data["referrer_tags"] = list(self.referrer_tags)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Resource:
        """Rebuild a resource from :meth:`to_dict`; ``ValueError`` if a field is missing."""
        values: dict[str, str] = {}
        for name in _TEXT_FIELDS:
            value = data.get(name)
            if not isinstance(value, str):
                raise ValueError(f"resource field {name!r} must be a string, got {value!r}")
            values[name] = value
        tag = data.get("tag")
        if tag is not None and not isinstance(tag, str):
            raise ValueError(f"resource field 'tag' must be a string or null, got {tag!r}")
        tags = data.get("referrer_tags")
        if tags is not None and not (
            isinstance(tags, list) and all(isinstance(tag, str) for tag in tags)
        ):
            raise ValueError(f"resource field 'referrer_tags' must list strings, got {tags!r}")
        return cls(**values, tag=tag, referrer_tags=None if tags is None else tuple(tags))


_TEXT_FIELDS = tuple(
    f.name for f in dataclasses.fields(Resource) if f.name not in ("tag", "referrer_tags")
)


def _labelled(repository: str, reference: str) -> str:
    """``repository:tag``, or ``repository@digest`` for a digest."""
    return f"{repository}{'@' if is_digest(reference) else ':'}{reference}"


@dataclass(frozen=True)
class Refusal:
    """A source repository the rule cannot replicate, and why (``label`` names it)."""

    label: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """A JSON-serialisable form for XCom."""
        return {"label": self.label, "message": self.message}


@dataclass(frozen=True)
class Plan:
    """What one run of a rule has to do.

    ``resources`` are the tags and untagged artifacts to copy, ``unchanged`` those whose
    destination already holds the digest they would get (and, with ``copy_referrers``, all
    their referrers), and ``listed`` the number that passed the name and tag filters (the
    resource, label and platform filters drop some of those from both lists). Referrers
    that travel with their subjects are not counted. ``refused`` are the repositories the
    rule cannot apply to (see the module's docstring).
    """

    resources: list[Resource]
    unchanged: list[Resource]
    listed: int
    refused: list[Refusal] = field(default_factory=list)


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
        and config.media_type in oci.IMAGE_CONFIG_TYPES
    ):
        return "image"
    return "artifact"


def plan_replication(
    rule: Rule,
    source: SourceRegistry,
    destination: DestinationRegistry,
    only: Mapping[str, Collection[str] | None] | None = None,
) -> Plan:
    """List what ``rule`` selects at ``source`` and compare it with ``destination``.

    A tag deleted between listing and inspection is left out. Raises ``ValueError`` if the
    namespace flattening sends two repositories to one destination, or if the rule filters
    by label and the source has no labels; and the registry client's typed errors if a
    registry fails. A repository the flattening cannot apply to is refused (see
    :class:`Plan`), the others planned.

    ``only`` plans just the repositories it names instead of listing the source, and in
    each just the named tags and digests (None: all of them); the rule's filters still
    apply. An event-based run uses it to replicate what the source's events reported.
    """
    name = rule.filters.name
    listed = source.list_repositories(name_pattern=name.listing_pattern) if only is None else only
    selected = sorted(repository for repository in listed if name.accepts(repository))
    targets, refused = _destinations(rule, selected)
    repositories = [repository for repository in selected if repository in targets]
    inspector = _Inspector(rule, source, destination)
    untagged = rule.filters.tag.selects_untagged

    def listing(repository: str) -> tuple[set[str], list[str]]:
        return set(source.list_tags(repository)), (
            source.untagged_digests(repository) if untagged else []
        )

    with ThreadPoolExecutor(PLAN_WORKERS, thread_name_prefix="regrep-plan") as pool:
        listings = _map_all(pool, listing, repositories)
        candidates: list[tuple[str, str]] = []
        for repository, (tags, digests) in zip(repositories, listings, strict=True):
            inspector.tags[repository] = tags
            wanted = None if only is None else only[repository]
            candidates += [
                (repository, tag)
                for tag in sorted(tags)
                if selects_tag(rule, tag) and (wanted is None or tag in wanted)
            ]
            if untagged:
                named = {ref for ref in wanted or () if is_digest(ref)}
                candidates += [
                    (repository, digest)
                    for digest in sorted({*digests, *named})
                    if wanted is None or digest in wanted
                ]
        outcomes = _map_all(
            pool,
            lambda candidate: inspector.inspect(candidate[0], candidate[1], targets[candidate[0]]),
            candidates,
        )

    found = _tagged_first([outcome for outcome in outcomes if outcome is not None])
    resources = [resource for resource, same in found if not same]
    unchanged = [resource for resource, same in found if same]
    if rule.copy_referrers:
        owners = [*unchanged, *(r for r in resources if r not in inspector.held_back)]
        resources = _hand_referrer_tags(resources, owners, inspector.tags)
    return Plan(resources=resources, unchanged=unchanged, listed=len(candidates), refused=refused)


def _tagged_first(found: Sequence[tuple[Resource, bool]]) -> list[tuple[Resource, bool]]:
    """``found`` without the untagged artifacts that a tag of their repository names.

    An event may name a digest that also has tags; its tags copy it already.
    """
    tagged = {(r.source_repository, r.digest) for r, _ in found if r.tag is not None}
    return [
        (resource, same)
        for resource, same in found
        if resource.tag is not None or (resource.source_repository, resource.digest) not in tagged
    ]


def _hand_referrer_tags(
    resources: Sequence[Resource], owners: Sequence[Resource], tags: Mapping[str, set[str]]
) -> list[Resource]:
    """``resources``, each carrying the referrer tags its copy's survey may ask about.

    A copy surveys the referrers of its digest, of an index's children and, recursively, of
    referrers, asking for referrers tags and cosign tags by name. Planning listed every
    tag; handing each copy the whole list would put resources x tags into the XCom, and
    leaving it to the copies would list a large repository once per copy. A resource gets
    the tags naming its own digest, plus those naming a digest no planned tag of its
    repository has: children, referrers, images deleted since. The tags naming the digest
    of one of the ``owners`` (the planned tags that will be pushed, and the unchanged ones,
    whose referrers were found in place) are left to that tag's copy. A tag the destination
    holds at another digest with override off is no owner: its copy is skipped, and an index
    copied by another tag still brings the signatures of that digest as its child. Where the
    shared tags exceed :data:`SHARED_REFERRER_TAGS`, the repository's resources carry None
    and their copies list the tags.
    """
    planned: dict[str, set[str]] = {r.source_repository: set() for r in resources}
    for resource in owners:
        planned.setdefault(resource.source_repository, set()).add(referrers_tag(resource.digest))
    handouts: dict[str, tuple[dict[str, list[str]], list[str] | None]] = {}
    for repository, subjects in planned.items():
        grouped = referrer_tags_by_subject(tags[repository])
        shared = [tag for key, group in grouped.items() if key not in subjects for tag in group]
        kept: list[str] | None = shared
        if len(shared) > SHARED_REFERRER_TAGS:
            log.info(
                "%s has %d referrer tags naming no planned tag: its copies list its tags",
                repository,
                len(shared),
            )
            kept = None
        handouts[repository] = grouped, kept
    handed: list[Resource] = []
    for resource in resources:
        grouped, kept = handouts[resource.source_repository]
        own = grouped.get(referrers_tag(resource.digest), [])
        carried = None if kept is None else tuple(sorted([*own, *kept]))
        handed.append(dataclasses.replace(resource, referrer_tags=carried))
    return handed


def selects_tag(rule: Rule, tag: str) -> bool:
    """The rule's tag filter; referrer tags are left to travel with their subjects."""
    if rule.copy_referrers and is_referrer_tag(tag):
        return False
    return rule.filters.tag.accepts(tag)


class _Inspector:
    """Decides, tag by tag, whether a tag is copied, unchanged or filtered out.

    ``tags`` holds each source repository's full tag list (filled in before inspection),
    which tells the referrer survey which referrers tags and cosign tags exist.
    """

    def __init__(
        self, rule: Rule, source: SourceRegistry, destination: DestinationRegistry
    ) -> None:
        self.rule, self.source, self.destination = rule, source, destination
        self.tags: dict[str, set[str]] = {}
        # Resources whose copy will be skipped: the destination tag holds another digest and
        # override is off. They are planned all the same, so the execution says so.
        self.held_back: set[Resource] = set()

    def inspect(self, repository: str, reference: str, target: str) -> tuple[Resource, bool] | None:
        """The resource for ``repository`` at ``reference`` (a tag, or an untagged artifact's
        digest) and whether it is unchanged; None if dropped."""
        tag = None if is_digest(reference) else reference
        label = _labelled(repository, reference)
        found = self._read_source(repository, reference, needs_manifest=tag is None)
        if found is None or not self._labelled(repository, label, found[0]):
            return None
        digest, media_type, manifest = found
        if tag is None and self.rule.copy_referrers and manifest and manifest.subject:
            log.debug("%s refers to %s: it travels with it", label, manifest.subject.digest)
            return None
        platforms = self.rule.filters.platforms
        if manifest is not None and platforms is not None:
            manifest = select_platforms(
                manifest,
                platforms.parsed,
                platforms.result,
                lambda child: self.source.get_manifest(repository, child),
            )
            if manifest is None:
                wanted = ", ".join(platforms.values)
                log.info("Skipping %s: it has none of the platforms %s", label, wanted)
                return None
        resource = Resource(repository, tag, target, digest, media_type)
        expected = manifest.digest if manifest is not None else digest
        current = self.destination.head_manifest(target, expected if tag is None else tag)
        same = current is not None and current.digest == expected
        if current is not None and not same and not self.rule.override:
            self.held_back.add(resource)
        if same and self.rule.copy_referrers and self._referrers_missing(resource, manifest):
            log.info("%s is in place, but some of its referrers are not", resource.label)
            same = False
        return resource, same

    def _read_source(
        self, repository: str, reference: str, *, needs_manifest: bool
    ) -> tuple[str, str, Manifest | None] | None:
        """The artifact's digest, media type and (when needed) manifest at the source.

        The resource and platform filters need the manifest, and so does an untagged
        artifact (a referrer among them travels with its subject instead). None when the
        resource filter drops it or it disappeared since listing.
        """
        wanted = self.rule.filters
        label = _labelled(repository, reference)
        if wanted.resource is None and wanted.platforms is None and not needs_manifest:
            head = self.source.head_manifest(repository, reference)
            if head is not None:
                return head.digest, head.media_type, None
        else:
            try:
                manifest = self.source.get_manifest(repository, reference)
            except NotFound:
                pass
            else:
                if wanted.resource is not None and resource_type(manifest) != wanted.resource:
                    return None
                return manifest.digest, manifest.media_type, manifest
        log.info("Skipping %s: it disappeared after listing", label)
        return None

    def _labelled(self, repository: str, label: str, digest: str) -> bool:
        """Harbor's label filter; ``ValueError`` when the source has no labels at all."""
        wanted = self.rule.filters.labels
        if not wanted.active:
            return True
        labels = self.source.artifact_labels(repository, digest)
        if labels is None:
            raise ValueError(
                f"label filters need a Harbor source (endpoint {self.source.name} is a "
                "plain registry)"
            )
        if wanted.accepts(labels):
            return True
        log.debug("Skipping %s: its labels %s do not pass", label, sorted(labels))
        return False

    def _referrers_missing(self, resource: Resource, manifest: Manifest | None) -> bool:
        """Whether the destination lacks a referrer of the (unchanged) resource.

        Only an index needs its body, to name the children whose referrers count too.
        """
        repository = resource.source_repository

        def fetch(digest: str) -> Manifest:
            return self.source.get_manifest(repository, digest)

        if manifest is None and resource.media_type in oci.INDEX_TYPES:
            manifest = fetch(resource.digest)
        subjects = (
            [resource.digest]
            if manifest is None
            else subjects_for(resource.digest, manifest, fetch)
        )
        sync = ReferrerCopier(
            self.source,
            self.destination,
            repository,
            resource.destination_repository,
            override=self.rule.override,
            log=log,
        )
        return not sync.survey(subjects, source_tags=self.tags[repository]).empty


def _destinations(rule: Rule, repositories: Sequence[str]) -> tuple[dict[str, str], list[Refusal]]:
    """Map each source repository to its destination, refusing two sources on one target.

    Flattening can send different repositories to one place (``a/x`` and ``b/x`` both to
    ``n/x``); their tags would overwrite each other, so planning stops and says which. A
    repository with too few namespace parts for the replace count is refused on its own.
    """
    targets: dict[str, str] = {}
    refused: list[Refusal] = []
    owners: dict[str, str] = {}
    for repository in repositories:
        try:
            target = rule.destination_repository(repository)
        except ValueError as error:
            refused.append(Refusal(repository, str(error)))
            continue
        owner = owners.setdefault(target, repository)
        if owner != repository:
            raise ValueError(
                f'repositories "{owner}" and "{repository}" would both replicate to "{target}": '
                "choose a destination_namespace_replace_count that keeps their names apart"
            )
        targets[repository] = target
    return targets, refused


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
