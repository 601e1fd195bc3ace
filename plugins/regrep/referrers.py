"""Referrers: the signatures, SBOMs and attestations attached to a manifest.

Three conventions are in use, and a registry may hold all three:

- **OCI 1.1 ``subject``** (Notation, ORAS, cosign's OCI mode): the referrer names the
  manifest it is about. A registry with the referrers API lists them
  (``GET /v2/<name>/referrers/<digest>``); without it, clients keep an OCI index of them
  under the referrers tag ``<alg>-<encoded>`` (distribution-spec "Referrers Tag Schema").
- **cosign tags**: ``sha256-<hex>.sig``, ``.att`` and ``.sbom`` are ordinary tags whose
  names derive from the subject digest; the manifests they name carry no ``subject``.

This module names those tags, finds a manifest's referrers at a registry and builds the
referrers-tag index; :mod:`regrep.referrer_sync` copies them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from regrep.oci import OCI_INDEX, Descriptor, Manifest
from regrep.registry import RegistryClient
from regrep.registry.errors import NotFound

log = logging.getLogger(__name__)

COSIGN_SUFFIXES = (".sig", ".att", ".sbom")
"""cosign's signature, attestation and SBOM tags: ``sha256-<hex>.sig`` and so on."""

_TAG_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]")
# The registered digest algorithms only, so an ordinary tag such as "build-<hash>" is safe.
_REFERRER_TAG = re.compile(r"(?:sha256|sha384|sha512)-[0-9a-f]{64}(?:\.(?:sig|att|sbom))?")


def referrers_tag(digest: str) -> str:
    """The referrers tag of ``digest``: ``sha256:abc...`` -> ``sha256-abc...``.

    Per the spec the algorithm is cut to 32 characters and the encoded part to 64, and
    characters a tag cannot hold become ``-``.
    """
    algorithm, encoded = digest.split(":", 1)
    return f"{_TAG_UNSAFE.sub('-', algorithm[:32])}-{_TAG_UNSAFE.sub('-', encoded[:64])}"


def cosign_tags(digest: str) -> list[str]:
    """The tags cosign attaches signatures, attestations and SBOMs of ``digest`` under."""
    return [referrers_tag(digest) + suffix for suffix in COSIGN_SUFFIXES]


def is_referrer_tag(tag: str) -> bool:
    """Whether ``tag`` has the shape of a referrers tag or a cosign tag.

    Such tags belong to the manifest whose digest they spell: with ``copy_referrers`` they
    travel with it instead of being replicated as resources of their own.
    """
    return _REFERRER_TAG.fullmatch(tag) is not None


def referrer_tags_by_subject(tags: Iterable[str]) -> dict[str, list[str]]:
    """The referrer tags among ``tags``, grouped by the referrers tag of the digest they name.

    ``sha256-<hex>`` and its cosign tags ``sha256-<hex>.sig``, ``.att`` and ``.sbom`` share
    the key ``sha256-<hex>`` (:func:`referrers_tag` of the subject): the group is every tag
    :func:`find_referrers` may ask about for that subject, so whoever holds a repository's
    tag list can hand on just the groups of the subjects another process will survey.
    """
    grouped: dict[str, list[str]] = {}
    for tag in sorted(tags):
        if is_referrer_tag(tag):
            grouped.setdefault(tag.split(".", 1)[0], []).append(tag)
    return grouped


def referrer_descriptor(manifest: Manifest) -> Descriptor:
    """How a referrers list describes ``manifest`` (distribution-spec "Listing Referrers").

    ``artifactType`` is the manifest's own, else its config media type (omitted for an
    index without one), and every annotation of the manifest is carried along.
    """
    config = manifest.config
    artifact_type = manifest.artifact_type or (config.media_type if config else None)
    return Descriptor(
        manifest.media_type,
        manifest.digest,
        len(manifest.raw),
        artifact_type=artifact_type,
        annotations=dict(manifest.annotations) or None,
    )


@dataclass(frozen=True)
class Referrers:
    """What refers to one manifest (its ``subject``) in one repository.

    ``attached`` are the manifests whose ``subject`` it is; ``index`` is the referrers-tag
    index they were read from when the registry has no referrers API; ``tagged`` maps each
    cosign tag present to the manifest it names.
    """

    subject: str
    attached: list[Descriptor] = field(default_factory=list)
    index: Manifest | None = None
    tagged: dict[str, Descriptor] = field(default_factory=dict)


def find_referrers(
    client: RegistryClient,
    repository: str,
    subject: str,
    *,
    tags: Collection[str] | None = None,
) -> Referrers:
    """Everything referring to ``subject`` in ``repository``.

    The referrers API when the registry has it, else the referrers tag; cosign tags in
    both cases. ``tags``, when the caller has listed the repository, spares a request for
    each tag that is not there; only its referrer tags count (a referrers tag or cosign tag
    absent from it is taken to be absent at the registry), so it may be just those.
    """
    attached = client.list_referrers(repository, subject)
    index = None
    if attached is None:
        index = read_referrers_index(client, repository, subject, tags=tags)
        if index is not None and not is_referrers_list(index, client, repository):
            index = None
        attached = index.children if index is not None else []
    tagged: dict[str, Descriptor] = {}
    for tag in cosign_tags(subject):
        if tags is not None and tag not in tags:
            continue
        found = client.head_manifest(repository, tag)
        if found is not None:
            tagged[tag] = found
    return Referrers(subject, attached, index, tagged)


def read_referrers_index(
    client: RegistryClient,
    repository: str,
    subject: str,
    *,
    tags: Collection[str] | None = None,
) -> Manifest | None:
    """What ``subject``'s referrers tag holds, None if the tag is absent.

    Anything but an OCI index there is not a referrers list: see
    :func:`is_referrers_list`; the spec has clients report it and leave it alone.
    """
    tag = referrers_tag(subject)
    if tags is not None and tag not in tags:
        return None
    try:
        return client.get_manifest(repository, tag)
    except NotFound:
        return None


def is_referrers_list(manifest: Manifest, client: RegistryClient, repository: str) -> bool:
    """Whether a referrers tag's manifest is an OCI index; logs a warning if it is not."""
    if manifest.media_type == OCI_INDEX:
        return True
    log.warning(
        "%s@%s on %s is a %s, not an OCI index: not a referrers list, left alone",
        repository,
        manifest.digest,
        client.name,
        manifest.media_type,
    )
    return False


def merged_index(current: Manifest | None, additions: Sequence[Descriptor]) -> Manifest | None:
    """The referrers-tag index with ``additions`` appended; None if it lists them already.

    Entries already there stay as they are, first and untouched (another client may have
    written them); duplicates are not added (spec: "Pushing Manifests with Subject").
    """
    data: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    listed: set[str] = set()
    if current is not None:
        data = json.loads(current.raw)
        listed = {entry.digest for entry in current.children}
    new = []
    for descriptor in additions:
        if descriptor.digest not in listed:
            listed.add(descriptor.digest)
            new.append(descriptor.to_json())
    if not new:
        return None
    data["manifests"] = [*data["manifests"], *new]
    return Manifest.parse(json.dumps(data, separators=(",", ":")).encode(), OCI_INDEX)
