"""Charts, OCI artifacts and legacy content between real ``docker-registry`` processes.

The Helm chart is a real chart package built here (Chart.yaml, values, a template, tar.gz)
and pushed in Helm's OCI layout. ``helm`` itself is not installed and Debian does not
package it (``apt-cache policy helm``: no candidate), so instead of ``helm pull`` the chart
is pulled back by digest with regrep's client and compared byte for byte.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import subprocess
import tarfile
from pathlib import Path

import pytest

from regrep.engine.resource_copy import copy_resource
from regrep.oci.manifests import HELM_CHART, HELM_CONFIG
from regrep.planning.planner import plan_replication
from regrep.registry.client import RegistryClient
from regrep.registry.errors import ManifestInvalid
from regrep.rules import Rule
from tests.support.artifacts import attach, push_artifact, push_chart
from tests.support.blobs import blob_digest
from tests.support.images import (
    DOCKER_MANIFEST,
    OCI_MANIFEST,
    get_manifest_bytes,
    list_tags,
    make_blob,
    manifest_digest,
    push_blob,
    push_image,
    push_manifest,
)
from tests.support.referrers_proxy import referrers_proxy
from tests.support.registries import RegistryPair, RunningRegistry, start_registry

SCHEMA1 = {"compatibility": {"schema1": {"enabled": True}}}


def _clients(src: RunningRegistry, dst: RunningRegistry) -> tuple[RegistryClient, RegistryClient]:
    return RegistryClient.connect(src.url, name="src"), RegistryClient.connect(dst.url, name="dst")


def _rule(**fields: object) -> Rule:
    return Rule.model_validate({"name": "r", "source": "src", "destination": "dst", **fields})


def _read_blob(client: RegistryClient, repository: str, digest: str) -> bytes:
    with client.open_blob(repository, digest) as stream:
        return b"".join(stream)


def test_helm_chart_copies_and_pulls_back_by_digest(registry_pair: RegistryPair) -> None:
    src, dst = registry_pair
    chart, package = push_chart(src, "charts/web", "web", "0.3.1")
    push_image(src, "charts/web", "not-a-chart", layer_sizes=(64,))
    source, destination = _clients(src, dst)

    plan = plan_replication(_rule(filters={"resource": "chart"}), source, destination)
    assert [r.tag for r in plan.resources] == ["0.3.1"]
    result = copy_resource(source, destination, "charts/web", "0.3.1", "charts/web")

    assert manifest_digest(dst, "charts/web", "0.3.1") == chart.digest == result.digest
    pulled = destination.get_manifest("charts/web", chart.digest)  # helm pull ...@sha256:
    assert pulled.raw == chart.manifest_bytes
    assert pulled.config is not None and pulled.config.media_type == HELM_CONFIG
    config = json.loads(_read_blob(destination, "charts/web", pulled.config.digest))
    assert (config["name"], config["version"]) == ("web", "0.3.1")
    [layer] = pulled.layers
    assert layer.media_type == HELM_CHART
    assert _read_blob(destination, "charts/web", layer.digest) == package
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(package))) as tar:
        chart_yaml = tar.extractfile("web/Chart.yaml")
        assert chart_yaml is not None and b"version: 0.3.1" in chart_yaml.read()
    assert list_tags(dst, "charts/web") == ["0.3.1"]


def test_artifact_with_a_custom_artifact_type(registry_pair: RegistryPair) -> None:
    src, dst = registry_pair
    model = push_artifact(
        src,
        "ml/model",
        "v2",
        layers=[("application/vnd.example.model.weights", make_blob(3000, "weights"))],
        artifact_type="application/vnd.example.model.v1",
        annotations={"org.opencontainers.image.title": "model"},
    )
    push_image(src, "ml/model", "runtime", layer_sizes=(64,))
    source, destination = _clients(src, dst)

    plan = plan_replication(_rule(filters={"resource": "artifact"}), source, destination)
    assert [r.tag for r in plan.resources] == ["v2"]
    result = copy_resource(source, destination, "ml/model", "v2", "ml/model")

    assert manifest_digest(dst, "ml/model", "v2") == model.digest == result.digest
    assert get_manifest_bytes(dst, "ml/model", "v2") == model.manifest_bytes
    assert result.blobs_copied == 2  # the empty config and the weights


def _schema1_image(tmp_path: Path, into: RunningRegistry) -> str:
    """Have skopeo convert a schema 2 image to a signed schema1 manifest in ``into``."""
    with start_registry(tmp_path, name="schema2") as staging:
        push_image(staging, "old", "1", layer_sizes=(256,), media_type=DOCKER_MANIFEST)
        subprocess.run(
            [
                "skopeo",
                "copy",
                "--quiet",
                "--format=v2s1",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                f"docker://{staging.host}/old:1",
                f"docker://{into.host}/old:1",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    digest = manifest_digest(into, "old", "1")
    assert digest is not None
    return digest


def _unsigned(reg: RunningRegistry) -> dict[str, object]:
    body = json.loads(get_manifest_bytes(reg, "old", "1") or b"{}")
    body.pop("signatures")
    return dict(body)


def test_schema1_copies_where_accepted_and_is_skipped_where_not(
    tmp_path: Path, registry_tools: None, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        start_registry(tmp_path, name="src", extra_config=SCHEMA1) as src,
        start_registry(tmp_path, name="old", extra_config=SCHEMA1) as old,
        start_registry(tmp_path, name="new") as new,
    ):
        digest = _schema1_image(tmp_path, src)
        source = RegistryClient.connect(src.url, name="src")

        copied = copy_resource(
            source, RegistryClient.connect(old.url, name="old"), "old", "1", "old"
        )
        assert (copied.status, manifest_digest(old, "old", "1")) == ("copied", digest)
        # distribution re-signs schema1 manifests on every GET: the digest covers the
        # payload (everything but the signatures), which is what must match.
        assert _unsigned(old) == _unsigned(src)

        skipped = copy_resource(
            source, RegistryClient.connect(new.url, name="new"), "old", "1", "old"
        )
        assert skipped.status == "skipped"
        assert "schema1 manifest" in skipped.message
        assert "compatibility.schema1.enabled" in skipped.message
        assert skipped.message in [r.getMessage() for r in caplog.records]
        assert list_tags(new, "old") == []


def test_foreign_layers_refused_by_the_destination_are_skipped(
    tmp_path: Path, registry_tools: None
) -> None:
    allow = {"validation": {"manifests": {"urls": {"allow": ["^https://"]}}}}
    with (
        start_registry(tmp_path, name="src", extra_config=allow) as src,
        start_registry(tmp_path, name="dst") as dst,
    ):
        config = b'{"architecture":"amd64","os":"windows"}'
        push_blob(src, "win", config)
        raw = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": DOCKER_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "digest": blob_digest(config),
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                        "digest": "sha256:" + "f" * 64,
                        "size": 1234,
                        "urls": ["https://mcr.example/base.tar.gz"],
                    }
                ],
            }
        ).encode()
        push_manifest(src, "win", "ltsc", raw, DOCKER_MANIFEST)

        result = copy_resource(*_clients(src, dst), "win", "ltsc", "win")

        assert result.status == "skipped"
        assert "foreign (non-distributable) layers served from https://mcr.example" in (
            result.message
        )
        assert "validation.manifests.urls.allow" in result.message
        assert list_tags(dst, "win") == []


def test_a_manifest_too_large_for_the_destination_fails_clearly(
    registry_pair: RegistryPair,
) -> None:
    """The destination is a registry with a 1 MiB manifest limit (the emulating proxy in
    front of a real ``docker-registry``), answering the spec's 413."""
    src, dst = registry_pair
    image = push_image(src, "big", "seed", layer_sizes=(64,))
    manifest = json.loads(image.manifest_bytes)
    manifest["annotations"] = {"padding": "x" * (3 << 19)}
    raw = json.dumps(manifest).encode()
    push_manifest(src, "big", "huge", raw, OCI_MANIFEST)

    with (
        referrers_proxy(dst, max_manifest_bytes=1 << 20) as strict,
        pytest.raises(ManifestInvalid) as caught,
    ):
        copy_resource(
            RegistryClient.connect(src.url, name="src"),
            RegistryClient.connect(strict.url, name="strict"),
            "big",
            "huge",
            "big",
        )

    message = str(caught.value)
    assert "endpoint strict refused big:huge" in message
    assert f"the manifest is {len(raw)} bytes (1.5 MiB), more than it accepts" in message
    assert caught.value.status == 413
    assert manifest_digest(dst, "big", "huge") is None


def test_label_filters_need_a_harbor_source(registry_pair: RegistryPair) -> None:
    push_image(registry_pair.source, "app", "1", layer_sizes=(64,))
    rule = _rule(filters={"labels": {"include": ["prod"]}})

    with pytest.raises(ValueError, match=r"label filters need a Harbor source \(endpoint src is"):
        plan_replication(rule, *_clients(*registry_pair))


def test_untagged_referrers_and_logs_name_each_referrer(
    registry_pair: RegistryPair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="regrep")
    src, dst = registry_pair
    chart, _ = push_chart(src, "charts/api", "api", "1.0.0")
    provenance = attach(src, chart, "application/vnd.cncf.helm.provenance", b"-----BEGIN PGP")

    result = copy_resource(*_clients(src, dst), "charts/api", "1.0.0", "charts/api")

    assert result.referrers == 1
    assert manifest_digest(dst, "charts/api", provenance.digest) == provenance.digest
    assert any(
        f"copied referrer {provenance.digest} (application/vnd.cncf.helm.provenance)"
        in r.getMessage()
        for r in caplog.records
    )
