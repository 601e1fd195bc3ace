"""Copy only some platforms of a multi-platform image (``filters.platforms``).

Harbor copies an index with every child; users often want only the platforms they run.
Two results are offered, because each breaks something different:

- ``index``: a new index listing only the chosen children. Its digest differs from the
  source's (the bytes differ), so signatures of the source index do not apply to it; the
  children keep their digests and their own signatures.
- ``manifest``: the tag points at one chosen image manifest itself, byte-exact, the way
  ``docker pull --platform`` resolves it. ``values`` is then an order of preference: the
  first listed platform the index offers wins.

Manifests that are not indexes (single-platform images, charts, artifacts) pass through
unchanged: their platform is not in the manifest. An index that offers none of the
platforms is not copied. Pure: fetching a child is the caller's ``fetch``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

from regrep.oci.manifests import Descriptor, Manifest, Platform

PlatformResult = Literal["index", "manifest"]
"""What a platform filter leaves under the tag (see the module docstring)."""

# buildx stores provenance and SBOM attestations in the index as extra entries (platform
# unknown/unknown) pointing at the image they describe through these annotations.
_REFERENCE_TYPE = "vnd.docker.reference.type"
_REFERENCE_DIGEST = "vnd.docker.reference.digest"
_PART_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")


def parse_platform(text: str) -> Platform:
    """``"linux/arm64/v8"`` -> ``Platform``; ``ValueError`` names the expected form."""
    parts = text.split("/")
    if not 2 <= len(parts) <= 3 or not all(_PART_RE.fullmatch(part) for part in parts):
        raise ValueError(
            f'platform "{text}" is not "os/architecture" or "os/architecture/variant" '
            '(lowercase, e.g. "linux/amd64" or "linux/arm/v7")'
        )
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


def platform_matches(wanted: Platform, offered: Platform | None) -> bool:
    """Same os and architecture; a wanted variant must match, an absent one accepts any."""
    return (
        offered is not None
        and (offered.os, offered.architecture) == (wanted.os, wanted.architecture)
        and (wanted.variant is None or wanted.variant == offered.variant)
    )


def select_platforms(
    manifest: Manifest,
    wanted: Sequence[Platform],
    result: PlatformResult,
    fetch: Callable[[str], Manifest],
) -> Manifest | None:
    """The manifest to put under the tag for ``wanted``; None if the index offers none.

    An index whose entries all stay comes back unchanged, with its digest.
    """
    if not manifest.is_index:
        return manifest
    if result == "manifest":
        for platform in wanted:
            for child in manifest.children:
                if platform_matches(platform, child.platform):
                    return fetch(child.digest)
        return None
    kept = {
        child.digest
        for child in manifest.children
        if any(platform_matches(platform, child.platform) for platform in wanted)
    }
    if not kept:
        return None
    keep = [child.digest in kept or _attests(child, kept) for child in manifest.children]
    return manifest if all(keep) else _filtered_index(manifest, keep)


def _attests(entry: Descriptor, kept: set[str]) -> bool:
    """Whether ``entry`` is a buildx attestation of one of the ``kept`` images."""
    annotations = entry.annotations or {}
    return (
        annotations.get(_REFERENCE_TYPE) == "attestation-manifest"
        and annotations.get(_REFERENCE_DIGEST) in kept
    )


def _filtered_index(index: Manifest, keep: Sequence[bool]) -> Manifest:
    """A copy of ``index`` with only the entries ``keep`` marks.

    Entries stay as the source wrote them (unknown fields included); only the list
    shrinks. The bytes are a deterministic function of the source bytes, so the same
    source index always yields the same digest and a rerun finds it unchanged.
    """
    data: dict[str, Any] = json.loads(index.raw)
    data["manifests"] = [entry for entry, kept in zip(data["manifests"], keep, strict=True) if kept]
    return Manifest.parse(json.dumps(data, separators=(",", ":")).encode(), index.media_type)
