"""Copy the referrers of copied manifests, so signatures and SBOMs travel with them.

Two steps, so planning can ask the first alone. :meth:`ReferrerCopier.survey` walks the
referrers of the given manifests at the source (recursively: a signature of an SBOM is
a referrer of the SBOM) and compares with the destination: which referrer manifests and
cosign tags are missing there, and which subjects the destination does not list every
referrer of. :meth:`ReferrerCopier.apply` copies those manifests by digest (cosign tags by
their tag) and, where the destination has no referrers API, writes the referrers tag
itself, merging with what is there (distribution-spec "Pushing Manifests with Subject").
A destination with the API indexes ``subject`` on push and needs no tag.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from regrep.engine.manifest_copy import ContentCopier, ContentRefused
from regrep.engine.referrer_lookup import (
    Referrers,
    find_referrers,
    is_referrers_list,
    read_referrers_index,
)
from regrep.oci.manifests import Manifest
from regrep.oci.referrers import merged_index, referrers_tag
from regrep.registry.errors import NotFound
from regrep.registry.protocols import DestinationRegistry, SourceRegistry


@dataclass(frozen=True)
class _Pending:
    """One referrer manifest to copy: by digest, or by its cosign tag."""

    reference: str
    subject: str
    kind: str


@dataclass
class MissingReferrers:
    """What the destination lacks: manifests to copy and subjects to list them under."""

    copies: list[_Pending] = field(default_factory=list)
    records: list[Referrers] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when the destination already has every referrer, findable."""
        return not (self.copies or self.records)


class ReferrerCopier:
    """Referrers of manifests in one source repository, for one destination repository.

    ``override`` applies to cosign tags as to any tag: off, a destination tag that names
    another manifest is left alone (and logged).
    """

    def __init__(
        self,
        source: SourceRegistry,
        destination: DestinationRegistry,
        source_repository: str,
        destination_repository: str,
        *,
        override: bool,
        log: logging.Logger,
    ) -> None:
        self.source, self.destination = source, destination
        self.src_repo, self.dst_repo = source_repository, destination_repository
        self.override = override
        self.log = log

    def survey(
        self, subjects: Iterable[str], *, source_tags: Collection[str] | None = None
    ) -> MissingReferrers:
        """Find what the destination lacks of the referrers of ``subjects``.

        ``source_tags``, the source repository's tags (its referrer tags suffice, see
        :func:`~regrep.engine.referrer_lookup.find_referrers`) when the caller knows them,
        saves probing for referrers tags and cosign tags that do not exist.
        """
        missing = MissingReferrers()
        queue = deque(subjects)
        seen = set(queue)
        while queue:
            subject = queue.popleft()
            found = find_referrers(self.source, self.src_repo, subject, tags=source_tags)
            for descriptor in found.attached:
                if self.destination.head_manifest(self.dst_repo, descriptor.digest) is None:
                    kind = descriptor.artifact_type or descriptor.media_type
                    missing.copies.append(_Pending(descriptor.digest, subject, kind))
            for tag, descriptor in found.tagged.items():
                if self._tag_needed(tag, descriptor.digest):
                    missing.copies.append(_Pending(tag, subject, "cosign tag"))
            if found.attached and not self._listed(found):
                missing.records.append(found)
            for descriptor in [*found.attached, *found.tagged.values()]:
                if descriptor.digest not in seen:
                    seen.add(descriptor.digest)
                    queue.append(descriptor.digest)
        return missing

    def apply(self, missing: MissingReferrers, copier: ContentCopier) -> int:
        """Copy what ``missing`` lists with ``copier``; the number of manifests copied.

        A referrer listed at the source but deleted since, or refused by the destination
        as legacy content, is logged and left out, never failing the copy of its subject.
        """
        copied = 0
        left_out: set[str] = set()
        for pending in missing.copies:
            try:
                manifest = self.source.get_manifest(self.src_repo, pending.reference)
                copier.push(manifest, pending.reference)
            except (NotFound, ContentRefused) as exc:
                self.log.warning(
                    "referrer %s of %s not copied: %s", pending.reference, pending.subject, exc
                )
                left_out.add(pending.reference)
                continue
            self.log.info(
                "copied referrer %s (%s) of %s", pending.reference, pending.kind, pending.subject
            )
            copied += 1
        for found in missing.records:
            self._record(found, left_out)
        return copied

    def _tag_needed(self, tag: str, digest: str) -> bool:
        present = self.destination.head_manifest(self.dst_repo, tag)
        if present is None:
            return True
        if present.digest == digest:
            return False
        if not self.override:
            self.log.warning(
                "%s:%s at destination is %s, the source's is %s; override is off: left alone",
                self.dst_repo,
                tag,
                present.digest,
                digest,
            )
        return self.override

    def _listed(self, found: Referrers) -> bool:
        """Whether the destination lists every referrer of ``found.subject`` already."""
        listed = self.destination.list_referrers(self.dst_repo, found.subject)
        if listed is None:
            index = read_referrers_index(self.destination, self.dst_repo, found.subject)
            if index is not None and not is_referrers_list(index, self.destination, self.dst_repo):
                return True  # not ours to overwrite; nothing to do
            listed = index.children if index is not None else []
        have = {descriptor.digest for descriptor in listed}
        return all(descriptor.digest in have for descriptor in found.attached)

    def _record(self, found: Referrers, left_out: set[str]) -> None:
        """List the copied referrers of one subject under its referrers tag, if needed."""
        attached = [d for d in found.attached if d.digest not in left_out]
        if not attached or (
            self.destination.list_referrers(self.dst_repo, found.subject) is not None
        ):
            return  # nothing to list, or the destination's referrers API lists them
        current = read_referrers_index(self.destination, self.dst_repo, found.subject)
        if current is not None and not is_referrers_list(current, self.destination, self.dst_repo):
            return
        updated: Manifest | None
        if current is None and found.index is not None and len(attached) == len(found.attached):
            updated = found.index  # the source's own list, byte for byte
        else:
            updated = merged_index(current, attached)
        if updated is None:
            return
        tag = referrers_tag(found.subject)
        self.destination.put_manifest(self.dst_repo, tag, updated)
        self.log.info(
            "listed %d referrer(s) of %s under %s:%s (%s)",
            len(updated.children),
            found.subject,
            self.dst_repo,
            tag,
            updated.digest,
        )
