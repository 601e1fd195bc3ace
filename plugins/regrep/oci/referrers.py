"""Referrers: the signatures, SBOMs and attestations attached to a manifest.

Three conventions are in use, and a registry may hold all three:

- **OCI 1.1 ``subject``** (Notation, ORAS, cosign's OCI mode): the referrer names the
  manifest it is about. A registry with the referrers API lists them
  (``GET /v2/<name>/referrers/<digest>``); without it, clients keep an OCI index of them
  under the referrers tag ``<alg>-<encoded>`` (distribution-spec "Referrers Tag Schema").
- **cosign tags**: ``sha256-<hex>.sig``, ``.att`` and ``.sbom`` are ordinary tags whose
  names derive from the subject digest; the manifests they name carry no ``subject``.

This module names those tags and builds the referrers-tag index, with no I/O;
:mod:`regrep.engine.referrer_lookup` reads them at a registry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from regrep.oci.manifests import INDEX_TYPES, OCI_INDEX, Descriptor, Manifest

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


def _subjects_of(manifest: Manifest, fetch: Callable[[str], Manifest]) -> list[str]:
    """``manifest``'s digest and those of every manifest it contains, depth first.

    Each is a subject whose referrers travel with it; ``fetch`` reads nested indexes.
    """
    digests = [manifest.digest]
    for child in manifest.children:
        if child.media_type in INDEX_TYPES:
            digests += _subjects_of(fetch(child.digest), fetch)
        else:
            digests.append(child.digest)
    return digests


def subjects_for(original: str, manifest: Manifest, fetch: Callable[[str], Manifest]) -> list[str]:
    """The subjects whose referrers travel with ``manifest``, copied for tag ``original``.

    A platform-filtered index (another digest than ``original``) is new content: what
    refers to the source index signs other bytes, so only its children's referrers apply.
    """
    subjects = _subjects_of(manifest, fetch)
    if manifest.is_index and manifest.digest != original:
        subjects.remove(manifest.digest)
    return subjects
