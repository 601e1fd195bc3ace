"""Inspection: tag by tag, whether a listed candidate is copied, unchanged or filtered out.

The resource filter and a platform filter need the manifest (a GET instead of a HEAD); a
label filter asks the source for labels (Harbor only). A resource in place at the
destination is still copied when ``copy_referrers`` finds referrers the destination lacks.
"""

from __future__ import annotations

import logging

from regrep.engine.referrer_copy import ReferrerCopier
from regrep.oci import manifests as oci
from regrep.oci.manifests import Manifest, is_digest
from regrep.oci.platform_filter import select_platforms
from regrep.oci.referrers import subjects_for
from regrep.planning.resources import Resource, labelled
from regrep.registry.errors import NotFound
from regrep.registry.protocols import DestinationRegistry, SourceRegistry
from regrep.rules import ResourceType, Rule

log = logging.getLogger(__name__)


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


class Inspector:
    """Decides, tag by tag, whether a tag is copied, unchanged or filtered out.

    ``tags`` holds each source repository's full tag list (from the listing), which tells
    the referrer survey which referrers tags and cosign tags exist.
    """

    def __init__(
        self,
        rule: Rule,
        source: SourceRegistry,
        destination: DestinationRegistry,
        tags: dict[str, set[str]],
    ) -> None:
        self.rule, self.source, self.destination = rule, source, destination
        self.tags = tags
        # Resources whose copy will be skipped: the destination tag holds another digest and
        # override is off. They are planned all the same, so the execution says so.
        self.held_back: set[Resource] = set()

    def inspect(self, repository: str, reference: str, target: str) -> tuple[Resource, bool] | None:
        """The resource for ``repository`` at ``reference`` (a tag, or an untagged artifact's
        digest) and whether it is unchanged; None if dropped."""
        tag = None if is_digest(reference) else reference
        label = labelled(repository, reference)
        found = self._read_source(repository, reference, needs_manifest=tag is None)
        if found is None or not self._passes_labels(repository, label, found[0]):
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
        label = labelled(repository, reference)
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

    def _passes_labels(self, repository: str, label: str, digest: str) -> bool:
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
