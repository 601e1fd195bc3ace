"""Manifest requests of the distribution API: HEAD, GET, PUT and DELETE (end-3, 7, 9).

A manifest's bytes are checked against every digest the request names or the registry
announces, so a registry (or a proxy) serving other content is caught here, and a manifest
is pushed byte for byte, never re-serialised.
"""

from __future__ import annotations

from regrep.oci.manifests import (
    MANIFEST_ACCEPT,
    MANIFEST_SIZE_GUARANTEED,
    MANIFEST_TYPES,
    Descriptor,
    Manifest,
    compute_digest,
    digested_bytes,
    is_digest,
)
from regrep.registry.auth import pull_scopes, push_scopes, repository_scope
from regrep.registry.errors import (
    Access,
    DigestMismatch,
    ManifestInvalid,
    Operation,
    RegistryError,
)
from regrep.registry.exchange import Exchange


def manifest_target(repository: str, reference: str) -> str:
    """``repo:tag`` or ``repo@digest``, as messages name a manifest."""
    return f"{repository}@{reference}" if is_digest(reference) else f"{repository}:{reference}"


def manifest_operation(method: str, repository: str, reference: str, action: Access) -> Operation:
    """The operation of a manifest request, for its auth scope and its errors."""
    path = f"/v2/{repository}/manifests/{reference}"
    return Operation(method, path, action, repository, manifest_target(repository, reference))


class ManifestRequests:
    """The manifest requests of one registry client."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange

    def head(self, repository: str, reference: str) -> Descriptor | None:
        """The manifest's descriptor without its body (end-3); None if absent."""
        op = manifest_operation("HEAD", repository, reference, "pull")
        with self._exchange.send(
            op, pull_scopes(repository), headers={"Accept": MANIFEST_ACCEPT}, ok=(200, 404)
        ) as response:
            if response.status_code == 404:
                return None
            digest = response.headers.get("Docker-Content-Digest", "")
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            length = response.headers.get("Content-Length", "")
        if not is_digest(digest) or media_type not in MANIFEST_TYPES or not length.isdigit():
            # The header set is a SHOULD; without it only the body tells the truth.
            return self.get(repository, reference).descriptor()
        if is_digest(reference) and digest != reference:
            raise self._mismatch(repository, reference, digest)
        return Descriptor(media_type, digest, int(length))

    def get(self, repository: str, reference: str) -> Manifest:
        """Fetch a manifest by tag or digest (end-3), verifying its bytes against its digest."""
        op = manifest_operation("GET", repository, reference, "pull")
        with self._exchange.send(
            op, pull_scopes(repository), headers={"Accept": MANIFEST_ACCEPT}
        ) as response:
            raw = response.content
            announced = response.headers.get("Docker-Content-Digest", "")
            media_type = response.headers.get("Content-Type", "")
        digested = digested_bytes(raw)
        for expected in (reference, announced):
            if is_digest(expected) and compute_digest(digested, like=expected) != expected:
                raise self._mismatch(repository, reference, compute_digest(digested, like=expected))
        try:
            return Manifest.parse(raw, media_type)
        except ValueError as exc:
            raise ManifestInvalid(
                f"{op.target} on endpoint {self._exchange.name} is not a valid manifest: {exc}",
                endpoint=self._exchange.name,
                repository=repository,
            ) from None

    def put(self, repository: str, reference: str, manifest: Manifest) -> str:
        """Push the manifest's exact bytes under a tag or digest (end-7); its digest.

        A registry may refuse a manifest over the 4 MiB every registry should accept: the
        error then says so, with the size, instead of a bare "manifest invalid".
        """
        op = manifest_operation("PUT", repository, reference, "push")
        try:
            response = self._exchange.send(
                op,
                push_scopes(repository),
                headers={"Content-Type": manifest.media_type},
                data=manifest.raw,
                ok=(200, 201),
            )
        except RegistryError as exc:
            if exc.status == 413 or (
                isinstance(exc, ManifestInvalid) and len(manifest.raw) > MANIFEST_SIZE_GUARANTEED
            ):
                raise self._too_large(op, manifest, exc) from exc
            raise
        with response:
            stored = response.headers.get("Docker-Content-Digest", "")
        if is_digest(stored) and stored.startswith("sha256:") and stored != manifest.digest:
            raise self._mismatch(repository, reference, stored)
        return manifest.digest

    def delete(self, repository: str, digest: str) -> None:
        """Delete a manifest, and with it every tag pointing at it (end-9)."""
        op = manifest_operation("DELETE", repository, digest, "delete")
        scopes = (repository_scope(repository, "delete"),)
        self._exchange.send(op, scopes, ok=(200, 202)).close()

    def _mismatch(self, repository: str, reference: str, actual: str) -> DigestMismatch:
        return DigestMismatch(
            f"endpoint {self._exchange.name} served {manifest_target(repository, reference)} "
            f"as content hashing to {actual}: the manifest does not match its digest",
            endpoint=self._exchange.name,
            repository=repository,
        )

    def _too_large(
        self, op: Operation, manifest: Manifest, cause: RegistryError
    ) -> ManifestInvalid:
        size = len(manifest.raw)
        return ManifestInvalid(
            f"endpoint {self._exchange.name} refused {op.target}: the manifest is {size} bytes "
            f"({size / (1 << 20):.1f} MiB), more than it accepts (registries need only accept "
            f"{MANIFEST_SIZE_GUARANTEED >> 20} MiB); the registry said: {cause.message}",
            status=cause.status,
            endpoint=self._exchange.name,
            repository=op.repository,
        )
