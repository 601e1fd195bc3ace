"""Find what refers to a manifest at a registry: the referrers API, else the referrers tag.

The naming rules are :mod:`regrep.oci.referrers`'; this module asks a registry. A registry
without the referrers API keeps an OCI index under the referrers tag; anything else found
there is reported and left alone (distribution-spec "Referrers Tag Schema").
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field

from regrep.oci.manifests import OCI_INDEX, Descriptor, Manifest
from regrep.oci.referrers import cosign_tags, referrers_tag
from regrep.registry.errors import NotFound
from regrep.registry.protocols import SourceRegistry

log = logging.getLogger(__name__)


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
    client: SourceRegistry,
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
    client: SourceRegistry,
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


def is_referrers_list(manifest: Manifest, client: SourceRegistry, repository: str) -> bool:
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
