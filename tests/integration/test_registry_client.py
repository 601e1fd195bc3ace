"""The OCI distribution client against real ``docker-registry`` processes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from regrep.oci.manifests import Manifest, sha256_digest
from regrep.registry.client import RegistryClient
from regrep.registry.errors import (
    ConnectionFailed,
    DigestMismatch,
    Forbidden,
    NotFound,
    ServerError,
    Unauthorized,
)
from tests.support.blobs import make_blob
from tests.support.images import (
    blob_size,
    get_manifest_bytes,
    manifest_digest,
    push_image,
    push_manifest,
)
from tests.support.registries import RunningRegistry, TokenRegistry


def _client(reg: RunningRegistry, name: str = "conn", **kwargs: object) -> RegistryClient:
    return RegistryClient.connect(reg.url, name=name, **kwargs)  # type: ignore[arg-type]


def _blob_path(reg: RunningRegistry, digest: str) -> Path:
    """Where distribution's filesystem driver keeps a blob's bytes."""
    hex_digest = digest.split(":", 1)[1]
    return reg.data_dir / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"


def _open_uploads(reg: RunningRegistry, repository: str) -> list[Path]:
    """Upload sessions the registry still holds (a cancelled one keeps only ``hashstates``)."""
    folder = reg.data_dir / "docker/registry/v2/repositories" / repository / "_uploads"
    return [d for d in folder.glob("*") if (d / "startedat").exists() or (d / "data").exists()]


# -- discovery and listing -------------------------------------------------------------


def test_ping_and_paginated_listing(registry: RunningRegistry) -> None:
    image = push_image(registry, "team/app", "t00")
    tags = [f"t{i:02}" for i in range(30)]
    for tag in tags[1:]:
        push_manifest(registry, "team/app", tag, image.manifest_bytes, image.media_type)
    others = [f"repo{i:02}" for i in range(11)]
    for repository in others:
        push_image(registry, repository, "x")
    repositories = sorted(["team/app", *others])

    with _client(registry) as client:
        client.ping()
        assert sorted(client.list_tags("team/app", page_size=7)) == tags
        assert list(client.list_repositories(page_size=5)) == repositories
        assert list(client.list_tags("absent/repo")) == []

    catalog_pages = [e for e in registry.access_log() if e.path.startswith("/v2/_catalog")]
    assert len(catalog_pages) == 3  # 12 repositories, 5 per page, via Link rel="next"


# -- authentication ----------------------------------------------------------------------


def test_basic_auth_anonymous_and_wrong_password(
    htpasswd_registry: RunningRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reg = htpasswd_registry
    push_image(reg, "app", "1")
    with pytest.raises(Unauthorized, match="endpoint basic_conn requires credentials"):
        _client(reg, "basic_conn").ping()
    with _client(reg, "basic_conn", username=reg.username, password=reg.password) as client:
        client.ping()
        assert list(client.list_tags("app")) == ["1"]

    wrong_password = "not-" + (reg.password or "")
    wrong = _client(reg, "basic_conn", username=reg.username, password=wrong_password)
    with pytest.raises(Unauthorized) as caught:
        wrong.get_manifest("app", "1")
    assert str(caught.value).startswith("bad credentials for endpoint basic_conn")
    assert caught.value.status == 401 and caught.value.endpoint == "basic_conn"
    for secret in (reg.password or "", wrong_password, "Basic "):
        assert secret not in str(caught.value)
        assert secret not in caplog.text


def _requests_by(issuer_requests: list[object], user: str) -> list[tuple[str, ...]]:
    return [r.scopes for r in issuer_requests if r.user == user]  # type: ignore[attr-defined]


def test_token_auth_caches_per_scope_and_widens_for_push(
    token_registry: TokenRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reg, issuer = token_registry.registry, token_registry.issuer
    image = push_image(reg, "app", "1")
    password = issuer.users["writer"]
    with _client(reg, "tok", username="writer", password=password) as client:
        client.ping()
        for _ in range(3):
            assert client.get_manifest("app", "1").digest == image.digest
            assert list(client.list_tags("app")) == ["1"]
            assert client.blob_size("app", next(iter(image.blobs))) is not None
        assert _requests_by(issuer.requests, "writer") == [(), ("repository:app:pull",)]

        # A push after a pull on the same repository needs a wider token, once.
        manifest = client.get_manifest("app", "1")
        client.put_manifest("app", "2", manifest)
        client.put_manifest("app", "3", manifest)
        assert _requests_by(issuer.requests, "writer")[2:] == [("repository:app:pull,push",)]

        # A cross-repository mount asks for both repositories in one token.
        assert client.try_mount("other", next(iter(image.blobs)), "app") is None
        assert _requests_by(issuer.requests, "writer")[-1] == (
            "repository:app:pull",
            "repository:other:pull,push",
        )
    assert manifest_digest(reg, "app", "3") == image.digest
    assert password not in caplog.text and "Bearer " not in caplog.text


def test_token_renewed_after_expiry(token_registry: TokenRegistry) -> None:
    reg, issuer = token_registry.registry, token_registry.issuer
    push_image(reg, "app", "1")
    issuer.expires_in = 2
    with _client(reg, username="writer", password=issuer.users["writer"]) as client:
        client.get_manifest("app", "1")
        client.get_manifest("app", "1")
        assert len(_requests_by(issuer.requests, "writer")) == 1
        time.sleep(2.1)
        client.get_manifest("app", "1")
        assert len(_requests_by(issuer.requests, "writer")) == 2


def test_token_auth_permission_and_credential_errors(token_registry: TokenRegistry) -> None:
    reg, issuer = token_registry.registry, token_registry.issuer
    image = push_image(reg, "app", "1")
    with _client(reg, "tok", username="reader", password=issuer.users["reader"]) as reader:
        manifest = reader.get_manifest("app", "1")
        with pytest.raises(Forbidden, match="no permission to push app on endpoint tok"):
            reader.put_manifest("app", "2", manifest)
        with pytest.raises(Forbidden, match="no permission to push app on endpoint tok"):
            reader.push_blob("app", image.digest, None, [b"x"])
        with pytest.raises(Forbidden, match="no permission to delete app on endpoint tok"):
            reader.delete_manifest("app", image.digest)
    with _client(reg, "tok", username="writer", password=issuer.users["writer"]) as writer:
        writer.delete_manifest("app", image.digest)
        assert writer.head_manifest("app", "1") is None
    with pytest.raises(Unauthorized, match="bad credentials for endpoint tok"):
        _client(reg, "tok", username="writer", password="wrong").ping()
    with pytest.raises(Unauthorized, match="endpoint tok requires credentials to pull app"):
        _client(reg, "tok").get_manifest("app", "1")


# -- TLS -----------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_verification(tls_registry: RunningRegistry) -> None:
    reg = tls_registry
    credentials = {"username": reg.username, "password": reg.password}
    with pytest.raises(ConnectionFailed) as caught:
        _client(reg, "secure", **credentials).ping()
    message = str(caught.value)
    assert "TLS certificate problem with endpoint secure" in message
    assert "ca_bundle" in message and "verify=False" in message
    _client(reg, "secure", ca_bundle=str(reg.ca_cert), **credentials).ping()
    _client(reg, "secure", verify=False, **credentials).ping()


def test_unreachable_endpoint() -> None:
    with pytest.raises(ConnectionFailed, match="cannot reach endpoint down"):
        RegistryClient.connect("http://127.0.0.1:9", name="down", timeout=2).ping()


# -- manifests ----------------------------------------------------------------------------


def test_manifest_round_trip_keeps_bytes_and_digest(registry: RunningRegistry) -> None:
    image = push_image(registry, "app", "1")
    with _client(registry, "src") as client:
        manifest = client.get_manifest("app", "1")
        assert manifest.raw == image.manifest_bytes
        assert manifest.digest == image.digest
        assert client.get_manifest("app", image.digest) == manifest
        head = client.head_manifest("app", "1")
        assert head is not None
        assert (head.digest, head.media_type, head.size) == (
            image.digest,
            image.media_type,
            len(image.manifest_bytes),
        )
        assert client.put_manifest("app", "copy", manifest) == image.digest
        assert get_manifest_bytes(registry, "app", "copy") == image.manifest_bytes

        assert client.head_manifest("app", "nope") is None
        with pytest.raises(NotFound, match=r"^app:nope not found on endpoint src"):
            client.get_manifest("app", "nope")

        client.delete_manifest("app", image.digest)
        assert client.head_manifest("app", "1") is None


def test_manifest_with_wrong_bytes_is_refused(registry: RunningRegistry) -> None:
    image = push_image(registry, "app", "1")
    stored = _blob_path(registry, image.digest)
    layer_hex = next(iter(image.blobs)).split(":")[1]
    flipped = layer_hex[:-1] + ("0" if layer_hex[-1] != "0" else "1")
    stored.write_bytes(stored.read_bytes().replace(layer_hex.encode(), flipped.encode()))
    with pytest.raises(DigestMismatch, match="app:1"):
        _client(registry).get_manifest("app", "1")


# -- blobs ---------------------------------------------------------------------------------


def test_blob_stream_push_and_mount(registry: RunningRegistry) -> None:
    image = push_image(registry, "app", "1", layer_sizes=(3 << 20,))
    layer_digest = Manifest.parse(image.manifest_bytes).layers[0].digest
    with _client(registry) as client:
        assert client.blob_size("app", layer_digest) == 3 << 20
        assert client.blob_size("other", layer_digest) is None
        with client.open_blob("app", layer_digest) as stream:
            assert stream.size == 3 << 20
            chunks = list(stream)
        assert max(len(c) for c in chunks) <= 1 << 20
        assert sha256_digest(b"".join(chunks)) == layer_digest

        # Stream from one repository straight into another: one POST, one PUT.
        with client.open_blob("app", layer_digest) as stream:
            client.push_blob("copy", layer_digest, stream.size, stream)
        assert blob_size(registry, "copy", layer_digest) == 3 << 20

        assert client.try_mount("mounted", layer_digest, "app") is None
        assert blob_size(registry, "mounted", layer_digest) == 3 << 20
        # Not in the source repository: the registry opens an upload instead, which
        # carries the push (or is cancelled).
        missing = "sha256:" + "0" * 64
        upload = client.try_mount("mounted", missing, "app")
        assert upload is not None and _open_uploads(registry, "mounted") != []
        client.cancel_upload(upload)
        assert _open_uploads(registry, "mounted") == []

        data = make_blob(1000, seed="x")
        with pytest.raises(DigestMismatch, match="rejected upload of blob"):
            client.push_blob("copy", missing, len(data), [data])
        assert blob_size(registry, "copy", missing) is None
    pushed = [e for e in registry.access_log() if e.path.startswith("/v2/copy/blobs/uploads")]
    assert [e.method for e in pushed][:2] == ["POST", "PUT"]


# -- retries and redirects, through a small front server ---------------------------------

Rule = Callable[[BaseHTTPRequestHandler], bool]


class _Front:
    """A loopback HTTP front for a real registry: ``rule`` may answer a request itself
    (return True); anything else is forwarded upstream unchanged."""

    def __init__(self, upstream: str, rule: Rule) -> None:
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                front.seen.append((self.command, self.path, self.headers.get("Authorization")))
                if not rule(self):
                    front.forward(self)

            do_HEAD = do_GET
            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self.upstream = upstream
        self.seen: list[tuple[str, str, str | None]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
        answer = requests.request(
            handler.command, self.upstream + handler.path, headers=headers, timeout=30
        )
        handler.send_response(answer.status_code)
        for name in ("Content-Type", "Docker-Content-Digest", "WWW-Authenticate", "Location"):
            if name in answer.headers:
                handler.send_header(name, answer.headers[name])
        handler.send_header("Content-Length", str(len(answer.content)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(answer.content)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _reply(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for name, value in {**headers, "Content-Length": "0"}.items():
        handler.send_header(name, value)
    handler.end_headers()


@pytest.fixture
def front_factory() -> Iterator[Callable[[str, Rule], _Front]]:
    fronts: list[_Front] = []

    def make(upstream: str, rule: Rule) -> _Front:
        fronts.append(_Front(upstream, rule))
        return fronts[-1]

    yield make
    for front in fronts:
        front.close()


def test_transient_errors_retried_only_when_replayable(
    registry: RunningRegistry, front_factory: Callable[[str, Rule], _Front]
) -> None:
    failures = {"GET": 2, "POST": 99}

    def flaky(handler: BaseHTTPRequestHandler) -> bool:
        if failures.get(handler.command, 0) > 0:
            failures[handler.command] -= 1
            _reply(handler, 503, {"Retry-After": "0"})
            return True
        return False

    front = front_factory(registry.url, flaky)
    client = RegistryClient.connect(front.url, name="flaky")
    client.ping()  # two 503s, then the real answer
    assert [m for m, _, _ in front.seen] == ["GET", "GET", "GET"]
    with pytest.raises(ServerError, match=r"endpoint flaky answered 503 .*: retried by Airflow"):
        client.push_blob("app", "sha256:" + "0" * 64, 1, [b"x"])
    assert [m for m, _, _ in front.seen].count("POST") == 1  # POST is never replayed


def test_redirected_blob_download_gets_no_credentials(
    htpasswd_registry: RunningRegistry, front_factory: Callable[[str, Rule], _Front]
) -> None:
    reg = htpasswd_registry
    image = push_image(reg, "app", "1")
    layer = Manifest.parse(image.manifest_bytes).layers[0].digest
    session = reg.session()

    def storage(handler: BaseHTTPRequestHandler) -> bool:
        body = session.get(f"{reg.url}/v2/app/blobs/{layer}", timeout=30).content
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        return True

    cdn = front_factory(reg.url, storage)

    def redirect_blobs(handler: BaseHTTPRequestHandler) -> bool:
        if handler.command == "GET" and "/blobs/" in handler.path:
            _reply(handler, 307, {"Location": f"{cdn.url}/storage/{layer}"})
            return True
        return False

    front = front_factory(reg.url, redirect_blobs)
    client = RegistryClient.connect(front.url, username=reg.username, password=reg.password)
    client.ping()  # forwarded: the registry's 401 teaches the client to send basic auth
    with client.open_blob("app", layer) as stream:
        assert sum(len(chunk) for chunk in stream) == image.blobs[layer]
    assert front.seen[-1][2] is not None and front.seen[-1][2].startswith("Basic ")
    assert [auth for _, _, auth in cdn.seen] == [None]
