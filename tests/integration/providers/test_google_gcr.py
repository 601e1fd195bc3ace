"""The Google GCR / Artifact Registry provider against an emulated GCR before a real registry.

Google's registries cannot be reached from here: ``tests.support.vendors.google_gcr``
emulates, at the HTTP level, the ``_json_key`` login at the token realm, project-scoped
grants, a full, capped or empty catalog and GCR's hierarchical ``tags/list`` (``child``), in
front of a real ``docker-registry`` that stores the blobs and manifests.
"""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path
from typing import Literal

import pytest

from regrep.hooks import registry_hook
from regrep.hooks.google_gcr import GoogleGcrHook
from regrep.registry.errors import RegistryError
from tests.integration.providers.checks import (
    assert_masked,
    closed_port_url,
    connection_results,
    copy_into,
    emulated,
)
from tests.integration.providers.conftest import Connect
from tests.support.images import push_image
from tests.support.registries import RegistryPair, RunningRegistry
from tests.support.vendors.google_gcr import GcrEmulator, service_account_key

PROJECT = "my-project"
WRITER = service_account_key(PROJECT, "replicator")
OUTSIDER = service_account_key(PROJECT, "outsider")  # no role on the project
UNKNOWN = service_account_key(PROJECT, "deleted")  # a key Google no longer knows
REPOSITORIES = [f"{PROJECT}/app", f"{PROJECT}/team/api", f"{PROJECT}/team/web"]


_emulator = partial(
    GcrEmulator, keys=[WRITER, OUTSIDER], project=PROJECT, roles={OUTSIDER["client_email"]: ()}
)
gcr = emulated(_emulator)


def _connect(
    connect: Connect, conn_id: str, gcr: GcrEmulator, key: dict[str, str] = WRITER, **extra: object
) -> None:
    secret = json.dumps(key, indent=2)  # as downloaded: pretty-printed, multi-line
    connect(conn_id, "regrep_google_gcr", gcr.url, login="_json_key", password=secret, **extra)


def test_the_whole_json_key_is_the_secret(gcr: GcrEmulator, connect: Connect) -> None:
    _connect(connect, "gcr", gcr)
    pasted = {"keyfile_dict": json.dumps(WRITER, indent=2)}  # the textarea, no login
    connect("pasted", "regrep_google_gcr", gcr.url, **pasted)

    assert GoogleGcrHook("gcr").test_connection() == (
        True,
        f"Connected to {gcr.url} as '_json_key'",
    )
    assert GoogleGcrHook("pasted").test_connection()[0]
    connect("object", "regrep_google_gcr", gcr.url, keyfile_dict=WRITER)  # JSON env form
    assert GoogleGcrHook("object").test_connection()[0]
    scopes = [
        s for call in gcr.server.calls("GET", "/v2/token") for s in call.query.get("scope", [])
    ]
    assert f"repository:{PROJECT}:pull" in scopes  # the test also reads the project
    assert_masked(WRITER["private_key"], json.dumps(WRITER, indent=2))


def test_connection_failures_say_which(
    gcr: GcrEmulator, registry: RunningRegistry, tmp_path: Path, connect: Connect
) -> None:
    _connect(connect, "unknown", gcr, UNKNOWN)
    _connect(connect, "outsider", gcr, OUTSIDER)
    connect("garbled", "regrep_google_gcr", gcr.url, login="_json_key", password="{not json")
    connect("gone", "regrep_google_gcr", closed_port_url(), password=json.dumps(WRITER))
    results = connection_results(
        GoogleGcrHook,
        ("unknown", "outsider", "garbled", "gone"),
        _emulator(registry, tls_dir=tmp_path),
        partial(_connect, connect),
        secret="PRIVATE KEY",
    )

    assert results["unknown"][1].startswith("bad credentials for endpoint unknown")
    assert results["outsider"][1].startswith(
        f"no permission to pull {PROJECT} on endpoint outsider"
    )
    assert results["garbled"] == (
        False,
        "connection 'garbled': the secret is not a service-account JSON key file; paste the "
        "whole file downloaded from the Cloud console",
    )


@pytest.mark.parametrize("catalog", ["full", "empty"])
def test_listing_stays_in_the_project_with_a_capped_or_empty_catalog(
    registry: RunningRegistry, connect: Connect, catalog: Literal["full", "empty"]
) -> None:
    for name in [*REPOSITORIES, "other-project/app"]:
        push_image(registry, name, "1.0", layer_sizes=(64,))
    with _emulator(registry, catalog=catalog, catalog_page_limit=2) as gcr:
        _connect(connect, "gcr", gcr)
        with registry_hook("gcr").get_client() as client:
            listed = list(client.list_repositories())

    assert listed == REPOSITORIES
    pages = len([c for c in gcr.server.calls("GET", "/v2/_catalog") if c.status == 200])
    assert pages == (2 if catalog == "full" else 1)  # 4 names, 2 a page; or none at all


def test_a_copy_lands_under_the_project_and_elsewhere_is_refused(
    gcr: GcrEmulator, registry_pair: RegistryPair, connect: Connect
) -> None:
    _connect(connect, "gcr", gcr)

    with registry_hook("gcr").get_client() as client:
        copy_into(client, gcr.upstream, registry_pair.source, f"{PROJECT}/team/app")
        with pytest.raises(RegistryError) as refused:
            client.ensure_namespace("team/app")

    assert str(refused.value) == (
        "endpoint gcr cannot hold 'team/app': its repositories are my-project/<image>; set "
        "the rule's destination namespace to start with 'my-project'"
    )


def test_access_tokens_are_renewed_before_they_lapse(
    registry: RunningRegistry, connect: Connect
) -> None:
    push_image(registry, f"{PROJECT}/app", "1.0", layer_sizes=(64,))
    with _emulator(registry, token_ttl=1) as gcr:
        _connect(connect, "gcr", gcr)
        with registry_hook("gcr").get_client() as client:
            assert list(client.list_tags(f"{PROJECT}/app")) == ["1.0"]
            before = len(gcr.server.requests)
            time.sleep(1.1)
            assert list(client.list_tags(f"{PROJECT}/app")) == ["1.0"]

    later = gcr.server.requests[before:]
    assert [c.path for c in later] == ["/v2/token", f"/v2/{PROJECT}/app/tags/list"]
    assert all(c.status == 200 for c in later)
