"""A blob being downloaded: an iterable of ~1 MiB chunks that verifies what it yields.

Blobs are content-addressed, so the only proof the source sent the right bytes is their
hash. Hashing while the bytes stream through costs no extra read and no memory, and lets
the copy fail (before the upload is completed, so nothing is committed at the
destination) instead of trusting the destination to notice.
"""

from __future__ import annotations

from collections.abc import Iterator

import requests
import urllib3

from regrep.oci.manifests import digest_hasher
from regrep.registry.errors import ConnectionFailed, DigestMismatch
from regrep.registry.inflight import shut_down

CHUNK_SIZE = 1 << 20


class BlobStream:
    """The body of a blob GET; iterate it once. ``size`` is the announced length, if any."""

    def __init__(
        self, response: requests.Response, *, digest: str, repository: str, endpoint: str
    ) -> None:
        self._response = response
        self.digest = digest
        self.repository = repository
        self.endpoint = endpoint
        length = response.headers.get("Content-Length")
        self.size: int | None = int(length) if length and length.isdigit() else None
        self.bytes_read = 0

    def abort(self) -> None:
        """Break off the download from another thread (a copy being stopped).

        A read waits until a whole chunk has arrived, seconds on a slow source: shutting
        the connection's socket down ends that read at once, and the stream then fails as
        a dropped download (the connection is discarded, never reused). Best effort: a
        response without a plain socket (another transport) is left to finish its read.
        """
        shut_down(getattr(self._response.raw, "connection", None))

    def __iter__(self) -> Iterator[bytes]:
        hasher = digest_hasher(self.digest)
        # decode_content=False: a Content-Encoding added by a proxy must not alter the
        # bytes; the digest is over the blob exactly as stored.
        raw = self._response.raw
        try:
            for chunk in raw.stream(CHUNK_SIZE, decode_content=False):
                hasher.update(chunk)
                self.bytes_read += len(chunk)
                yield chunk
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ConnectionFailed(
                f"endpoint {self.endpoint} dropped the download of blob {self.digest} from "
                f"{self.repository} after {self.bytes_read} bytes: {exc}",
                endpoint=self.endpoint,
                repository=self.repository,
            ) from exc
        actual = f"{hasher.name}:{hasher.hexdigest()}"
        if actual != self.digest or (self.size is not None and self.bytes_read != self.size):
            raise DigestMismatch(
                f"endpoint {self.endpoint} sent wrong content for blob {self.digest} of "
                f"{self.repository}: got {self.bytes_read} bytes hashing to {actual}",
                endpoint=self.endpoint,
                repository=self.repository,
            )
