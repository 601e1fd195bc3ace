"""The pure OCI model: media types, digests and manifests kept byte-exact."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from regrep.oci import manifests as oci
from regrep.oci.manifests import Descriptor, Manifest, Platform

CONFIG = {"mediaType": oci.OCI_CONFIG, "digest": "sha256:" + "a" * 64, "size": 10}
LAYER = {"mediaType": oci.OCI_LAYER, "digest": "sha256:" + "b" * 64, "size": 20}


def _image(**extra: object) -> dict[str, object]:
    return {
        "schemaVersion": 2,
        "mediaType": oci.OCI_MANIFEST,
        "config": CONFIG,
        "layers": [LAYER],
        **extra,
    }


def test_digest_is_over_exact_bytes_never_reserialised() -> None:
    # Odd spacing and key order: re-serialising would change the digest.
    raw = b'{ "schemaVersion":2,\n"layers":[],  "config": ' + json.dumps(CONFIG).encode() + b"}"
    manifest = Manifest.parse(raw, oci.OCI_MANIFEST)
    assert manifest.raw is raw
    assert manifest.digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert manifest.descriptor() == Descriptor(oci.OCI_MANIFEST, manifest.digest, len(raw))


def test_image_manifest_views() -> None:
    manifest = Manifest.parse(json.dumps(_image()).encode(), oci.OCI_MANIFEST)
    assert not manifest.is_index
    assert manifest.children == []
    assert manifest.config == Descriptor(oci.OCI_CONFIG, CONFIG["digest"], 10)  # type: ignore[arg-type]
    assert [b.digest for b in manifest.blobs] == [CONFIG["digest"], LAYER["digest"]]
    assert manifest.subject is None
    assert manifest.artifact_type is None


def test_index_children_with_platforms() -> None:
    child = {"mediaType": oci.OCI_MANIFEST, "digest": "sha256:" + "c" * 64, "size": 500}
    index = {
        "schemaVersion": 2,
        "mediaType": oci.DOCKER_MANIFEST_LIST,
        "manifests": [
            {**child, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {
                **child,
                "digest": "sha256:" + "d" * 64,
                "platform": {"os": "linux", "architecture": "amd64"},
            },
        ],
    }
    manifest = Manifest.parse(json.dumps(index).encode(), oci.DOCKER_MANIFEST_LIST)
    assert manifest.is_index
    assert manifest.blobs == []
    assert [str(c.platform) for c in manifest.children] == ["linux/arm64/v8", "linux/amd64"]
    assert manifest.children[1].platform == Platform("linux", "amd64")


def test_media_type_from_body_when_served_as_plain_json() -> None:
    index = {"schemaVersion": 2, "manifests": []}
    assert (
        Manifest.parse(json.dumps(index).encode(), "application/json").media_type == oci.OCI_INDEX
    )
    docker = {**_image(), "mediaType": oci.DOCKER_MANIFEST_V2}
    parsed = Manifest.parse(json.dumps(docker).encode(), "application/json; charset=utf-8")
    assert parsed.media_type == oci.DOCKER_MANIFEST_V2
    without_field = {k: v for k, v in _image().items() if k != "mediaType"}
    assert Manifest.parse(json.dumps(without_field).encode()).media_type == oci.OCI_MANIFEST


def test_helm_chart_artifact_type_and_subject() -> None:
    helm = _image(
        config={**CONFIG, "mediaType": oci.HELM_CONFIG},
        subject={"mediaType": oci.OCI_MANIFEST, "digest": "sha256:" + "e" * 64, "size": 7},
    )
    manifest = Manifest.parse(json.dumps(helm).encode(), oci.OCI_MANIFEST)
    assert manifest.artifact_type == oci.HELM_CONFIG
    assert manifest.subject is not None and manifest.subject.digest == "sha256:" + "e" * 64
    explicit = _image(artifactType="application/vnd.example.sbom")
    assert (
        Manifest.parse(json.dumps(explicit).encode()).artifact_type
        == "application/vnd.example.sbom"
    )


def test_foreign_layer_keeps_urls() -> None:
    foreign = {**LAYER, "mediaType": oci.DOCKER_FOREIGN_LAYER, "urls": ["https://example/x.tar"]}
    manifest = Manifest.parse(json.dumps(_image(layers=[foreign])).encode(), oci.OCI_MANIFEST)
    assert manifest.layers[0].urls == ("https://example/x.tar",)


def test_schema1_layers_deduplicated_with_unknown_size() -> None:
    blob = "sha256:" + "f" * 64
    schema1 = {
        "schemaVersion": 1,
        "name": "library/x",
        "tag": "1",
        "fsLayers": [{"blobSum": blob}, {"blobSum": blob}],
        "signatures": [],
    }
    manifest = Manifest.parse(json.dumps(schema1).encode(), "")
    assert manifest.media_type == oci.DOCKER_MANIFEST_V1_SIGNED
    assert manifest.config is None
    assert manifest.blobs == [Descriptor(oci.DOCKER_LAYER, blob, -1)]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"schemaVersion": 3}', "schemaVersion"),
        (
            json.dumps({"schemaVersion": 2, "mediaType": oci.OCI_MANIFEST, "layers": []}).encode(),
            "no config",
        ),
        (json.dumps(_image(layers=[{**LAYER, "digest": "md5:abc"}])).encode(), "layers[0]"),
        (
            json.dumps(_image(layers=[{**LAYER, "size": -1}])).encode(),
            "layers[0] has no valid size",
        ),
        (
            json.dumps(
                {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": [{}]}
            ).encode(),
            "manifests[0]",
        ),
    ],
)
def test_invalid_manifests_name_the_problem(raw: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        Manifest.parse(raw, "")


def test_accept_list_covers_every_manifest_type() -> None:
    accepted = {t.strip() for t in oci.MANIFEST_ACCEPT.split(",")}
    assert accepted == set(oci.MANIFEST_TYPES)
    assert oci.HELM_CONFIG == "application/vnd.cncf.helm.config.v1+json"


def test_digest_helpers() -> None:
    assert (
        oci.sha256_digest(b"")
        == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    sha512 = "sha512:" + hashlib.sha512(b"x").hexdigest()
    assert oci.compute_digest(b"x", like=sha512) == sha512
    assert oci.is_digest("sha256:" + "0" * 64) and not oci.is_digest("latest")
    with pytest.raises(ValueError, match="unsupported digest algorithm"):
        oci.digest_hasher("md5:" + "0" * 32)
    with pytest.raises(ValueError, match="malformed"):
        oci.digest_hasher("sha256:1234")


def test_repository_names() -> None:
    oci.validate_repository("library/hello-world")
    oci.validate_repository("a/b.c/d__e")
    for bad in ("Upper", "a//b", "/a", "a/", "a..b"):
        with pytest.raises(ValueError, match="invalid repository"):
            oci.validate_repository(bad)


def _signed_schema1(payload: dict[str, object]) -> tuple[bytes, bytes]:
    """A schema1 manifest signed the libtrust way (signature bytes are not checked here)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    formatted = json.dumps(payload, indent=3).encode()
    length = formatted.rindex(b"\n}")
    header = {"formatLength": length, "formatTail": b64(formatted[length:])}
    signature = {
        "header": {"alg": "ES256"},
        "signature": "c2ln",
        "protected": b64(json.dumps(header).encode()),
    }
    raw = formatted[:length] + b',\n   "signatures": ' + json.dumps([signature]).encode() + b"\n}"
    return raw, formatted


def test_signed_schema1_digest_covers_the_payload_only() -> None:
    raw, payload = _signed_schema1(
        {"schemaVersion": 1, "name": "x", "tag": "1", "fsLayers": [], "history": []}
    )
    manifest = Manifest.parse(raw, oci.DOCKER_MANIFEST_V1_SIGNED)
    assert oci.digested_bytes(raw) == payload
    assert manifest.digest == oci.sha256_digest(payload) != oci.sha256_digest(raw)
    unsigned = json.dumps(_image()).encode()
    assert oci.digested_bytes(unsigned) is unsigned


def test_descriptor_json_round_trip_and_annotations() -> None:
    entry = {
        "mediaType": oci.OCI_MANIFEST,
        "digest": "sha256:" + "c" * 64,
        "size": 5,
        "platform": {"architecture": "arm", "os": "linux", "variant": "v7"},
        "artifactType": "application/spdx+json",
        "annotations": {"k": "v"},
        "urls": ["https://example/x"],
    }
    assert Descriptor.from_json(entry, "entry").to_json() == entry
    manifest = Manifest.parse(json.dumps(_image(annotations={"k": "v"})).encode())
    assert manifest.annotations == {"k": "v"}
    assert Manifest.parse(json.dumps(_image()).encode()).annotations == {}
