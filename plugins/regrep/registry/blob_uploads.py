"""Blob uploads over the wire: open a session (or mount), send the bytes, complete or cancel.

The session's pieces that are not HTTP are :mod:`regrep.registry.upload`'s. Everything here
goes through the client's :class:`~regrep.registry.exchange.Exchange`; a stop of the
client's :class:`~regrep.registry.cancellation.Cancellation` breaks off an upload blocked
sending (a destination that stopped reading), after which the session is cancelled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urljoin, urlsplit

import requests

from regrep.registry.auth import pull_scopes, push_scopes, repository_scope
from regrep.registry.errors import (
    Forbidden,
    NotFound,
    Operation,
    RegistryError,
    Unauthorized,
    is_transient,
)
from regrep.registry.exchange import Exchange
from regrep.registry.retry import retry
from regrep.registry.upload import BlobUpload, SizedBody, pieces, uploaded_bytes

log = logging.getLogger(__name__)


@dataclass
class _Progress:
    """Where a piece's upload stands: the session's location and the registry's offset."""

    url: str
    offset: int


class BlobUploads:
    """The upload operations of one registry client (see :class:`RegistryClient`)."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self._transport = exchange.transport

    def start(self, repository: str, digest: str) -> BlobUpload:
        """Open an upload session for ``digest`` in ``repository`` (end-4a POST)."""
        with self._post(repository, digest, None) as response:
            return self._session(response, repository, digest)

    def try_mount(self, repository: str, digest: str, from_repository: str) -> BlobUpload | None:
        """Mount ``digest`` from ``from_repository`` (end-11), else open its upload.

        None when the registry mounted it (201). When it did not (202), the session it
        opened anyway is returned for the upload, so a missed mount costs no request; a
        refused mount (401, 403, 404) falls back to :meth:`start`.
        """
        try:
            response = self._post(repository, digest, from_repository)
        except (Unauthorized, Forbidden, NotFound) as exc:
            log.debug("mount of %s from %s refused: %s", digest, from_repository, exc)
            return self.start(repository, digest)
        with response:
            if response.status_code == 201:
                return None
            return self._session(response, repository, digest)

    def send(
        self,
        upload: BlobUpload,
        chunks: Iterable[bytes],
        *,
        size: int | None,
        chunk_size: int | None = None,
    ) -> None:
        """Send a blob's bytes into ``upload`` and complete it (``RegistryClient.send_blob``)."""
        url = upload.url
        body: Iterable[bytes] | None = None
        stop = self._transport.stop
        try:
            with stop.aborting(partial(self._transport.break_off, threading.get_ident())):
                if chunk_size is not None:
                    url = self._send_pieces(upload, pieces(chunks, chunk_size))
                else:
                    body = SizedBody(chunks, size) if size is not None else (c for c in chunks)
                self._complete(upload, url, body)
        except BaseException:
            self.cancel(upload, url)
            raise

    def cancel(self, upload: BlobUpload, url: str | None = None) -> None:
        """DELETE an upload session (end-10), best effort: it only frees server state.

        ``url`` is the session's latest location, when chunks have moved it on.
        """
        target = url or upload.url
        op = Operation("DELETE", urlsplit(target).path, "push", upload.repository, "upload")
        try:
            scopes = push_scopes(upload.repository)
            self._exchange.send(op, scopes, url=target, ok=(200, 202, 204, 404)).close()
        except RegistryError as exc:
            log.debug("could not cancel %s on %s: %s", upload.target, self._exchange.name, exc)

    def _post(self, repository: str, digest: str, mount_from: str | None) -> requests.Response:
        """POST to open an upload (end-4a), asking to mount from ``mount_from`` (end-11)."""
        path = f"/v2/{repository}/blobs/uploads/"
        if mount_from is None:
            op = Operation(
                "POST", path, "push", repository, f"upload of blob {digest} to {repository}"
            )
            return self._exchange.send(op, push_scopes(repository), ok=(202,))
        target = f"mount of blob {digest} into {repository} from {mount_from}"
        op = Operation("POST", path, "push", repository, target)
        scopes = (*push_scopes(repository), repository_scope(mount_from, "pull"))
        return self._exchange.send(
            op, scopes, params={"mount": digest, "from": mount_from}, ok=(201, 202)
        )

    def _session(self, response: requests.Response, repository: str, digest: str) -> BlobUpload:
        """The upload a 202 opened, at its ``Location``."""
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(
                f"endpoint {self._exchange.name} opened an upload to {repository} without a "
                "Location",
                status=response.status_code,
                endpoint=self._exchange.name,
                repository=repository,
            )
        return BlobUpload(repository, digest, self._absolute(location))

    def _absolute(self, location: str) -> str:
        return urljoin(self._exchange.url + "/", location)

    def _op(self, method: str, upload: BlobUpload, url: str) -> Operation:
        return Operation(method, urlsplit(url).path, "push", upload.repository, upload.target)

    def _complete(self, upload: BlobUpload, url: str, body: Iterable[bytes] | None) -> None:
        """PUT ``?digest=`` (end-6), with the blob's bytes or, after chunks, without.

        A completion without body is replayable; if an earlier attempt did commit and only
        its answer was lost, the session is gone (404) but the blob is there: done.
        """
        try:
            self._exchange.send(
                self._op("PUT", upload, url),
                push_scopes(upload.repository),
                url=url,
                params={"digest": upload.digest},
                headers={"Content-Type": "application/octet-stream"},
                data=body,
                ok=(201, 204),
            ).close()
        except NotFound:
            if body is not None or not self._blob_exists(upload):
                raise

    def _blob_exists(self, upload: BlobUpload) -> bool:
        path = f"/v2/{upload.repository}/blobs/{upload.digest}"
        op = Operation("HEAD", path, "pull", upload.repository, upload.target)
        with self._exchange.send(op, pull_scopes(upload.repository), ok=(200, 404)) as response:
            return response.status_code == 200

    def _send_pieces(self, upload: BlobUpload, chunks: Iterable[bytes]) -> str:
        """PATCH each piece with its ``Content-Range`` (end-5); the session's last location."""
        url, offset = upload.url, 0
        for piece in chunks:
            url = self._send_piece(upload, url, piece, offset)
            offset += len(piece)
        return url

    def _send_piece(self, upload: BlobUpload, url: str, piece: bytes, start: int) -> str:
        """PATCH one piece held in memory, resuming it where the registry stopped.

        A PATCH that breaks (no answer, 5xx, 416) is followed by the upload's status
        (end-13): the rest of the piece is sent from the offset the registry holds, as often
        as the retry policy allows. When the registry lost the session or holds bytes
        outside the piece, the interruption propagates (the copy engine then restarts the
        blob in a new session).
        """
        at = _Progress(url, start)
        end = start + len(piece)

        def patch() -> str:
            if at.offset == end:  # the registry turned out to hold the whole piece
                return at.url
            return self._patch(upload, at.url, piece[at.offset - start :], at.offset)

        def resume_in(failure: Exception, attempt: int) -> float | None:
            resumable = isinstance(failure, RegistryError) and (
                is_transient(failure) or failure.status == 416
            )
            if not resumable or attempt >= self._transport.policy.retries:
                return None
            assert isinstance(failure, RegistryError)
            at.url, at.offset = self._resume_point(upload, at.url, at.offset, failure)
            if not start <= at.offset <= end:
                raise failure
            return 0.0  # the registry said where it stands: go on at once

        def report(failure: Exception, attempt: int, wait: float) -> None:
            log.warning(
                "%s on %s: chunk at %d-%d interrupted (%s); the registry holds %d bytes, "
                "resuming from there (resume %d of %d)",
                upload.target,
                self._exchange.name,
                start,
                end - 1,
                failure,
                at.offset,
                attempt,
                self._transport.policy.retries,
            )

        return retry(patch, retry_in=resume_in, report=report, stop=self._transport.stop)

    def _patch(self, upload: BlobUpload, url: str, data: bytes, offset: int) -> str:
        """Send one chunk at ``offset``; the session's next location."""
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{offset + len(data) - 1}",
        }
        op = self._op("PATCH", upload, url)
        scopes = push_scopes(upload.repository)
        with self._exchange.send(
            op, scopes, url=url, headers=headers, data=data, ok=(202,)
        ) as response:
            return self._absolute(response.headers.get("Location") or url)

    def _resume_point(
        self, upload: BlobUpload, url: str, acknowledged: int, interrupted: RegistryError
    ) -> tuple[str, int]:
        """The session's location and how many bytes the registry holds (end-13 GET).

        ``interrupted`` propagates when the registry cannot say: the session is gone, or
        (distribution) the interrupted request left bytes the session's state does not
        know of, which makes the registry cancel the session.
        """
        try:
            with self._exchange.send(
                self._op("GET", upload, url), push_scopes(upload.repository), url=url, ok=(204,)
            ) as response:
                held = uploaded_bytes(response.headers.get("Range"), acknowledged)
                location = self._absolute(response.headers.get("Location") or url)
        except RegistryError as exc:
            interrupted.add_note(f"the upload could not be resumed: {exc}")
            raise interrupted from exc
        if held is None:
            raise interrupted
        return location, held
