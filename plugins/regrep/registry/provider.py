"""What a registry provider does differently from the distribution API, as small strategies.

Every provider's registry speaks the OCI distribution API for content; they differ in how
they are listed (Docker Hub, GHCR, quay, Harbor, GitLab, cloud APIs instead of the
catalog), whether a namespace must be created before a push (Harbor projects, ECR
repositories), whether artifacts carry labels or exist untagged (Harbor), how a manifest is
deleted (ECR) and what else a connection test checks. A :class:`Provider` holds those
differences as plain callables, each None where the provider behaves like distribution;
the hooks compose one into the :class:`~regrep.registry.client.RegistryClient` they build
(the provider's API client in :mod:`regrep.vendors` supplies the callables), instead of
subclassing the client once per provider.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from regrep.registry.client import RegistryClient

RepositoryListing = Callable[["RegistryClient", str, int], Iterator[str]]
"""``(registry, name_pattern, page_size) -> repositories``: the pattern names the namespaces
to list, ``page_size`` is what the caller asked pages of (where the API takes one)."""
TagListing = Callable[["RegistryClient", str], Iterator[str]]
"""``(registry, repository) -> tags``; ``registry.distribution_tags`` is the API's own."""


@dataclass(frozen=True)
class Provider:
    """One provider's differences; ``name`` says whose they are and ``settings`` what it was
    configured with that a URL does not show (a cloud region), for reprs and logs.

    ``absent_when_refused(repository)`` says whether a refused HEAD means "not there" (a
    Harbor project that does not exist yet grants no token); ``check(registry)`` runs after
    the distribution ping of a connection test.
    """

    name: str = "Docker Registry"
    settings: Mapping[str, str] = field(default_factory=dict)
    list_repositories: RepositoryListing | None = None
    list_tags: TagListing | None = None
    ensure_namespace: Callable[[str], None] | None = None
    absent_when_refused: Callable[[str], bool] | None = None
    artifact_labels: Callable[[str, str], set[str] | None] | None = None
    untagged_digests: Callable[[str], list[str]] | None = None
    delete_manifest: Callable[[str, str], None] | None = None
    check: Callable[[RegistryClient], None] | None = None


DISTRIBUTION = Provider()
"""The CNCF distribution registry, and any registry that speaks only its API."""
