"""A registry WITH the OCI 1.1 referrers API: a reverse proxy in front of a real one.

Debian's ``docker-registry`` (distribution 2.8) has no referrers API and Debian packages no
registry that has one (no zot, no distribution 3), so this proxy adds the API to a real
``docker-registry`` process, following the distribution-spec 1.1 "Listing Referrers" and
"Pushing Manifests with Subject" sections:

- every request is forwarded unchanged (``Host`` included, so the registry's ``Location``
  headers point back at the proxy);
- a successful manifest PUT whose body has a ``subject`` is recorded, and the answer
  carries ``OCI-Subject: <subject digest>``, telling clients not to maintain the referrers
  tag themselves;
- ``GET /v2/<name>/referrers/<digest>`` answers an OCI index of the recorded referrers of
  ``digest`` (``artifactType`` from the manifest, else its config media type; all its
  annotations), filtered by ``?artifactType=`` with ``OCI-Filters-Applied: artifactType``,
  and 400 for a malformed digest; a manifest DELETE forgets the referrer.

Only manifests pushed through the proxy are known, which is all the tests need. Bodies are
held in memory (test content is small). Plain HTTP, no auth.

``max_manifest_bytes`` makes it a registry with a smaller manifest limit than
distribution's 4 MiB (which distribution enforces on reads too, so no distribution can
hold a manifest it would refuse): larger manifest PUTs get the spec's ``413``.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.registries import RunningRegistry

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
_REFERRERS = re.compile(r"/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)")
_MANIFEST = re.compile(r"/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}
)


@dataclass
class ReferrersIndex:
    """What the proxy has seen pushed: (repository, subject) -> {referrer digest: entry}."""

    entries: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, repository: str, raw: bytes, digest: str, media_type: str) -> str | None:
        """Remember a pushed manifest if it has a subject; the subject digest, or None."""
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        subject = body.get("subject") if isinstance(body, dict) else None
        if not isinstance(subject, dict) or not isinstance(subject.get("digest"), str):
            return None
        entry: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": len(raw)}
        artifact_type = body.get("artifactType") or (body.get("config") or {}).get("mediaType")
        if artifact_type:
            entry["artifactType"] = artifact_type
        if body.get("annotations"):
            entry["annotations"] = body["annotations"]
        with self.lock:
            self.entries.setdefault((repository, subject["digest"]), {})[digest] = entry
        return str(subject["digest"])

    def forget(self, repository: str, digest: str) -> None:
        with self.lock:
            for (name, _), referrers in self.entries.items():
                if name == repository:
                    referrers.pop(digest, None)

    def listing(self, repository: str, subject: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.entries.get((repository, subject), {}).values())


@dataclass
class ReferrersRegistry:
    """The proxy: ``registry`` is the upstream as seen through it (URL and host are the
    proxy's), for the push helpers; ``requests`` are the (method, path) it answered."""

    registry: RunningRegistry
    upstream: RunningRegistry
    index: ReferrersIndex
    requests: list[tuple[str, str]]

    @property
    def url(self) -> str:
        return self.registry.url


@contextmanager
def referrers_proxy(
    upstream: RunningRegistry, *, max_manifest_bytes: int | None = None
) -> Iterator[ReferrersRegistry]:
    """Serve the referrers API in front of ``upstream`` (a plain-HTTP registry)."""
    index = ReferrersIndex()
    seen: list[tuple[str, str]] = []
    target = urlsplit(upstream.url).netloc

    class Handler(_Handler):
        pass

    Handler.upstream, Handler.index, Handler.seen = target, index, seen
    Handler.max_manifest_bytes = max_manifest_bytes
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="referrers-proxy", daemon=True)
    thread.start()
    host = f"127.0.0.1:{server.server_address[1]}"
    through = dataclasses.replace(upstream, url=f"http://{host}", host=host)
    try:
        yield ReferrersRegistry(through, upstream, index, seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: str
    index: ReferrersIndex
    seen: list[tuple[str, str]]
    max_manifest_bytes: int | None

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read ``requests`` instead of stderr."""

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        path = urlsplit(self.path).path
        self.seen.append((self.command, path))
        match = _REFERRERS.fullmatch(path)
        if match and self.command == "GET":
            self._referrers(match["name"], match["digest"])
            return
        body = self._read_body()
        manifest = _MANIFEST.fullmatch(path)
        limit = self.max_manifest_bytes
        if manifest and self.command == "PUT" and limit is not None and len(body) > limit:
            message = f"manifest of {len(body)} bytes is over this registry's {limit}"
            error = {"errors": [{"code": "MANIFEST_INVALID", "message": message}]}
            self._reply(413, {"Content-Type": "application/json"}, json.dumps(error).encode())
            return
        status, headers, answer = self._forward(body)
        if manifest and self.command == "PUT" and status == 201:
            digest = headers.get("Docker-Content-Digest", "")
            media_type = self.headers.get("Content-Type", "")
            subject = self.index.record(manifest["name"], body, digest, media_type)
            if subject is not None:
                headers["OCI-Subject"] = subject
        if manifest and self.command == "DELETE" and status == 202:
            self.index.forget(manifest["name"], manifest["reference"])
        self._reply(status, headers, answer)

    def _referrers(self, repository: str, digest: str) -> None:
        if not _DIGEST.fullmatch(digest):
            error = {"errors": [{"code": "DIGEST_INVALID", "message": f"bad digest {digest}"}]}
            self._reply(400, {"Content-Type": "application/json"}, json.dumps(error).encode())
            return
        entries = self.index.listing(repository, digest)
        headers = {"Content-Type": OCI_INDEX}
        wanted = parse_qs(urlsplit(self.path).query).get("artifactType")
        if wanted:
            entries = [e for e in entries if e.get("artifactType") == wanted[0]]
            headers["OCI-Filters-Applied"] = "artifactType"
        body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        self._reply(200, headers, json.dumps(body).encode())

    def _read_body(self) -> bytes:
        """The request body, whether sent with a length or chunked (streamed uploads)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            if body or self.command in ("PUT", "POST", "PATCH"):
                headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
            if self.command == "HEAD":
                kept["Content-Length"] = response.getheader("Content-Length", "0")
            return response.status, kept, answer
        finally:
            connection.close()

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
