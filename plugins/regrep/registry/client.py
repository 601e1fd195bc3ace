"""The OCI distribution client: one narrow method per registry operation.

Everything above this module (planning, the copy engine, operators) speaks manifests,
descriptors and typed errors; HTTP, auth challenges, pagination and redirects stay here.
Endpoints follow the OCI distribution-spec ("API" table, end-1 ... end-13).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from regrep.oci import (
    MANIFEST_ACCEPT,
    MANIFEST_TYPES,
    Descriptor,
    Manifest,
    compute_digest,
    is_digest,
)
from regrep.registry.auth import Authenticator, parse_challenges, repository_scope
from regrep.registry.blobstream import BlobStream
from regrep.registry.errors import (
    Action,
    ConnectionFailed,
    DigestMismatch,
    Forbidden,
    ManifestInvalid,
    NotFound,
    Operation,
    RegistryError,
    Unauthorized,
    error_for_status,
)
from regrep.registry.pagination import next_link
from regrep.registry.transport import Transport, origin

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 1000  # distribution's default catalog.maxentries; others clamp
_CATALOG_SCOPE = "registry:catalog:*"
_ERROR_BODY_LIMIT = 64 * 1024


def _normalise_url(url: str) -> str:
    url = url.strip().rstrip("/")
    return url if "://" in url else f"https://{url}"


def _manifest_target(repository: str, reference: str) -> str:
    return f"{repository}@{reference}" if is_digest(reference) else f"{repository}:{reference}"


class RegistryClient:
    """A client for one registry endpoint; safe to share between threads."""

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        verify: bool = True,
        ca_bundle: str | None = None,
        name: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.url = _normalise_url(url)
        self.host = urlsplit(self.url).netloc
        self.name = name or self.host
        self._transport = Transport(
            endpoint=self.name, verify=verify, ca_bundle=ca_bundle, timeout=timeout
        )
        self._auth = Authenticator(
            self._transport, endpoint=self.name, username=username, password=password
        )

    def __repr__(self) -> str:
        return f"RegistryClient({self.url!r}, name={self.name!r})"

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._transport.close()

    # -- discovery ---------------------------------------------------------------------

    def ping(self) -> None:
        """Check the endpoint speaks the v2 API and accepts our credentials (end-1)."""
        op = Operation("GET", "/v2/", "pull", None, "the registry API (/v2/)")
        self._request(op, (), ok=(200,)).close()

    def list_repositories(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """Every repository in the catalog, following pagination."""
        op = Operation("GET", "/v2/_catalog", "list", None, "the catalog")
        yield from self._paginate(op, (_CATALOG_SCOPE,), "repositories", page_size)

    def list_tags(self, repository: str, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """Every tag of ``repository`` (end-8a/8b); empty if the repository does not exist."""
        path = f"/v2/{repository}/tags/list"
        op = Operation("GET", path, "pull", repository, f"repository {repository}")
        try:
            yield from self._paginate(op, self._pull(repository), "tags", page_size)
        except NotFound:
            return

    # -- manifests ---------------------------------------------------------------------

    def head_manifest(self, repository: str, reference: str) -> Descriptor | None:
        """The manifest's descriptor without its body (end-3); None if absent."""
        op = self._manifest_op("HEAD", repository, reference, "pull")
        with self._request(
            op, self._pull(repository), headers={"Accept": MANIFEST_ACCEPT}, ok=(200, 404)
        ) as response:
            if response.status_code == 404:
                return None
            digest = response.headers.get("Docker-Content-Digest", "")
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            length = response.headers.get("Content-Length", "")
        if not is_digest(digest) or media_type not in MANIFEST_TYPES or not length.isdigit():
            # The header set is a SHOULD; without it only the body tells the truth.
            return self.get_manifest(repository, reference).descriptor()
        if is_digest(reference) and digest != reference:
            raise self._mismatch(repository, reference, digest)
        return Descriptor(media_type, digest, int(length))

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """Fetch a manifest by tag or digest (end-3), verifying its bytes against its digest."""
        op = self._manifest_op("GET", repository, reference, "pull")
        with self._request(
            op, self._pull(repository), headers={"Accept": MANIFEST_ACCEPT}
        ) as response:
            raw = response.content
            announced = response.headers.get("Docker-Content-Digest", "")
            media_type = response.headers.get("Content-Type", "")
        for expected in (reference, announced):
            if is_digest(expected) and compute_digest(raw, like=expected) != expected:
                raise self._mismatch(repository, reference, compute_digest(raw, like=expected))
        try:
            return Manifest.parse(raw, media_type)
        except ValueError as exc:
            raise ManifestInvalid(
                f"{op.target} on endpoint {self.name} is not a valid manifest: {exc}",
                endpoint=self.name,
                repository=repository,
            ) from None

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> str:
        """Push the manifest's exact bytes under a tag or digest (end-7); its digest."""
        op = self._manifest_op("PUT", repository, reference, "push")
        with self._request(
            op,
            self._push(repository),
            headers={"Content-Type": manifest.media_type},
            data=manifest.raw,
            ok=(200, 201),
        ) as response:
            stored = response.headers.get("Docker-Content-Digest", "")
        if is_digest(stored) and stored.startswith("sha256:") and stored != manifest.digest:
            raise self._mismatch(repository, reference, stored)
        return manifest.digest

    def delete_manifest(self, repository: str, digest: str) -> None:
        """Delete a manifest, and with it every tag pointing at it (end-9)."""
        op = self._manifest_op("DELETE", repository, digest, "delete")
        scopes = (repository_scope(repository, "delete"),)
        self._request(op, scopes, ok=(200, 202)).close()

    # -- blobs -------------------------------------------------------------------------

    def blob_size(self, repository: str, digest: str) -> int | None:
        """Size of a blob in ``repository`` (end-2 HEAD); None if it is not there.

        -1 when the blob exists but the registry sent no Content-Length.
        """
        op = self._blob_op("HEAD", repository, digest, "pull")
        with self._request(op, self._pull(repository), ok=(200, 404)) as response:
            if response.status_code == 404:
                return None
            length = response.headers.get("Content-Length", "")
        return int(length) if length.isdigit() else -1

    @contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[BlobStream]:
        """Stream a blob (end-2 GET, redirects followed without our credentials)."""
        op = self._blob_op("GET", repository, digest, "pull")
        # identity: the digest covers the stored bytes, not a re-encoding of them.
        response = self._request(
            op, self._pull(repository), headers={"Accept-Encoding": "identity"}, stream=True
        )
        with response:
            yield BlobStream(response, digest=digest, repository=repository, endpoint=self.name)

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Ask the registry to link a blob it holds in ``from_repository`` (end-11).

        True when mounted (201). A 202 means the registry started an ordinary upload
        instead (blob not there, or no pull right on the source); that upload is
        cancelled rather than left to the registry's purge. Permission refusals also
        answer False: the mount is only a shortcut and the caller falls back to a push.
        """
        path = f"/v2/{repository}/blobs/uploads/"
        op = Operation(
            "POST", path, "push", repository, f"mount of blob {digest} into {repository}"
        )
        scopes = (*self._push(repository), repository_scope(from_repository, "pull"))
        try:
            response = self._request(
                op, scopes, params={"mount": digest, "from": from_repository}, ok=(201, 202)
            )
        except (Unauthorized, Forbidden, NotFound) as exc:
            log.debug("mount of %s from %s refused: %s", digest, from_repository, exc)
            return False
        with response:
            if response.status_code == 201:
                return True
            location = response.headers.get("Location")
        if location:
            self._cancel_upload(repository, location)
        return False

    def push_blob(
        self, repository: str, digest: str, size: int | None, chunks: Iterable[bytes]
    ) -> None:
        """Upload a blob: POST to open, then ONE streamed PUT ``?digest=`` (end-4a, end-6).

        The body is sent with chunked transfer encoding straight from ``chunks``, never
        held in memory; the registry verifies the digest (DIGEST_INVALID -> DigestMismatch).
        ``size`` only enriches messages: chunked uploads need no length up front.
        """
        path = f"/v2/{repository}/blobs/uploads/"
        target = f"upload of blob {digest} ({size if size is not None else '?'} bytes) to"
        op = Operation("POST", path, "push", repository, f"{target} {repository}")
        with self._request(op, self._push(repository), ok=(202,)) as started:
            location = started.headers.get("Location")
        if not location:
            raise RegistryError(
                f"endpoint {self.name} opened an upload to {repository} without a Location",
                status=202,
                endpoint=self.name,
                repository=repository,
            )
        url = urljoin(self.url + "/", location)
        put = Operation("PUT", urlsplit(url).path, "push", repository, op.target)
        try:
            self._request(
                put,
                self._push(repository),
                url=url,
                params={"digest": digest},
                headers={"Content-Type": "application/octet-stream"},
                data=(chunk for chunk in chunks),
                ok=(201, 204),
            ).close()
        except BaseException:
            self._cancel_upload(repository, url)
            raise

    def ensure_namespace(self, repository: str) -> None:
        """Create what must exist before pushing; plain distribution needs nothing."""

    # -- plumbing ----------------------------------------------------------------------

    def _pull(self, repository: str) -> tuple[str, ...]:
        return (repository_scope(repository, "pull"),)

    def _push(self, repository: str) -> tuple[str, ...]:
        return (repository_scope(repository, "pull", "push"),)

    def _manifest_op(
        self, method: str, repository: str, reference: str, action: Action
    ) -> Operation:
        path = f"/v2/{repository}/manifests/{reference}"
        return Operation(method, path, action, repository, _manifest_target(repository, reference))

    def _blob_op(self, method: str, repository: str, digest: str, action: Action) -> Operation:
        path = f"/v2/{repository}/blobs/{digest}"
        return Operation(method, path, action, repository, f"blob {digest} in {repository}")

    def _mismatch(self, repository: str, reference: str, actual: str) -> DigestMismatch:
        return DigestMismatch(
            f"endpoint {self.name} served {_manifest_target(repository, reference)} as content "
            f"hashing to {actual}: the manifest does not match its digest",
            endpoint=self.name,
            repository=repository,
        )

    def _paginate(
        self, op: Operation, scopes: Sequence[str], key: str, page_size: int
    ) -> Iterator[str]:
        url: str | None = f"{self.url}{op.path}?n={page_size}"
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            with self._request(op, scopes, url=url) as response:
                try:
                    items = response.json().get(key) or []
                except (ValueError, AttributeError):
                    raise RegistryError(
                        f"endpoint {self.name} answered {op.path} with a body that is not "
                        f"a JSON listing of {key}",
                        status=response.status_code,
                        endpoint=self.name,
                        repository=op.repository,
                    ) from None
                url = next_link(response.headers.get("Link"), url)
            yield from (str(item) for item in items)

    def _cancel_upload(self, repository: str, location: str) -> None:
        """DELETE an upload session (end-12), best effort: it only frees server state."""
        url = urljoin(self.url + "/", location)
        op = Operation("DELETE", urlsplit(url).path, "push", repository, "upload")
        try:
            self._request(op, self._push(repository), url=url, ok=(200, 202, 204, 404)).close()
        except RegistryError as exc:
            log.debug("could not cancel upload in %s on %s: %s", repository, self.name, exc)

    def _request(
        self,
        op: Operation,
        scopes: Sequence[str],
        *,
        url: str | None = None,
        ok: Collection[int] = (200,),
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        data: Any = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send ``op`` with the auth ``scopes`` need; answer one auth challenge; map errors.

        Returns the response when its status is in ``ok`` (callers probing with HEAD put
        404 there: "not there" is an answer, not an error), else raises. A body that
        cannot be replayed (a streamed upload) gets no second attempt; its auth was
        settled by the POST that opened the upload.
        """
        target = url or f"{self.url}{op.path}"
        own_origin = origin(target) == origin(self.url)
        replayable = data is None or isinstance(data, bytes)
        for attempt in range(2):
            authorization = self._auth.authorization(scopes, op) if own_origin else None
            try:
                response = self._transport.request(
                    op.method,
                    target,
                    headers=headers,
                    params=params,
                    data=data,
                    stream=stream,
                    authorization=authorization,
                )
            except ConnectionFailed as exc:
                exc.repository = op.repository  # the transport knows URLs, not repositories
                raise
            challenge = response.headers.get("WWW-Authenticate")
            if (
                response.status_code == 401
                and attempt == 0
                and replayable
                and own_origin
                and self._auth.challenged(challenge, scopes)
            ):
                response.close()
                continue
            break
        if response.status_code in ok:
            return response
        with response:
            # Error bodies are small JSON; cap the read in case a proxy streams a page.
            body = (
                next(response.iter_content(_ERROR_BODY_LIMIT), b"") if stream else response.content
            )
        errors = {c.error for c in parse_challenges(challenge or "")}
        raise error_for_status(
            response.status_code,
            response.reason,
            body,
            op,
            endpoint=self.name,
            anonymous=self._auth.anonymous,
            insufficient_scope="insufficient_scope" in errors,
            retry_after=response.headers.get("Retry-After"),
        )
