"""The vendor-emulator base against a real registry: routing, forwarding, gates, tokens, TLS."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from tests.support.images import push_image
from tests.support.launch import plain_session
from tests.support.registries import RunningRegistry
from tests.support.vendors.base import (
    BasicGate,
    BearerGate,
    Request,
    Response,
    TokenStore,
    VendorServer,
    token_endpoint,
)


@pytest.fixture
def server(registry: RunningRegistry) -> Iterator[VendorServer]:
    with VendorServer("test", upstream=registry.url) as running:
        yield running


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_routes_answer_and_the_rest_of_v2_reaches_the_registry(
    server: VendorServer, registry: RunningRegistry
) -> None:
    image = push_image(registry, "team/app", "1.0")
    server.route(
        "POST",
        r"/api/(?P<thing>\w+)",
        lambda r: Response.json({"got": r.params["thing"], "body": r.json()}),
    )

    with plain_session(True) as session:
        routed = session.post(f"{server.url}/api/x", json={"a": 1})
        manifest = session.get(
            f"{server.url}/v2/team/app/manifests/1.0", headers={"Accept": image.media_type}
        )

    assert routed.json() == {"got": "x", "body": {"a": 1}}
    assert manifest.headers["Docker-Content-Digest"] == image.digest
    assert [(c.method, c.path, c.status) for c in server.calls()] == [
        ("POST", "/api/x", 200),
        ("GET", "/v2/team/app/manifests/1.0", 200),
    ]
    assert server.calls("POST")[0].body == b'{"a": 1}'


def test_a_basic_gate_refuses_bad_credentials_and_forbidden_scopes(
    server: VendorServer, registry: RunningRegistry
) -> None:
    push_image(registry, "team/app", "1.0")
    server.gate = BasicGate(
        lambda user, password: user if password == "pw" else None,
        authorize=lambda subject, name: ("pull",) if subject == "reader" else ("*",),
    )
    tags = f"{server.url}/v2/team/app/tags/list"

    with plain_session(True) as session:
        assert session.get(tags).status_code == 401
        assert session.get(tags, headers=_basic("reader", "nope")).status_code == 401
        assert session.get(tags, headers=_basic("reader", "pw")).json()["tags"] == ["1.0"]
        upload = f"{server.url}/v2/team/app/blobs/uploads/"
        assert session.post(upload, headers=_basic("reader", "pw")).status_code == 403
        assert session.post(upload, headers=_basic("writer", "pw")).status_code == 202


def test_a_bearer_gate_with_its_token_endpoint_is_the_docker_token_flow(
    server: VendorServer, registry: RunningRegistry
) -> None:
    push_image(registry, "team/app", "1.0")
    tokens = TokenStore()
    server.route(
        "GET", r"/token", token_endpoint(tokens, lambda r: r.basic[0] if r.basic else None)
    )
    server.gate = BearerGate(tokens, realm=f"{server.url}/token", service="svc")
    tags = f"{server.url}/v2/team/app/tags/list"

    with plain_session(True) as session:
        challenge = session.get(tags).headers["WWW-Authenticate"]
        token = session.get(
            f"{server.url}/token",
            params={"service": "svc", "scope": "repository:team/app:pull"},
            headers=_basic("u", "p"),
        ).json()["token"]
        listed = session.get(tags, headers={"Authorization": f"Bearer {token}"})
        push = session.post(
            f"{server.url}/v2/team/app/blobs/uploads/", headers={"Authorization": f"Bearer {token}"}
        )

    assert challenge == (
        f'Bearer realm="{server.url}/token",service="svc",scope="repository:team/app:pull"'
    )
    assert listed.json()["tags"] == ["1.0"]
    assert 'error="insufficient_scope"' in push.headers["WWW-Authenticate"]
    assert [g.subject for g in tokens.issued()] == ["u"]


def test_tokens_lapse_exactly_at_expiry() -> None:
    tokens = TokenStore(ttl=0.2)
    grant = tokens.issue("u", ["repository:a:pull"])

    assert tokens.lookup(grant.value) == grant
    assert tokens.lookup(grant.value, kind="refresh") is None
    time.sleep(0.25)
    assert tokens.lookup(grant.value) is None


def test_tls_serves_with_a_generated_ca(tmp_path: Path, registry: RunningRegistry) -> None:
    with VendorServer("tls", upstream=registry.url, tls_dir=tmp_path) as server:
        assert server.ca_cert is not None
        with plain_session(str(server.ca_cert)) as session:
            assert session.get(f"{server.url}/v2/").status_code == 200
        with plain_session(True) as session, pytest.raises(requests.exceptions.SSLError):
            session.get(f"{server.url}/v2/")


def test_request_helpers_read_credentials_and_forms() -> None:
    request = Request("POST", "/", {"a": ["1"]}, CaseInsensitiveDict(_basic("u", "p:q")), b"x=1&y=")

    assert (request.basic, request.bearer, request.arg("a"), request.form()) == (
        ("u", "p:q"),
        None,
        "1",
        {"x": "1", "y": ""},
    )
