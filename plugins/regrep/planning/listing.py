"""Listing: the source's repositories and tags a rule's name and tag filters select.

The first stage of every plan, and all of a preview's listing: repositories (from the
source, or those an event named), then each one's tags and, where the tag filter selects
untagged artifacts, the digests the source lists without a tag (Harbor). With
``copy_referrers`` referrers tags and cosign tags are no candidates of their own: they
travel with the manifest they name. A ``deadline`` bounds the listing of a large source
(the preview's): whatever was not listed by then is left out, and the listing says so.

Tag lists are read :data:`PLAN_WORKERS` repositories at a time; candidates are always
ordered by repository, then tag, then digest, whatever order the answers come in.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass

from regrep.oci.manifests import is_digest
from regrep.oci.referrers import is_referrer_tag
from regrep.registry.protocols import SourceRegistry
from regrep.rules import Rule

PLAN_WORKERS = 8
"""Concurrent registry requests while planning: enough to hide latency, few enough to stay
polite to a registry (and under typical rate limits)."""

Only = Mapping[str, Collection[str] | None]
"""Repositories to plan, each with the tags and digests to plan (None: all of them)."""


@dataclass(frozen=True)
class Listing:
    """What the name and tag filters select, as ``(repository, tag or digest)`` candidates.

    ``tags`` holds each listed repository's full tag list (the referrer survey needs it);
    ``repositories`` counts those the name filter selected, ``repositories_listed`` those
    whose tags were listed before the deadline.
    """

    candidates: list[tuple[str, str]]
    tags: dict[str, set[str]]
    repositories: int
    repositories_listed: int

    @property
    def complete(self) -> bool:
        """Whether every selected repository was listed."""
        return self.repositories_listed == self.repositories


def selects_tag(rule: Rule, tag: str) -> bool:
    """The rule's tag filter; referrer tags are left to travel with their subjects."""
    if rule.copy_referrers and is_referrer_tag(tag):
        return False
    return rule.filters.tag.accepts(tag)


def select_repositories(
    rule: Rule, source: SourceRegistry, only: Only | None = None, deadline: float | None = None
) -> list[str]:
    """The repositories the rule's name filter selects, sorted: those ``only`` names, else
    the source's (listed until ``deadline``, if any)."""
    name = rule.filters.name
    if only is not None:
        return sorted(repository for repository in only if name.accepts(repository))
    selected: list[str] = []
    for repository in source.list_repositories(name_pattern=name.listing_pattern):
        if name.accepts(repository):
            selected.append(repository)
        if deadline is not None and time.monotonic() > deadline:
            break
    return sorted(selected)


def list_candidates(
    rule: Rule,
    source: SourceRegistry,
    repositories: list[str],
    only: Only | None = None,
    deadline: float | None = None,
) -> Listing:
    """List the tags (and untagged digests) of ``repositories``: the candidates to inspect."""
    listed = _listings(rule, source, repositories, deadline)
    candidates: list[tuple[str, str]] = []
    for repository in repositories:
        if repository not in listed:
            continue
        tags, digests = listed[repository]
        wanted = None if only is None else only[repository]
        candidates += [
            (repository, tag)
            for tag in sorted(tags)
            if selects_tag(rule, tag) and (wanted is None or tag in wanted)
        ]
        if rule.filters.tag.selects_untagged:
            named = {ref for ref in wanted or () if is_digest(ref)}
            candidates += [
                (repository, digest)
                for digest in sorted({*digests, *named})
                if wanted is None or digest in wanted
            ]
    tag_lists = {repository: found for repository, (found, _) in listed.items()}
    return Listing(candidates, tag_lists, len(repositories), len(listed))


def _listings(
    rule: Rule, source: SourceRegistry, repositories: Iterable[str], deadline: float | None
) -> dict[str, tuple[set[str], list[str]]]:
    """Each repository's tags and untagged digests, those listed before ``deadline``.

    The first failure propagates, and the listings not started are cancelled, so a dead
    registry does not keep planning busy for thousands of repositories.
    """
    untagged = rule.filters.tag.selects_untagged

    def listing(repository: str) -> tuple[set[str], list[str]]:
        digests = source.untagged_digests(repository) if untagged else []
        return set(source.list_tags(repository)), digests

    names = list(repositories)
    pool = ThreadPoolExecutor(PLAN_WORKERS, thread_name_prefix="regrep-plan")
    if deadline is None:
        with pool:
            return dict(zip(names, pool.map(listing, names), strict=True))
    futures = {repository: pool.submit(listing, repository) for repository in names}
    remaining = max(0.0, deadline - time.monotonic())
    done, _ = wait(futures.values(), timeout=remaining, return_when=FIRST_EXCEPTION)
    pool.shutdown(wait=False, cancel_futures=True)
    # A registry error is the listing's error.
    return {repository: future.result() for repository, future in futures.items() if future in done}
