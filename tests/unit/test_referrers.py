"""Referrers-tag naming and the referrers-list index regrep writes without a referrers API."""

from __future__ import annotations

import json

from regrep.oci import manifests as oci
from regrep.oci.manifests import Descriptor, Manifest
from regrep.oci.referrers import (
    cosign_tags,
    is_referrer_tag,
    merged_index,
    referrer_descriptor,
    referrers_tag,
)

HEX = "0123456789abcdef" * 4


def _descriptor(char: str, artifact_type: str = "application/spdx+json") -> Descriptor:
    return Descriptor(oci.OCI_MANIFEST, "sha256:" + char * 64, 10, artifact_type=artifact_type)


def test_referrers_tag_follows_the_spec_truncation() -> None:
    assert referrers_tag(f"sha256:{HEX}") == f"sha256-{HEX}"
    assert referrers_tag("sha512:" + "a" * 128) == "sha512-" + "a" * 64
    long = "test+algorithm+using+algorithm+separators+and+lots+of+characters"
    encoded = "alsoSome=InTheEncodedSectionToShowHyphenReplacementAndLotsAndLotsOfCharacters"
    assert referrers_tag(f"{long}:{encoded}") == (
        "test-algorithm-using-algorithm-s-"
        "alsoSome-InTheEncodedSectionToShowHyphenReplacementAndLotsAndLot"
    )


def test_cosign_and_referrer_tags_are_recognised() -> None:
    assert cosign_tags(f"sha256:{HEX}") == [
        f"sha256-{HEX}.sig",
        f"sha256-{HEX}.att",
        f"sha256-{HEX}.sbom",
    ]
    for tag in (f"sha256-{HEX}", *cosign_tags(f"sha256:{HEX}")):
        assert is_referrer_tag(tag)
    for tag in ("latest", f"sha256-{HEX}.other", f"build-{HEX}", f"sha256-{HEX[:-1]}"):
        assert not is_referrer_tag(tag)


def test_referrer_descriptor_per_the_spec() -> None:
    config = {"mediaType": oci.OCI_EMPTY, "digest": "sha256:" + "e" * 64, "size": 2}
    body = {"schemaVersion": 2, "mediaType": oci.OCI_MANIFEST, "config": config, "layers": []}
    with_type = {**body, "artifactType": "application/vnd.example", "annotations": {"a": "b"}}
    descriptor = referrer_descriptor(Manifest.parse(json.dumps(with_type).encode()))
    assert (descriptor.artifact_type, descriptor.annotations) == (
        "application/vnd.example",
        {"a": "b"},
    )
    image_config = {**config, "mediaType": oci.OCI_CONFIG}
    plain = Manifest.parse(json.dumps({**body, "config": image_config}).encode())
    assert referrer_descriptor(plain).artifact_type == oci.OCI_CONFIG  # the config media type
    assert referrer_descriptor(plain).annotations is None


def test_merged_index_appends_without_duplicates() -> None:
    first = merged_index(None, [_descriptor("a"), _descriptor("a")])
    assert first is not None and first.media_type == oci.OCI_INDEX
    assert [c.digest for c in first.children] == ["sha256:" + "a" * 64]
    assert merged_index(first, [_descriptor("a")]) is None
    existing = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": oci.OCI_INDEX,
            "manifests": [{**_descriptor("b").to_json(), "x-unknown": 1}],
        }
    ).encode()
    second = merged_index(Manifest.parse(existing), [_descriptor("a"), _descriptor("b")])
    assert second is not None
    entries = json.loads(second.raw)["manifests"]
    assert [e["digest"][-1] for e in entries] == ["b", "a"]
    assert entries[0]["x-unknown"] == 1  # what another client wrote stays as it was
    assert entries[1] == {
        "mediaType": oci.OCI_MANIFEST,
        "digest": "sha256:" + "a" * 64,
        "size": 10,
        "artifactType": "application/spdx+json",
    }
