"""The Amazon ECR provider against an emulated ECR in front of a real registry.

ECR cannot be reached from here: ``tests.support.vendors.aws_ecr`` emulates its API at the
HTTP level (AWS JSON 1.1, SigV4 checked for shape, key id, region and signature, the
documented response and error shapes and page limits) and its registry login (``AWS`` + the
token's password), in front of a real ``docker-registry`` that stores the blobs and
manifests.
"""

from __future__ import annotations

import re
import secrets
import time
from functools import partial
from pathlib import Path

import pytest

from regrep.hooks import registry_hook
from regrep.hooks.aws_ecr import AwsEcrHook
from regrep.registry.errors import Forbidden
from tests.integration.providers.checks import (
    assert_masked,
    closed_port_url,
    connection_results,
    copy_into,
    emulated,
)
from tests.integration.providers.conftest import Connect
from tests.support.images import manifest_digest, push_image
from tests.support.registries import RegistryPair, RunningRegistry
from tests.support.vendors.aws_ecr import EcrEmulator

WRITER = "AKIAWRITER0000000001"
READER = "AKIAREADER0000000002"  # may list and pull, not create or push
NO_TOKEN = "AKIANOTOKEN000000003"  # lacks ecr:GetAuthorizationToken
KEYS = {key: secrets.token_urlsafe(30) for key in (WRITER, READER, NO_TOKEN)}


_emulator = partial(
    EcrEmulator,
    keys=KEYS,
    permissions={
        READER: {"GetAuthorizationToken", "DescribeRepositories"},
        NO_TOKEN: {"DescribeRepositories"},
    },
    registry_access={READER: ("pull",)},
)
ecr = emulated(_emulator)


def _connect(
    connect: Connect, conn_id: str, ecr: EcrEmulator, key: str = WRITER, **extra: object
) -> None:
    password = extra.pop("password", KEYS.get(key, "not-a-secret-key"))
    extra = {"region": ecr.region, "api_url": ecr.url, **extra}
    connect(conn_id, "regrep_aws_ecr", ecr.url, login=key, password=str(password), **extra)


def test_connection_exchanges_the_access_keys_for_a_registry_token(
    ecr: EcrEmulator, connect: Connect
) -> None:
    _connect(connect, "ecr", ecr)

    assert AwsEcrHook("ecr").test_connection() == (True, f"Connected to {ecr.url} as {WRITER!r}")
    (call,) = ecr.server.calls("POST", "/")
    assert re.fullmatch(
        rf"AWS4-HMAC-SHA256 Credential={WRITER}/\d{{8}}/us-east-1/ecr/aws4_request, "
        r"SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}",
        call.headers["Authorization"],
    )
    (token,) = ecr.tokens.issued("ecr")
    assert ecr.server.calls("GET", "/v2/")[-1].status == 200
    assert_masked(KEYS[WRITER], token.value)


def test_connection_reports_bad_keys_without_revealing_them(
    ecr: EcrEmulator, connect: Connect
) -> None:
    _connect(connect, "unknown", ecr, "AKIAUNKNOWN000000009")
    _connect(connect, "wrong", ecr, WRITER, password="not-the-secret-access-key")

    unknown = AwsEcrHook("unknown").test_connection()
    wrong = AwsEcrHook("wrong").test_connection()

    assert unknown == (
        False,
        "bad credentials for endpoint unknown (ECR API said 403 UnrecognizedClientException: "
        "The security token included in the request is invalid.)",
    )
    assert not wrong[0]
    assert wrong[1].startswith(
        "bad credentials for endpoint wrong (ECR API said 403 InvalidSignatureException"
    )
    assert "not-the-secret-access-key" not in wrong[1]


def test_connection_reports_a_key_that_may_not_get_a_token(
    ecr: EcrEmulator, connect: Connect
) -> None:
    _connect(connect, "limited", ecr, NO_TOKEN)

    ok, message = AwsEcrHook("limited").test_connection()

    assert not ok
    assert message.startswith(
        "no permission to get a registry token (ecr:GetAuthorizationToken) on endpoint limited "
        f"(ECR API said 400 AccessDeniedException: User: arn:aws:iam::123456789012:user/{NO_TOKEN}"
    )


def test_connection_reports_unreachable_and_untrusted_endpoints(
    registry: RunningRegistry, tmp_path: Path, connect: Connect
) -> None:
    gone = closed_port_url()
    connect(
        "gone", "regrep_aws_ecr", gone, login=WRITER, password="x", region="us-east-1", api_url=gone
    )
    connection_results(
        AwsEcrHook, ("gone",), _emulator(registry, tls_dir=tmp_path), partial(_connect, connect)
    )


def test_the_region_comes_from_the_registry_url_or_must_be_given(connect: Connect) -> None:
    connect(
        "real",
        "regrep_aws_ecr",
        "https://123456789012.dkr.ecr.eu-west-3.amazonaws.com",
        login=WRITER,
        password="x",
    )
    connect("local", "regrep_aws_ecr", "http://127.0.0.1:5000", login=WRITER, password="x")

    client = registry_hook("real").get_client()

    assert (client.provider.settings["region"], client.host) == (
        "eu-west-3",
        "123456789012.dkr.ecr.eu-west-3.amazonaws.com",
    )
    assert AwsEcrHook("local").test_connection() == (
        False,
        "connection 'local': cannot tell the AWS region from the Registry URL "
        "'http://127.0.0.1:5000' (expected https://<account>.dkr.ecr.<region>.amazonaws.com); "
        "set the 'region' extra",
    )


def test_listing_pages_through_describe_repositories(ecr: EcrEmulator, connect: Connect) -> None:
    names = [f"team/app{i}" for i in range(7)]
    for name in names:
        ecr.create_repository(name)
    _connect(connect, "ecr", ecr)

    with registry_hook("ecr").get_client() as client:
        paged = list(client.list_repositories(page_size=3))
        calls_paged = ecr.api_calls("DescribeRepositories")
        whole = list(client.list_repositories(page_size=5000))  # clamped to ECR's 1000

    assert paged == whole == sorted(names)
    assert calls_paged == 3
    assert ecr.api_calls("DescribeRepositories") == 4


def test_a_copy_creates_the_missing_repository_once(
    ecr: EcrEmulator, registry_pair: RegistryPair, connect: Connect
) -> None:
    _connect(connect, "ecr", ecr)
    ecr.create_repository("team/existing")

    with registry_hook("ecr").get_client() as client:
        copy_into(client, ecr.upstream, registry_pair.source, "team/app", "1.0")
        copy_into(client, ecr.upstream, registry_pair.source, "team/app", "2.0")
        copy_into(client, ecr.upstream, registry_pair.source, "team/existing", "1.0")

    assert sorted(ecr.repositories) == ["team/app", "team/existing"]
    assert ecr.api_calls("CreateRepository") == 2  # once per repository, "exists" accepted


def test_a_key_without_rights_cannot_create_repositories(
    ecr: EcrEmulator, registry_pair: RegistryPair, connect: Connect
) -> None:
    _connect(connect, "reader", ecr, READER)

    with registry_hook("reader").get_client() as client, pytest.raises(Forbidden) as refused:
        copy_into(client, ecr.upstream, registry_pair.source, "team/app")

    assert str(refused.value).startswith(
        "no permission to create repository team/app (ecr:CreateRepository) on endpoint reader"
    )


def test_manifests_are_deleted_with_batch_delete_image(ecr: EcrEmulator, connect: Connect) -> None:
    image = push_image(ecr.upstream, "team/app", "1.0")
    ecr.create_repository("team/app")
    _connect(connect, "ecr", ecr)

    with registry_hook("ecr").get_client() as client:
        assert list(client.list_tags("team/app")) == ["1.0"]
        client.delete_manifest("team/app", image.digest)

    assert manifest_digest(ecr.upstream, "team/app", "1.0") is None
    assert ecr.api_calls("BatchDeleteImage") == 1


def test_the_registry_token_is_renewed_before_it_expires_and_when_refused(
    registry: RunningRegistry, connect: Connect
) -> None:
    with _emulator(registry, token_ttl=2) as ecr:
        push_image(registry, "team/app", "1.0")
        ecr.create_repository("team/app")
        _connect(connect, "ecr", ecr)
        with registry_hook("ecr").get_client() as client:
            assert list(client.list_tags("team/app")) == ["1.0"]
            time.sleep(2.1)  # the first token has expired at the registry
            assert list(client.list_tags("team/app")) == ["1.0"]
            renewed_in_time = ecr.api_calls("GetAuthorizationToken")
            ecr.tokens.ttl = 3600
            ecr.tokens.revoke()  # the registry no longer accepts the current one
            assert list(client.list_tags("team/app")) == ["1.0"]

    assert renewed_in_time == 2
    assert ecr.api_calls("GetAuthorizationToken") == 3
    refusals = [c for c in ecr.server.calls() if c.status == 401]
    # The anonymous first probe, and the one request made with the revoked token.
    assert len(refusals) == 2
