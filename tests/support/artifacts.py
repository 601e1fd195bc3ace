"""Build and push non-image content: OCI artifacts, Helm charts, signatures and SBOMs.

Like ``images``, this pushes with plain ``requests`` (through ``images``' helpers), never
with regrep's client, so the tests' oracle stays independent of the code under test. The
layouts follow the tools that produce such content in the wild:

- Helm 3 OCI charts: config ``application/vnd.cncf.helm.config.v1+json`` holding Chart.yaml
  as JSON, one layer ``application/vnd.cncf.helm.chart.content.v1.tar+gzip`` (the packaged
  ``.tgz``), annotations as ``helm push`` writes them.
- OCI 1.1 referrers (Notation, ORAS, cosign's OCI mode): an artifact manifest with
  ``artifactType``, an empty config and a ``subject``; on a registry without the referrers
  API the pusher also maintains the referrers tag ``sha256-<hex>`` (an OCI index).
- cosign's tag convention: ``sha256-<hex>.sig`` / ``.att`` / ``.sbom`` tags naming plain
  manifests whose layers hold the signature, the attestation or the SBOM.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from typing import Any

from tests.support.blobs import blob_digest
from tests.support.images import (
    OCI_INDEX,
    OCI_MANIFEST,
    PushedImage,
    get_manifest_bytes,
    push_blob,
    push_manifest,
)
from tests.support.registries import RunningRegistry

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG = b"{}"
COSIGN_LAYERS = {
    ".sig": "application/vnd.dev.cosign.simplesigning.v1+json",
    ".att": "application/vnd.dsse.envelope.v1+json",
    ".sbom": "text/spdx+json",
}


def referrers_tag(digest: str) -> str:
    """The referrers tag (and cosign's tag stem) of a sha256 digest."""
    algorithm, encoded = digest.split(":")
    return f"{algorithm}-{encoded}"


def push_artifact(
    reg: RunningRegistry,
    repository: str,
    tag: str | None,
    *,
    config_type: str = OCI_EMPTY,
    config: bytes = EMPTY_CONFIG,
    layers: Sequence[tuple[str, bytes]] = (),
    artifact_type: str | None = None,
    subject: PushedImage | None = None,
    annotations: Mapping[str, str] | None = None,
) -> PushedImage:
    """Push an OCI manifest with the given config and ``(media type, bytes)`` layers.

    ``tag=None`` pushes by digest only (referrers usually are untagged).
    """
    for blob in (config, *(data for _, data in layers)):
        push_blob(reg, repository, blob)
    manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if artifact_type is not None:
        manifest["artifactType"] = artifact_type
    manifest["config"] = _descriptor(config_type, config)
    manifest["layers"] = [_descriptor(media_type, data) for media_type, data in layers]
    if subject is not None:
        manifest["subject"] = _descriptor(subject.media_type, subject.manifest_bytes)
    if annotations:
        manifest["annotations"] = dict(annotations)
    raw = json.dumps(manifest, indent=2).encode()
    digest = push_manifest(reg, repository, tag or blob_digest(raw), raw, OCI_MANIFEST)
    sizes = {blob_digest(b): len(b) for b in (config, *(data for _, data in layers))}
    return PushedImage(repository, tag or digest, digest, OCI_MANIFEST, raw, sizes)


def attach(
    reg: RunningRegistry,
    subject: PushedImage,
    artifact_type: str,
    payload: bytes,
    *,
    annotations: Mapping[str, str] | None = None,
    update_referrers_tag: bool = True,
) -> PushedImage:
    """Attach ``payload`` to ``subject`` as an OCI 1.1 referrer, the way ORAS does.

    With ``update_referrers_tag`` (for registries without the referrers API) the referrers
    tag of the subject is read, extended with this referrer's descriptor and pushed back.
    """
    referrer = push_artifact(
        reg,
        subject.repository,
        None,
        layers=[(artifact_type, payload)],
        artifact_type=artifact_type,
        subject=subject,
        annotations=annotations,
    )
    if update_referrers_tag:
        tag = referrers_tag(subject.digest)
        current = get_manifest_bytes(reg, subject.repository, tag)
        index: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        if current is not None:
            index = json.loads(current)
        entry = _descriptor(OCI_MANIFEST, referrer.manifest_bytes)
        entry["artifactType"] = artifact_type
        if annotations:
            entry["annotations"] = dict(annotations)
        index["manifests"].append(entry)
        raw = json.dumps(index, indent=2).encode()
        push_manifest(reg, subject.repository, tag, raw, OCI_INDEX)
    return referrer


def push_cosign(
    reg: RunningRegistry, subject: PushedImage, suffix: str, payload: bytes
) -> PushedImage:
    """Push a cosign-style ``.sig``/``.att``/``.sbom`` tag for ``subject`` (no ``subject``)."""
    config = json.dumps(
        {"architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    annotations = {"dev.cosignproject.cosign/signature": "MEUCIQDfake"} if suffix == ".sig" else {}
    layer = {**_descriptor(COSIGN_LAYERS[suffix], payload), "annotations": annotations}
    for blob in (config, payload):
        push_blob(reg, subject.repository, blob)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": [layer],
    }
    raw = json.dumps(manifest).encode()
    tag = referrers_tag(subject.digest) + suffix
    digest = push_manifest(reg, subject.repository, tag, raw, OCI_MANIFEST)
    sizes = {blob_digest(config): len(config), blob_digest(payload): len(payload)}
    return PushedImage(subject.repository, tag, digest, OCI_MANIFEST, raw, sizes)


def build_chart(name: str, version: str) -> tuple[bytes, dict[str, Any]]:
    """A real Helm chart package (``<name>/Chart.yaml``, values, a template) and its metadata.

    The archive is deterministic (fixed mtimes, gzip without a timestamp), as a chart
    converted from a classic repository must be to keep its digest.
    """
    metadata = {
        "apiVersion": "v2",
        "name": name,
        "version": version,
        "description": f"{name} test chart",
        "type": "application",
        "appVersion": "1.0.0",
    }
    chart_yaml = "".join(f"{key}: {value}\n" for key, value in metadata.items())
    files = {
        f"{name}/Chart.yaml": chart_yaml,
        f"{name}/values.yaml": "replicaCount: 1\nmessage: hello\n",
        f"{name}/templates/configmap.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n"
            "data:\n  message: {{ .Values.message | quote }}\n"
        ),
    }
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(archive.getvalue(), mtime=0), metadata


def push_chart(
    reg: RunningRegistry, repository: str, name: str, version: str
) -> tuple[PushedImage, bytes]:
    """Push a chart as ``helm push`` lays it out, tagged with its version; and its ``.tgz``."""
    package, metadata = build_chart(name, version)
    pushed = push_artifact(
        reg,
        repository,
        version,
        config_type=HELM_CONFIG,
        config=json.dumps(metadata).encode(),
        layers=[(HELM_CHART, package)],
        annotations={
            "org.opencontainers.image.title": name,
            "org.opencontainers.image.version": version,
            "org.opencontainers.image.description": metadata["description"],
        },
    )
    return pushed, package


def _descriptor(media_type: str, data: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": blob_digest(data), "size": len(data)}
