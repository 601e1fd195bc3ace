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

Three stages: :mod:`~regrep.planning.listing` (what the name and tag filters select),
:mod:`~regrep.planning.inspection` (each candidate at both ends: a request or two per tag,
which dominates planning time for thousands of tags, so they run in a small bounded thread
pool), and here the plan itself; results are always ordered by (repository, tag), whatever
order the requests finish in.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from regrep.oci.referrers import referrer_tags_by_subject, referrers_tag
from regrep.planning.inspection import Inspector
from regrep.planning.listing import (
    PLAN_WORKERS,
    Only,
    list_candidates,
    select_repositories,
)
from regrep.planning.resources import Plan, Refusal, Resource
from regrep.registry.protocols import DestinationRegistry, SourceRegistry
from regrep.rules import Rule

log = logging.getLogger(__name__)

SHARED_REFERRER_TAGS = 32
"""Referrer tags naming no planned tag's digest that every copy of a repository is handed, at
most. Past that (orphaned signatures pile up where images are deleted), its copies list the
repository's tags themselves rather than each carry them all through the plan's XCom."""


def plan_replication(
    rule: Rule,
    source: SourceRegistry,
    destination: DestinationRegistry,
    only: Only | None = None,
) -> Plan:
    """List what ``rule`` selects at ``source`` and compare it with ``destination``.

    A tag deleted between listing and inspection is left out. Raises ``ValueError`` if the
    namespace flattening sends two repositories to one destination, or if the rule filters
    by label and the source has no labels; and the registry client's typed errors if a
    registry fails. A repository the flattening cannot apply to is refused (see
    :class:`~regrep.planning.resources.Plan`), the others planned.

    ``only`` plans just the repositories it names instead of listing the source, and in
    each just the named tags and digests (None: all of them); the rule's filters still
    apply. An event-based run uses it to replicate what the source's events reported.
    """
    selected = select_repositories(rule, source, only)
    targets, refused = _destinations(rule, selected)
    repositories = [repository for repository in selected if repository in targets]
    listing = list_candidates(rule, source, repositories, only)
    inspector = Inspector(rule, source, destination, listing.tags)
    with ThreadPoolExecutor(PLAN_WORKERS, thread_name_prefix="regrep-plan") as pool:
        outcomes = list(
            pool.map(lambda c: inspector.inspect(c[0], c[1], targets[c[0]]), listing.candidates)
        )
    found = _tagged_first([outcome for outcome in outcomes if outcome is not None])
    resources = [resource for resource, same in found if not same]
    unchanged = [resource for resource, same in found if same]
    if rule.copy_referrers:
        owners = [*unchanged, *(r for r in resources if r not in inspector.held_back)]
        resources = _hand_referrer_tags(resources, owners, listing.tags)
    return Plan(
        resources=resources, unchanged=unchanged, listed=len(listing.candidates), refused=refused
    )


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
