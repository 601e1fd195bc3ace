"""The OCI distribution client: one narrow method per registry operation.

Everything above this module (planning, the copy engine, operators) speaks manifests,
descriptors and typed errors; HTTP, auth challenges, pagination and redirects stay here.
Endpoints follow the OCI distribution-spec ("API" table, end-1 ... end-13).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from regrep.oci.manifests import (
    MANIFEST_ACCEPT,
    MANIFEST_SIZE_GUARANTEED,
    MANIFEST_TYPES,
    OCI_INDEX,
    Descriptor,
    Manifest,
    compute_digest,
    digested_bytes,
    is_digest,
)
from regrep.registry.auth import Authenticator, parse_challenges, repository_scope
from regrep.registry.blobstream import BlobStream
from regrep.registry.credentials import CredentialSource
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
    is_transient,
)
from regrep.registry.pagination import next_link
from regrep.registry.transport import Transport, origin
from regrep.registry.upload import BlobUpload, SizedBody, pieces, uploaded_bytes

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 1000  # distribution's default catalog.maxentries; others clamp
_CATALOG_SCOPE = "registry:catalog:*"
_ERROR_BODY_LIMIT = 64 * 1024
MAX_RESUMES = 3
"""Resumes of one interrupted chunk before the interruption fails the upload."""


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
        credentials: CredentialSource | None = None,
    ) -> None:
        """``credentials`` fetches short-lived registry credentials from a vendor API,
        instead of ``username``/``password`` (see :mod:`regrep.registry.credentials`)."""
        self.url = _normalise_url(url)
        self.host = urlsplit(self.url).netloc
        self.name = name or self.host
        self._transport = Transport(
            endpoint=self.name, verify=verify, ca_bundle=ca_bundle, timeout=timeout
        )
        self._auth = Authenticator(
            self._transport,
            endpoint=self.name,
            username=username,
            password=password,
            credentials=credentials,
        )
        self._no_referrers_api = False  # set once the registry shows it lacks the API

    def __repr__(self) -> str:
        return f"RegistryClient({self.url!r}, name={self.name!r})"

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._transport.close()

    def pause_retries_with(self, pause: Callable[[float], None]) -> None:
        """Wait between a request's retries with ``pause`` instead of sleeping.

        A task passes its :meth:`Cancellation.wait <regrep.cancellation.Cancellation.wait>`:
        a blob copy waiting out a ``Retry-After`` (up to 30 s) would otherwise hold a
        stopped task until Airflow kills it.
        """
        self._transport.pause = pause

    # -- discovery ---------------------------------------------------------------------

    def ping(self) -> None:
        """Check the endpoint speaks the v2 API and accepts our credentials (end-1)."""
        op = Operation("GET", "/v2/", "pull", None, "the registry API (/v2/)")
        self._request(op, (), ok=(200,)).close()

    def list_repositories(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, name_pattern: str = ""
    ) -> Iterator[str]:
        """Every repository in the catalog, following pagination.

        ``name_pattern`` is the rule's name filter, a hint for registries that cannot list
        everything (Docker Hub, GHCR list per namespace): the catalog ignores it, and the
        caller filters what any client returns.
        """
        op = Operation("GET", "/v2/_catalog", "list", None, "the catalog")
        for item in self._paginate(op, (_CATALOG_SCOPE,), "repositories", page_size):
            yield str(item)

    def list_tags(self, repository: str, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """Every tag of ``repository`` (end-8a/8b); empty if the repository does not exist."""
        path = f"/v2/{repository}/tags/list"
        op = Operation("GET", path, "pull", repository, f"repository {repository}")
        try:
            for item in self._paginate(op, self._pull(repository), "tags", page_size):
                yield str(item)
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
        digested = digested_bytes(raw)
        for expected in (reference, announced):
            if is_digest(expected) and compute_digest(digested, like=expected) != expected:
                raise self._mismatch(repository, reference, compute_digest(digested, like=expected))
        try:
            return Manifest.parse(raw, media_type)
        except ValueError as exc:
            raise ManifestInvalid(
                f"{op.target} on endpoint {self.name} is not a valid manifest: {exc}",
                endpoint=self.name,
                repository=repository,
            ) from None

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> str:
        """Push the manifest's exact bytes under a tag or digest (end-7); its digest.

        A registry may refuse a manifest over the 4 MiB every registry should accept: the
        error then says so, with the size, instead of a bare "manifest invalid".
        """
        op = self._manifest_op("PUT", repository, reference, "push")
        try:
            response = self._request(
                op,
                self._push(repository),
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

    def delete_manifest(self, repository: str, digest: str) -> None:
        """Delete a manifest, and with it every tag pointing at it (end-9)."""
        op = self._manifest_op("DELETE", repository, digest, "delete")
        scopes = (repository_scope(repository, "delete"),)
        self._request(op, scopes, ok=(200, 202)).close()

    def list_referrers(self, repository: str, digest: str) -> list[Descriptor] | None:
        """The manifests whose ``subject`` is ``digest`` (end-12a), following pagination.

        None when the registry has no referrers API: a registry that has it never answers
        404 for an existing repository (distribution-spec "Listing Referrers"), so a 404
        sends the caller to the referrers tag schema. A registry without the API is asked
        once per client, not once per manifest.
        """
        if self._no_referrers_api:
            return None
        path = f"/v2/{repository}/referrers/{digest}"
        op = Operation("GET", path, "pull", repository, f"referrers of {repository}@{digest}")
        headers = {"Accept": OCI_INDEX}
        try:
            entries = list(self._paginate(op, self._pull(repository), "manifests", None, headers))
        except NotFound as exc:
            # A bare 404 (no OCI error body) is the router not knowing the endpoint. An
            # OCI error such as NAME_UNKNOWN is an API answering about a repository that
            # does not exist yet, so nothing is remembered from it.
            if not exc.codes:
                self._no_referrers_api = True
            return None
        try:
            return [Descriptor.from_json(e, f"referrer {i}") for i, e in enumerate(entries)]
        except ValueError as exc:
            raise ManifestInvalid(
                f"endpoint {self.name} listed the {op.target} wrongly: {exc}",
                endpoint=self.name,
                repository=repository,
            ) from None

    def artifact_labels(self, repository: str, digest: str) -> set[str] | None:
        """The labels an artifact carries, or None when the registry has no labels.

        Labels are Harbor's; a plain registry has none, which is different from an artifact
        without labels. The Harbor client overrides this.
        """
        return None

    def untagged_digests(self, repository: str) -> list[str]:
        """The digests of the repository's artifacts that have no tag.

        The distribution API lists tags only: a plain registry cannot say which manifests
        were pushed by digest alone, so this is empty here. The Harbor client overrides it
        (Harbor's artifact listing shows untagged artifacts, as its replication sees them).
        """
        return []

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

    def start_upload(self, repository: str, digest: str) -> BlobUpload:
        """Open an upload session for ``digest`` in ``repository`` (end-4a POST)."""
        with self._post_upload(repository, digest, None) as response:
            return self._session(response, repository, digest)

    def try_mount(self, repository: str, digest: str, from_repository: str) -> BlobUpload | None:
        """Mount ``digest`` from ``from_repository`` (end-11), else open its upload.

        None when the registry mounted it (201). When it did not (202), the session it
        opened anyway is returned for the upload, so a missed mount costs no request; a
        refused mount (401, 403, 404) falls back to :meth:`start_upload`.
        """
        try:
            response = self._post_upload(repository, digest, from_repository)
        except (Unauthorized, Forbidden, NotFound) as exc:
            log.debug("mount of %s from %s refused: %s", digest, from_repository, exc)
            return self.start_upload(repository, digest)
        with response:
            if response.status_code == 201:
                return None
            return self._session(response, repository, digest)

    def send_blob(
        self,
        upload: BlobUpload,
        chunks: Iterable[bytes],
        *,
        size: int | None,
        chunk_size: int | None = None,
    ) -> None:
        """Send a blob's bytes into ``upload`` and complete it with ``?digest=`` (end-6).

        By default ONE streamed PUT, never held in memory: with ``Content-Length`` when
        ``size`` is known, else with chunked transfer encoding. With ``chunk_size`` the
        bytes go as PATCHes of that size (end-5, ``Content-Range``), each held until the
        registry has it; an interrupted one resumes from what the registry reports it
        holds (:meth:`_send_pieces`), and a PUT without body completes the upload. The
        registry verifies the digest (DIGEST_INVALID -> DigestMismatch). On failure the
        session is cancelled, so nothing is left half-written.
        """
        url = upload.url
        body: Iterable[bytes] | None = None
        try:
            if chunk_size is not None:
                url = self._send_pieces(upload, pieces(chunks, chunk_size))
            else:
                body = SizedBody(chunks, size) if size is not None else (c for c in chunks)
            self._complete(upload, url, body)
        except BaseException:
            self.cancel_upload(upload, url)
            raise

    def push_blob(
        self,
        repository: str,
        digest: str,
        size: int | None,
        chunks: Iterable[bytes],
        *,
        chunk_size: int | None = None,
    ) -> None:
        """Upload a blob into a new session (:meth:`start_upload`, :meth:`send_blob`)."""
        upload = self.start_upload(repository, digest)
        self.send_blob(upload, chunks, size=size, chunk_size=chunk_size)

    def cancel_upload(self, upload: BlobUpload, url: str | None = None) -> None:
        """DELETE an upload session (end-10), best effort: it only frees server state.

        ``url`` is the session's latest location, when chunks have moved it on.
        """
        target = url or upload.url
        op = Operation("DELETE", urlsplit(target).path, "push", upload.repository, "upload")
        try:
            scopes = self._push(upload.repository)
            self._request(op, scopes, url=target, ok=(200, 202, 204, 404)).close()
        except RegistryError as exc:
            log.debug("could not cancel %s on %s: %s", upload.target, self.name, exc)

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

    def _too_large(
        self, op: Operation, manifest: Manifest, cause: RegistryError
    ) -> ManifestInvalid:
        size = len(manifest.raw)
        return ManifestInvalid(
            f"endpoint {self.name} refused {op.target}: the manifest is {size} bytes "
            f"({size / (1 << 20):.1f} MiB), more than it accepts (registries need only accept "
            f"{MANIFEST_SIZE_GUARANTEED >> 20} MiB); the registry said: {cause.message}",
            status=cause.status,
            endpoint=self.name,
            repository=op.repository,
        )

    def _paginate(
        self,
        op: Operation,
        scopes: Sequence[str],
        key: str,
        page_size: int | None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[Any]:
        """The ``key`` list of each JSON page, following ``Link`` headers on our origin."""
        url: str | None = f"{self.url}{op.path}" + (f"?n={page_size}" if page_size else "")
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            with self._request(op, scopes, url=url, headers=headers) as response:
                try:
                    items = response.json().get(key) or []
                except (ValueError, AttributeError):
                    items = None
                if not isinstance(items, list):
                    raise RegistryError(
                        f"endpoint {self.name} answered {op.path} with a body that is not "
                        f"a JSON listing of {key}",
                        status=response.status_code,
                        endpoint=self.name,
                        repository=op.repository,
                    )
                url = next_link(response.headers.get("Link"), url)
            yield from items

    def _post_upload(
        self, repository: str, digest: str, mount_from: str | None
    ) -> requests.Response:
        """POST to open an upload (end-4a), asking to mount from ``mount_from`` (end-11)."""
        path = f"/v2/{repository}/blobs/uploads/"
        if mount_from is None:
            op = Operation(
                "POST", path, "push", repository, f"upload of blob {digest} to {repository}"
            )
            return self._request(op, self._push(repository), ok=(202,))
        target = f"mount of blob {digest} into {repository} from {mount_from}"
        op = Operation("POST", path, "push", repository, target)
        scopes = (*self._push(repository), repository_scope(mount_from, "pull"))
        return self._request(
            op, scopes, params={"mount": digest, "from": mount_from}, ok=(201, 202)
        )

    def _session(self, response: requests.Response, repository: str, digest: str) -> BlobUpload:
        """The upload a 202 opened, at its ``Location``."""
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(
                f"endpoint {self.name} opened an upload to {repository} without a Location",
                status=response.status_code,
                endpoint=self.name,
                repository=repository,
            )
        return BlobUpload(repository, digest, urljoin(self.url + "/", location))

    def _upload_op(self, method: str, upload: BlobUpload, url: str) -> Operation:
        return Operation(method, urlsplit(url).path, "push", upload.repository, upload.target)

    def _complete(self, upload: BlobUpload, url: str, body: Iterable[bytes] | None) -> None:
        """PUT ``?digest=`` (end-6), with the blob's bytes or, after chunks, without.

        A completion without body is replayable; if an earlier attempt did commit and only
        its answer was lost, the session is gone (404) but the blob is there: done.
        """
        try:
            self._request(
                self._upload_op("PUT", upload, url),
                self._push(upload.repository),
                url=url,
                params={"digest": upload.digest},
                headers={"Content-Type": "application/octet-stream"},
                data=body,
                ok=(201, 204),
            ).close()
        except NotFound:
            if body is not None or self.blob_size(upload.repository, upload.digest) is None:
                raise

    def _send_pieces(self, upload: BlobUpload, chunks: Iterable[bytes]) -> str:
        """PATCH each piece with its ``Content-Range`` (end-5); the session's last location.

        A piece whose PATCH breaks (no answer, 5xx, 416) is held in memory: the upload's
        status (end-13) tells how many bytes the registry holds, and the rest of the piece
        is sent from there, up to :data:`MAX_RESUMES` times per piece. When the registry
        lost the session or holds bytes outside the piece, the interruption propagates
        (the copy engine then restarts the blob in a new session).
        """
        url, offset = upload.url, 0
        for piece in chunks:
            start, end, resumes = offset, offset + len(piece), 0
            while offset < end:
                try:
                    url = self._patch(upload, url, piece[offset - start :], offset)
                    offset = end
                except RegistryError as interrupted:
                    if resumes == MAX_RESUMES or not (
                        is_transient(interrupted) or interrupted.status == 416
                    ):
                        raise
                    resumes += 1
                    url, offset = self._resume_point(upload, url, offset, interrupted)
                    if not start <= offset <= end:
                        raise interrupted
                    log.warning(
                        "%s on %s: chunk at %d-%d interrupted (%s); the registry holds %d "
                        "bytes, resuming from there (resume %d of %d)",
                        upload.target,
                        self.name,
                        start,
                        end - 1,
                        interrupted,
                        offset,
                        resumes,
                        MAX_RESUMES,
                    )
        return url

    def _patch(self, upload: BlobUpload, url: str, data: bytes, offset: int) -> str:
        """Send one chunk at ``offset``; the session's next location."""
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{offset + len(data) - 1}",
        }
        op = self._upload_op("PATCH", upload, url)
        with self._request(
            op, self._push(upload.repository), url=url, headers=headers, data=data, ok=(202,)
        ) as response:
            return urljoin(self.url + "/", response.headers.get("Location") or url)

    def _resume_point(
        self, upload: BlobUpload, url: str, acknowledged: int, interrupted: RegistryError
    ) -> tuple[str, int]:
        """The session's location and how many bytes the registry holds (end-13 GET).

        ``interrupted`` propagates when the registry cannot say: the session is gone, or
        (distribution) the interrupted request left bytes the session's state does not
        know of, which makes the registry cancel the session.
        """
        try:
            with self._request(
                self._upload_op("GET", upload, url),
                self._push(upload.repository),
                url=url,
                ok=(204,),
            ) as response:
                held = uploaded_bytes(response.headers.get("Range"), acknowledged)
                location = urljoin(self.url + "/", response.headers.get("Location") or url)
        except RegistryError as exc:
            interrupted.add_note(f"the upload could not be resumed: {exc}")
            raise interrupted from exc
        if held is None:
            raise interrupted
        return location, held

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
                and self._auth.challenged(challenge, scopes, authorization)
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
        error = error_for_status(
            response.status_code,
            response.reason,
            body,
            op,
            endpoint=self.name,
            anonymous=self._auth.anonymous,
            insufficient_scope="insufficient_scope" in errors,
            retry_after=response.headers.get("Retry-After"),
        )
        # The transport retried what it could replay; only the rest may be restarted whole.
        error.retried = self._transport.replays(op.method, data)
        raise error
