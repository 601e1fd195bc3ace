"""The test support itself works against real registries: every later test relies on it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import jwt
import pytest
import requests

from tests.support.images import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    GeneratedBlob,
    blob_size,
    delete_manifest,
    get_manifest_bytes,
    list_tags,
    make_blob,
    manifest_digest,
    push_blob,
    push_image,
    push_index,
)
from tests.support.launch import RegistryStartError, plain_session
from tests.support.registries import RegistryPair, RunningRegistry, TokenRegistry, start_registry


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def test_plain_registry_stores_an_image_and_an_index(registry: RunningRegistry) -> None:
    image = push_image(registry, "library/hello", "1.0", layer_sizes=(100, 2000))
    index = push_index(registry, "library/multi", "latest")

    assert manifest_digest(registry, "library/hello", "1.0") == image.digest
    assert _sha256(get_manifest_bytes(registry, "library/hello", "1.0") or b"") == image.digest
    assert manifest_digest(registry, "library/multi", "latest") == index.digest
    assert index.media_type == OCI_INDEX
    for child in index.children:
        assert manifest_digest(registry, "library/multi", child.digest) == child.digest
    assert len(index.blobs) == 6  # two platforms, each a config and two layers
    for digest, size in {**image.blobs, **index.blobs}.items():
        repository = "library/hello" if digest in image.blobs else "library/multi"
        assert blob_size(registry, repository, digest) == size
    assert list_tags(registry, "library/hello") == ["1.0"]
    assert list_tags(registry, "library/absent") == []


def test_docker_media_types_and_shared_base_layers(registry: RunningRegistry) -> None:
    base = make_blob(5000, seed="base")
    first = push_image(registry, "app", "1", base_layers=(base,), media_type=DOCKER_MANIFEST)
    second = push_image(registry, "app", "2", base_layers=first.layers[:1], seed=2)
    index = push_index(registry, "app", "multi", media_type=DOCKER_MANIFEST)

    assert first.layers[0] == second.layers[0] == base
    assert set(first.blobs) & set(second.blobs) == {_sha256(base)}
    assert get_manifest_bytes(registry, "app", "1") == first.manifest_bytes
    assert manifest_digest(registry, "app", "multi") == index.digest
    assert index.media_type == DOCKER_MANIFEST_LIST


def test_generated_blobs_are_deterministic_and_streamed(registry: RunningRegistry) -> None:
    big = GeneratedBlob(3 * 1024 * 1024 + 5, seed="big")

    assert big.digest == _sha256(make_blob(big.size, seed="big"))
    assert make_blob(10, seed=1) == make_blob(10, seed=1) != make_blob(10, seed=2)
    assert push_blob(registry, "blobs", big) == big.digest
    assert blob_size(registry, "blobs", big.digest) == big.size


def test_delete_removes_the_manifest(registry: RunningRegistry) -> None:
    image = push_image(registry, "gone", "1.0")

    delete_manifest(registry, "gone", image.digest)

    assert manifest_digest(registry, "gone", "1.0") is None
    assert get_manifest_bytes(registry, "gone", image.digest) is None


def test_access_log_counts_every_request(registry: RunningRegistry) -> None:
    before = len(registry.access_log())
    push_image(registry, "counted", "1.0", layer_sizes=(10, 20))

    log = registry.access_log()[before:]

    # Per blob (config and two layers): existence check, upload start, monolithic PUT.
    blob_calls = [("HEAD", 404), ("POST", 202), ("PUT", 201)]
    assert [(e.method, e.status) for e in log] == blob_calls * 3 + [("PUT", 201)]
    assert "/manifests/1.0" in log[-1].path


def test_registry_pair_is_two_independent_registries(registry_pair: RegistryPair) -> None:
    source, destination = registry_pair
    image = push_image(source, "library/app", "1.0")

    assert source.url != destination.url
    assert manifest_digest(source, "library/app", "1.0") == image.digest
    assert manifest_digest(destination, "library/app", "1.0") is None
    # Content is a function of the seed (default "repository:tag"), not of the registry.
    assert push_image(destination, "library/app", "1.0").digest == image.digest
    assert push_image(destination, "library/app", "1.1").digest != image.digest


def test_htpasswd_registry_checks_the_password(htpasswd_registry: RunningRegistry) -> None:
    reg = htpasswd_registry
    image = push_image(reg, "private", "1.0")
    url = f"{reg.url}/v2/private/manifests/{image.digest}"

    with plain_session(True) as session:
        # distribution 2.8 answers 404 for an OCI manifest to a client not accepting OCI.
        session.headers["Accept"] = OCI_MANIFEST
        assert session.get(url, auth=(reg.username or "", "wrong")).status_code == 401
        assert session.get(url).status_code == 401
        assert session.get(url, auth=(reg.username or "", reg.password or "")).status_code == 200


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_registry_needs_its_ca(tls_registry: RunningRegistry) -> None:
    reg = tls_registry
    assert reg.url.startswith("https://") and reg.ca_cert is not None
    image = push_image(reg, "secure", "1.0")

    assert manifest_digest(reg, "secure", "1.0") == image.digest
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{reg.url}/v2/", timeout=10)
    assert requests.get(f"{reg.url}/v2/", verify=False, timeout=10).status_code == 401


def test_token_registry_enforces_scopes(token_registry: TokenRegistry) -> None:
    reg, issuer = token_registry.registry, token_registry.issuer
    image = push_image(reg, "team/app", "1.0")
    issued = issuer.tokens_issued
    assert issued >= 1

    with plain_session(True) as session:
        anonymous = session.get(f"{reg.url}/v2/team/app/manifests/1.0")
        assert anonymous.status_code == 401
        assert f'realm="{issuer.realm}"' in anonymous.headers["WWW-Authenticate"]
        reader = ("reader", issuer.users["reader"])
        scope = "repository:team/app:pull,push"
        answer = session.get(
            issuer.realm, params={"service": issuer.service, "scope": scope}, auth=reader
        )
        token = answer.json()["token"]
        bearer = {"Authorization": f"Bearer {token}", "Accept": OCI_MANIFEST}
        pulled = session.get(f"{reg.url}/v2/team/app/manifests/1.0", headers=bearer)
        pushed = session.post(f"{reg.url}/v2/team/app/blobs/uploads/", headers=bearer)
        refused = session.get(issuer.realm, params={"scope": scope}, auth=("reader", "wrong"))

    assert pulled.status_code == 200 and _sha256(pulled.content) == image.digest
    assert pushed.status_code == 401
    assert refused.status_code == 401
    assert issuer.tokens_issued == issued + 1
    assert issuer.requests[-1].user == "reader"
    assert issuer.requests[-1].access == (
        {"type": "repository", "name": "team/app", "actions": ["pull"]},
    )
    assert "repository:team/app:pull,push" in issuer.requested_scopes


def test_token_lifetime_is_configurable(token_registry: TokenRegistry) -> None:
    issuer = token_registry.issuer
    issuer.expires_in = 2

    answer = issuer.issue("writer", ["repository:x:pull"])
    claims = jwt.decode(answer["token"], options={"verify_signature": False})

    assert answer["expires_in"] == 2
    assert claims["exp"] - claims["iat"] == 2
    assert claims["aud"] == issuer.service and claims["sub"] == "writer"


def test_a_registry_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    broken = {"http": {"tls": {"certificate": "/nonexistent.pem", "key": "/nonexistent.pem"}}}

    with pytest.raises(RegistryStartError, match=r"nonexistent\.pem"):
        start_registry(tmp_path, extra_config=broken)


def test_token_registry_can_allow_anonymous_pulls(token_registry: TokenRegistry) -> None:
    reg, issuer = token_registry.registry, token_registry.issuer
    image = push_image(reg, "public/app", "1.0")
    scope = "repository:public/app:pull"

    with plain_session(True) as session:
        denied = session.get(issuer.realm, params={"service": issuer.service, "scope": scope})
        issuer.anonymous = frozenset({"pull"})
        allowed = session.get(issuer.realm, params={"service": issuer.service, "scope": scope})
        headers = {"Authorization": f"Bearer {allowed.json()['token']}", "Accept": OCI_MANIFEST}
        pulled = session.get(f"{reg.url}/v2/public/app/manifests/1.0", headers=headers)

    assert issuer.requests[-2].user is None and issuer.requests[-2].access == ()
    assert pulled.status_code == 200 and _sha256(pulled.content) == image.digest
    assert denied.status_code == 200  # a token, but one granting nothing
