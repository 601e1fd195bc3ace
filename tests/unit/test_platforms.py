"""Platform filters on multi-platform indexes: matching, preference and the rewritten index."""

from __future__ import annotations

import json
from typing import Any

import pytest

from regrep.oci import manifests as oci
from regrep.oci.manifests import Manifest, Platform
from regrep.oci.platform_filter import parse_platform, platform_matches, select_platforms


def _entry(digest: str, os: str, arch: str, **extra: Any) -> dict[str, Any]:
    return {
        "mediaType": oci.OCI_MANIFEST,
        "digest": "sha256:" + digest * 64,
        "size": 100,
        "platform": {"os": os, "architecture": arch, **extra},
    }


AMD64 = _entry("a", "linux", "amd64")
ARM64 = _entry("b", "linux", "arm64", variant="v8")
ARMV7 = _entry("c", "linux", "arm", variant="v7")
ATTESTATION = {
    **_entry("d", "unknown", "unknown"),
    "annotations": {
        "vnd.docker.reference.type": "attestation-manifest",
        "vnd.docker.reference.digest": AMD64["digest"],
    },
}
INDEX = Manifest.parse(
    json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": oci.OCI_INDEX,
            "manifests": [AMD64, ARM64, ARMV7, ATTESTATION],
            "annotations": {"org.opencontainers.image.created": "2024-01-01"},
        },
        indent=2,
    ).encode()
)


def _fetch(digest: str) -> Manifest:
    return Manifest.parse(
        json.dumps(
            {
                "schemaVersion": 2,
                "config": {"mediaType": oci.OCI_CONFIG, "digest": digest, "size": 1},
                "layers": [],
            }
        ).encode()
    )


def _select(values: list[str], result: Any = "index") -> Manifest | None:
    return select_platforms(INDEX, [parse_platform(v) for v in values], result, _fetch)


def test_parse_platform() -> None:
    assert parse_platform("linux/arm/v7") == Platform("linux", "arm", "v7")
    assert str(parse_platform("windows/amd64")) == "windows/amd64"
    for bad in ("linux", "linux/", "Linux/AMD64", "a/b/c/d"):
        with pytest.raises(ValueError, match="os/architecture"):
            parse_platform(bad)


def test_a_variant_is_only_required_when_asked_for() -> None:
    arm64_v8 = Platform("linux", "arm64", "v8")
    assert platform_matches(Platform("linux", "arm64"), arm64_v8)
    assert platform_matches(Platform("linux", "arm64", "v8"), arm64_v8)
    assert not platform_matches(Platform("linux", "arm64", "v9"), arm64_v8)
    assert not platform_matches(Platform("linux", "arm64"), None)


def test_index_result_keeps_chosen_entries_and_their_attestations() -> None:
    filtered = _select(["linux/amd64", "linux/arm64"])
    assert filtered is not None and filtered.media_type == oci.OCI_INDEX
    body = json.loads(filtered.raw)
    assert body["manifests"] == [AMD64, ARM64, ATTESTATION]
    assert body["annotations"] == {"org.opencontainers.image.created": "2024-01-01"}
    assert filtered.digest != INDEX.digest
    assert _select(["linux/amd64", "linux/arm64"]) == filtered  # deterministic bytes
    without_attested = _select(["linux/arm"])
    assert without_attested is not None
    assert json.loads(without_attested.raw)["manifests"] == [ARMV7]


def test_an_index_keeping_everything_is_returned_unchanged() -> None:
    everything = _select(["linux/amd64", "linux/arm64", "linux/arm", "unknown/unknown"])
    assert everything is INDEX


def test_manifest_result_follows_the_preference_order() -> None:
    chosen = _select(["linux/riscv64", "linux/arm/v7", "linux/amd64"], "manifest")
    assert chosen is not None and chosen.config is not None
    assert chosen.config.digest == ARMV7["digest"]


def test_no_matching_platform_and_non_indexes() -> None:
    assert _select(["windows/amd64"]) is None
    assert _select(["windows/amd64"], "manifest") is None
    image = _fetch("sha256:" + "e" * 64)
    assert select_platforms(image, [Platform("windows", "amd64")], "index", _fetch) is image
