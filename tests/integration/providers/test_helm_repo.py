"""The Helm chart repository provider against a real static chart repository.

Nothing is emulated: real chart archives and a real ``index.yaml`` (Helm's format) are
served by Python's ``http.server`` (``tests.support.helm_repo``), and the charts are
pushed into a real ``docker-registry`` as the OCI artifacts ``helm push`` makes.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from regrep.engine.resource_copy import copy_resource
from regrep.hooks import ConnectionConfigError, registry_hook
from regrep.hooks.helm_repo import HelmRepoHook
from regrep.planning.planner import plan_replication
from regrep.registry.client import RegistryClient
from regrep.registry.errors import DigestMismatch
from regrep.rules import Filters, Rule
from regrep.tasks.rule_clients import rule_clients
from tests.integration.providers.checks import assert_masked, replicate
from tests.integration.providers.conftest import Connect
from tests.support.helm_repo import ChartRepository, PackagedChart, package_chart, write_index
from tests.support.images import get_manifest_bytes, list_tags
from tests.support.launch import plain_session
from tests.support.registries import RunningRegistry

PASSWORD = secrets.token_urlsafe(12)
WEB_CHART = """\
apiVersion: v2
name: web
description: "A web app\\nwith <html> & more"
version: 1.2.0+build.5
appVersion: 1.10
keywords: [web, demo]
home: https://example.com/web
sources:
  - https://github.com/example/web
maintainers:
  - name: Ann
    email: ann@example.com
  - name: Bob
annotations:
  category: Web
  org.opencontainers.image.title: ignored-title
type: application
dependencies:
  - name: redis
    version: 17.x.x
    repository: https://charts.example.com
    condition: redis.enabled
"""
# What Go's json.Marshal(chart.Metadata) writes for WEB_CHART, worked out by hand from
# Helm's struct (field order, omitempty), sanitizeString (the newline), sigs.k8s.io/yaml
# (appVersion 1.10 is the float 1.1) and Go's HTML escaping.
WEB_CONFIG = (
    '{"name":"web","home":"https://example.com/web",'
    '"sources":["https://github.com/example/web"],"version":"1.2.0+build.5",'
    '"description":"A web app with \\u003chtml\\u003e \\u0026 more","keywords":["web","demo"],'
    '"maintainers":[{"name":"Ann","email":"ann@example.com"},{"name":"Bob"}],'
    '"apiVersion":"v2","appVersion":"1.1",'
    '"annotations":{"category":"Web","org.opencontainers.image.title":"ignored-title"},'
    '"dependencies":[{"name":"redis","version":"17.x.x","repository":"https://charts.example.com",'
    '"condition":"redis.enabled"}],"type":"application"}'
)
WEB_ANNOTATIONS = (
    '"annotations":{"category":"Web",'
    '"org.opencontainers.image.authors":"Ann (ann@example.com), Bob",'
    '"org.opencontainers.image.created":"2024-05-01T10:00:00Z",'
    '"org.opencontainers.image.description":"A web app with \\u003chtml\\u003e \\u0026 more",'
    '"org.opencontainers.image.source":"https://github.com/example/web",'
    '"org.opencontainers.image.title":"web",'
    '"org.opencontainers.image.url":"https://example.com/web",'
    '"org.opencontainers.image.version":"1.2.0+build.5"}'
)


@pytest.fixture
def charts(tmp_path: Path) -> list[PackagedChart]:
    """Two versions of ``web`` and one of ``db``, indexed."""
    packaged = [
        package_chart(tmp_path, WEB_CHART),
        package_chart(tmp_path, "apiVersion: v2\nname: web\nversion: 1.1.0\n"),
        package_chart(tmp_path, "apiVersion: v1\nname: db\nversion: 0.3.0\n"),
    ]
    write_index(tmp_path, packaged)
    return packaged


@pytest.fixture
def repository(tmp_path: Path, charts: list[PackagedChart]) -> Iterator[ChartRepository]:
    with ChartRepository(tmp_path, users={"reader": PASSWORD}) as served:
        yield served


def _connect(connect: Connect, repository: ChartRepository, password: str = PASSWORD) -> None:
    connect("charts", "regrep_helm_repo", repository.url, login="reader", password=password)


def test_connection_reads_the_index_with_basic_auth(
    repository: ChartRepository, connect: Connect
) -> None:
    _connect(connect, repository)
    assert HelmRepoHook("charts").test_connection() == (
        True,
        f"Connected to {repository.url} as 'reader'",
    )

    _connect(connect, repository, password="wrong")
    ok, message = HelmRepoHook("charts").test_connection()

    assert not ok
    assert message.startswith("bad credentials for endpoint charts")
    assert_masked(PASSWORD)


def test_charts_are_pushed_as_helm_push_would(
    repository: ChartRepository,
    charts: list[PackagedChart],
    registry: RunningRegistry,
    connect: Connect,
) -> None:
    _connect(connect, repository)
    rule = Rule(
        name="charts",
        source="charts",
        destination="local",
        destination_namespace="helm",
        destination_namespace_replace_count=0,  # helm/<chart>, as helm push oci://.../helm
        filters=Filters(resource="chart"),
    )

    plan = replicate(rule, registry)

    assert [r.label for r in plan.resources] == ["db:0.3.0", "web:1.1.0", "web:1.2.0_build.5"]
    assert list_tags(registry, "helm/web") == ["1.1.0", "1.2.0_build.5"]
    raw = get_manifest_bytes(registry, "helm/web", "1.2.0_build.5")
    assert raw is not None
    web = charts[0]
    config = WEB_CONFIG.encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    assert raw.decode() == (
        '{"schemaVersion":2,'
        f'"config":{{"mediaType":"application/vnd.cncf.helm.config.v1+json",'
        f'"digest":"{config_digest}","size":{len(config)}}},'
        f'"layers":[{{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip",'
        f'"digest":"sha256:{web.sha256}","size":{len(web.data)}}}],'
        f"{WEB_ANNOTATIONS}}}"
    )
    with plain_session(True) as session:
        layer = session.get(f"{registry.url}/v2/helm/web/blobs/sha256:{web.sha256}", timeout=30)
        stored_config = session.get(f"{registry.url}/v2/helm/web/blobs/{config_digest}", timeout=30)
    assert layer.content == web.data  # the archive, unchanged
    assert stored_config.content == config
    assert (
        json.loads(raw)["annotations"]["org.opencontainers.image.created"] == "2024-05-01T10:00:00Z"
    )


def test_a_chart_keeps_its_digest_whichever_way_it_goes(
    repository: ChartRepository, registry: RunningRegistry, connect: Connect
) -> None:
    _connect(connect, repository)
    rule = Rule(name="charts", source="charts", destination="local", filters=Filters(name="web"))

    with RegistryClient.connect(registry.url) as local:
        with registry_hook("charts").get_client() as first:
            for resource in plan_replication(rule, first, local).resources:
                copy_resource(
                    first,
                    local,
                    resource.source_repository,
                    resource.tag,
                    resource.destination_repository,
                )
        with registry_hook("charts").get_client() as second:
            again = plan_replication(rule, second, local)

    assert again.resources == []
    assert [r.label for r in again.unchanged] == ["web:1.1.0", "web:1.2.0_build.5"]


def test_an_archive_that_does_not_match_its_index_digest_is_refused(
    tmp_path: Path, registry: RunningRegistry, connect: Connect
) -> None:
    chart = package_chart(tmp_path, "apiVersion: v2\nname: app\nversion: 1.0.0\n")
    write_index(tmp_path, [chart], digests={"app-1.0.0": "0" * 64})

    with ChartRepository(tmp_path) as served:
        connect("charts", "regrep_helm_repo", served.url)
        with registry_hook("charts").get_client() as source, pytest.raises(DigestMismatch) as bad:
            source.head_manifest("app", "1.0.0")

    assert bad.value.message == (
        f"endpoint charts serves chart app-1.0.0 as content hashing to sha256:{chart.sha256}, "
        f"but its index says sha256:{'0' * 64}"
    )


def test_a_chart_repository_is_never_a_destination(
    repository: ChartRepository, registry: RunningRegistry, connect: Connect
) -> None:
    _connect(connect, repository)
    connect("local", "regrep_docker_registry", registry.url)
    rule = Rule(name="back", source="local", destination="charts", mode="push")

    with pytest.raises(ConnectionConfigError) as refused, rule_clients(rule):
        pass

    assert str(refused.value) == (
        "rule 'back': connection 'charts' cannot be the remote registry this push-mode rule "
        "pushes to: it is a Helm chart repository, which regrep only reads: make it a rule's "
        "source and replicate its charts into an OCI registry"
    )
