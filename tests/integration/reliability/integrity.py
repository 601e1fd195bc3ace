"""The oracle for "nothing half-written": every tag at a registry names a complete image.

It reads with plain ``requests`` (the test support's sessions), never regrep's client, and
re-hashes every byte: a manifest is complete when its bytes hash to its digest and every
blob and child manifest it references is there with the right content.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tests.support.images import MANIFEST_ACCEPT
from tests.support.registries import RunningRegistry


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def complete_digest(registry: RunningRegistry, repository: str, reference: str) -> str:
    """The digest of ``repository:reference``, after checking all its content is there.

    Raises AssertionError naming the first missing or corrupt manifest or blob.
    """
    with registry.session() as session:
        return _check(session, registry.url, repository, reference)


def tagged_images(registry: RunningRegistry) -> dict[str, str]:
    """``{"repo:tag": digest}`` for every tag of the registry, each checked complete."""
    found: dict[str, str] = {}
    with registry.session() as session:
        catalog = session.get(f"{registry.url}/v2/_catalog", timeout=30)
        catalog.raise_for_status()
        for repository in catalog.json().get("repositories") or []:
            tags = session.get(f"{registry.url}/v2/{repository}/tags/list", timeout=30)
            for tag in (tags.json().get("tags") or []) if tags.ok else []:
                found[f"{repository}:{tag}"] = _check(session, registry.url, repository, tag)
    return found


def _check(session: Any, url: str, repository: str, reference: str) -> str:
    answer = session.get(
        f"{url}/v2/{repository}/manifests/{reference}",
        headers={"Accept": MANIFEST_ACCEPT},
        timeout=30,
    )
    assert answer.status_code == 200, f"{repository}:{reference} is missing ({answer.status_code})"
    digest = sha256(answer.content)
    announced = answer.headers.get("Docker-Content-Digest")
    assert announced == digest, f"{repository}:{reference} hashes to {digest}, not {announced}"
    manifest = json.loads(answer.content)
    for child in manifest.get("manifests", []):
        assert _check(session, url, repository, child["digest"]) == child["digest"]
    for blob in [manifest["config"], *manifest.get("layers", [])] if "config" in manifest else []:
        got = session.get(f"{url}/v2/{repository}/blobs/{blob['digest']}", timeout=60)
        assert got.status_code == 200, f"blob {blob['digest']} of {repository}@{digest} missing"
        assert sha256(got.content) == blob["digest"], f"blob {blob['digest']} is corrupt"
        assert len(got.content) == blob["size"], f"blob {blob['digest']} has the wrong size"
    return digest


def stored_state(registry: RunningRegistry) -> tuple[dict[str, str], frozenset[str]]:
    """What a registry holds: its tagged images and its committed blobs, all checked.

    Every tag must name a complete image and every blob file must hash to its digest.
    Upload sessions are not content; a committed blob is, even one no manifest names.
    """
    root = registry.data_dir / "docker" / "registry" / "v2" / "blobs" / "sha256"
    blobs = set()
    for data in root.glob("*/*/data") if root.exists() else ():
        digest = f"sha256:{data.parent.name}"
        assert sha256(data.read_bytes()) == digest, f"stored blob {digest} is corrupt"
        blobs.add(digest)
    return tagged_images(registry), frozenset(blobs)
