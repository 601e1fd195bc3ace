"""The OCI content model: media types, digests, descriptors and manifests.

Pure data and parsing, no I/O and no Airflow, so the client, the copy engine and the
planner agree on one reading of a manifest. A manifest keeps the exact bytes the registry
served: its digest is the sha256 of those bytes, and re-serialising JSON would change it
(OCI image-spec, descriptor.md "Digests").
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST_V1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

INDEX_TYPES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
IMAGE_CONFIG_TYPES = frozenset({DOCKER_CONFIG, OCI_CONFIG})
SCHEMA1_TYPES = frozenset({DOCKER_MANIFEST_V1, DOCKER_MANIFEST_V1_SIGNED})
MANIFEST_TYPES = frozenset({DOCKER_MANIFEST_V2, OCI_MANIFEST}) | INDEX_TYPES | SCHEMA1_TYPES

# Every manifest type we can copy, preferred first. Without the index types a registry
# would resolve a multi-platform tag to one platform; without schema1 old tags 404.
MANIFEST_ACCEPT = ", ".join(
    (
        OCI_INDEX,
        DOCKER_MANIFEST_LIST,
        OCI_MANIFEST,
        DOCKER_MANIFEST_V2,
        DOCKER_MANIFEST_V1_SIGNED,
        DOCKER_MANIFEST_V1,
    )
)

MANIFEST_SIZE_GUARANTEED = 4 << 20
"""The manifest size every registry should accept (distribution-spec "Pushing Manifests":
clients and registries SHOULD support at least 4 MiB); larger ones may be refused."""

# Grammar from the OCI distribution-spec ("Pulling manifests": <name>)
# and image-spec descriptor.md (digest = algorithm ":" encoded).
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
DIGEST_RE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_DIGEST_ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}


def sha256_digest(data: bytes) -> str:
    """Return the OCI digest string ``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(reference: str) -> bool:
    """Tell a digest reference (``sha256:...``) from a tag."""
    return DIGEST_RE.fullmatch(reference) is not None


def digest_hasher(digest: str) -> Any:
    """Return a fresh hashlib object for the algorithm ``digest`` names.

    Raises ``ValueError`` for a malformed digest or an algorithm the image-spec does not
    register, so a bad manifest is reported instead of silently skipping verification.
    """
    if not is_digest(digest):
        raise ValueError(f"malformed digest {digest!r}")
    algorithm, encoded = digest.split(":", 1)
    length = _DIGEST_ALGORITHMS.get(algorithm)
    if length is None:
        raise ValueError(f"unsupported digest algorithm {algorithm!r} in {digest!r}")
    if len(encoded) != length or not re.fullmatch(r"[a-f0-9]+", encoded):
        raise ValueError(f"malformed {algorithm} digest {digest!r}")
    return hashlib.new(algorithm)


def compute_digest(data: bytes, like: str) -> str:
    """Digest ``data`` with the algorithm of the digest ``like`` (sha256, sha512...)."""
    hasher = digest_hasher(like)
    hasher.update(data)
    return f"{hasher.name}:{hasher.hexdigest()}"


def digested_bytes(raw: bytes) -> bytes:
    """The bytes a manifest's digest covers: all of them, except for signed schema1.

    A signed schema1 manifest is a JWS whose digest covers its payload only: the bytes
    before the ``signatures`` key, rebuilt from the first signature's protected header
    (``formatLength`` bytes of the body plus the base64url ``formatTail``; libtrust's
    "pretty signature" format, as distribution computes it).
    """
    try:
        data = json.loads(raw)
        protected = data["signatures"][0]["protected"]
        header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
        length, tail = int(header["formatLength"]), str(header["formatTail"])
    except (ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError):
        return raw
    if not isinstance(data, dict) or data.get("schemaVersion") != 1 or length > len(raw):
        return raw
    return raw[:length] + base64.urlsafe_b64decode(tail + "=" * (-len(tail) % 4))


def validate_repository(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` is a valid repository name (distribution-spec)."""
    if len(name) > 255 or REPOSITORY_RE.fullmatch(name) is None:
        raise ValueError(f"invalid repository name {name!r}")


@dataclass(frozen=True)
class Platform:
    """The platform an index entry is built for (image-spec image-index.md)."""

    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        parts = [self.os, self.architecture] + ([self.variant] if self.variant else [])
        return "/".join(parts)


@dataclass(frozen=True)
class Descriptor:
    """A typed pointer to content: media type, digest and size (image-spec descriptor.md).

    ``urls`` non-empty marks a foreign (non-distributable) layer that registries do not
    hold. ``size`` is -1 when unknown (schema1 manifests do not record layer sizes).
    """

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] | None = None
    urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any, where: str) -> Descriptor:
        """Parse one descriptor object; ``where`` names its place for the error message."""
        if not isinstance(data, dict):
            raise ValueError(f"{where} is not an object")
        media_type = data.get("mediaType")
        digest = data.get("digest")
        size = data.get("size")
        if not isinstance(media_type, str) or not media_type:
            raise ValueError(f"{where} has no mediaType")
        if not isinstance(digest, str):
            raise ValueError(f"{where} has no digest")
        try:
            digest_hasher(digest)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"{where} has no valid size")
        urls = data.get("urls") or []
        annotations = data.get("annotations")
        artifact_type = data.get("artifactType")
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ValueError(f"{where} has invalid urls")
        if annotations is not None and not isinstance(annotations, dict):
            raise ValueError(f"{where} has invalid annotations")
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            platform=_platform(data.get("platform"), where),
            artifact_type=artifact_type if isinstance(artifact_type, str) else None,
            annotations=annotations,
            urls=tuple(urls),
        )

    def to_json(self) -> dict[str, Any]:
        """The descriptor as an index entry (the inverse of :meth:`from_json`)."""
        data: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.platform is not None:
            data["platform"] = {"architecture": self.platform.architecture, "os": self.platform.os}
            if self.platform.variant:
                data["platform"]["variant"] = self.platform.variant
        if self.artifact_type is not None:
            data["artifactType"] = self.artifact_type
        if self.annotations:
            data["annotations"] = dict(self.annotations)
        if self.urls:
            data["urls"] = list(self.urls)
        return data


def _platform(data: Any, where: str) -> Platform | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError(f"{where} has an invalid platform")
    os_name, arch, variant = data.get("os"), data.get("architecture"), data.get("variant")
    if not isinstance(os_name, str) or not isinstance(arch, str):
        raise ValueError(f"{where} platform needs os and architecture")
    return Platform(os_name, arch, variant if isinstance(variant, str) else None)


def _detect_media_type(data: dict[str, Any], declared: str) -> str:
    """Pick the manifest's media type: the served Content-Type, else the body's own field.

    Registries sometimes answer ``application/json`` or nothing; schema1 and early OCI
    manifests carry no ``mediaType`` field, so their shape decides.
    """
    if declared in MANIFEST_TYPES:
        return declared
    field = data.get("mediaType")
    if isinstance(field, str) and field in MANIFEST_TYPES:
        return field
    if data.get("schemaVersion") == 1:
        return DOCKER_MANIFEST_V1_SIGNED if "signatures" in data else DOCKER_MANIFEST_V1
    return OCI_INDEX if "manifests" in data else OCI_MANIFEST


@dataclass(frozen=True)
class Manifest:
    """A manifest or index as raw bytes plus its media type; views are parsed lazily."""

    media_type: str
    raw: bytes

    @classmethod
    def parse(cls, raw: bytes, media_type: str = "") -> Manifest:
        """Validate ``raw`` and return the manifest; ``ValueError`` names what is wrong."""
        data = _load(raw)
        manifest = cls(_detect_media_type(data, media_type.split(";")[0].strip()), raw)
        manifest.__dict__["_json"] = data
        # Touch every view once so structural problems surface here, not mid-copy.
        _ = manifest.children, manifest.blobs, manifest.subject
        return manifest

    @cached_property
    def _json(self) -> dict[str, Any]:
        return _load(self.raw)

    @cached_property
    def digest(self) -> str:
        """sha256 of the exact bytes (of a signed schema1's payload, see
        :func:`digested_bytes`): the identity registries address this manifest by."""
        return sha256_digest(digested_bytes(self.raw))

    @property
    def is_index(self) -> bool:
        """True for an OCI index or a Docker manifest list (multi-platform)."""
        return self.media_type in INDEX_TYPES

    @cached_property
    def children(self) -> list[Descriptor]:
        """The manifests an index points to; empty for an image manifest."""
        if not self.is_index:
            return []
        entries = self._json.get("manifests")
        if not isinstance(entries, list):
            raise ValueError(f"{self.media_type} has no manifests list")
        return [Descriptor.from_json(e, f"manifests[{i}]") for i, e in enumerate(entries)]

    @cached_property
    def config(self) -> Descriptor | None:
        """The config blob of an image or artifact manifest; None for indexes and schema1."""
        if self.is_index or self.media_type in SCHEMA1_TYPES:
            return None
        if "config" not in self._json:
            raise ValueError(f"{self.media_type} has no config")
        return Descriptor.from_json(self._json["config"], "config")

    @cached_property
    def layers(self) -> list[Descriptor]:
        """The layer blobs, in manifest order."""
        if self.is_index:
            return []
        if self.media_type in SCHEMA1_TYPES:
            return self._schema1_layers()
        entries = self._json.get("layers", [])
        if not isinstance(entries, list):
            raise ValueError(f"{self.media_type} layers is not a list")
        return [Descriptor.from_json(e, f"layers[{i}]") for i, e in enumerate(entries)]

    def _schema1_layers(self) -> list[Descriptor]:
        # Schema1 lists ``fsLayers[].blobSum`` top layer first, repeats empty layers and
        # records no sizes: keep each digest once, size unknown (-1).
        entries = self._json.get("fsLayers")
        if not isinstance(entries, list):
            raise ValueError("schema1 manifest has no fsLayers")
        seen: dict[str, Descriptor] = {}
        for i, entry in enumerate(entries):
            digest = entry.get("blobSum") if isinstance(entry, dict) else None
            if not isinstance(digest, str):
                raise ValueError(f"fsLayers[{i}] has no blobSum")
            try:
                digest_hasher(digest)
            except ValueError as exc:
                raise ValueError(f"fsLayers[{i}]: {exc}") from None
            seen.setdefault(digest, Descriptor(DOCKER_LAYER, digest, -1))
        return list(seen.values())

    @property
    def blobs(self) -> list[Descriptor]:
        """Config then layers: every blob a registry must hold before the manifest."""
        return ([self.config] if self.config else []) + self.layers

    @cached_property
    def subject(self) -> Descriptor | None:
        """The manifest this one refers to (signatures, SBOMs: OCI 1.1 referrers)."""
        if "subject" not in self._json:
            return None
        return Descriptor.from_json(self._json["subject"], "subject")

    @cached_property
    def annotations(self) -> Mapping[str, str]:
        """The manifest's own annotations (empty when it has none)."""
        value = self._json.get("annotations")
        if not isinstance(value, dict):
            return {}
        return {str(key): str(item) for key, item in value.items()}

    @property
    def artifact_type(self) -> str | None:
        """``artifactType``, else the config media type of a non-image artifact (Helm...)."""
        field = self._json.get("artifactType")
        if isinstance(field, str):
            return field
        config = self.config
        if config and config.media_type not in (*IMAGE_CONFIG_TYPES, OCI_EMPTY):
            return config.media_type
        return None

    def descriptor(self) -> Descriptor:
        """The descriptor that points at this manifest (as an index entry would)."""
        return Descriptor(
            self.media_type, self.digest, len(self.raw), artifact_type=self.artifact_type
        )


def _load(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"manifest is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("manifest is not a JSON object")
    if data.get("schemaVersion") not in (1, 2):
        raise ValueError(f"unsupported manifest schemaVersion {data.get('schemaVersion')!r}")
    return data


def distributable_blobs(manifests: Iterable[Manifest]) -> dict[str, Descriptor]:
    """The blobs of ``manifests`` a registry holds, by digest, each once, in order.

    Foreign layers (Windows base layers...) are left out: clients fetch them from their
    ``urls``, and registries refuse them by policy.
    """
    return {blob.digest: blob for m in manifests for blob in m.blobs if not blob.urls}
