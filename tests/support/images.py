"""Generate images and push them with plain ``requests``: the oracle the tests trust.

It is deliberately independent of regrep's own client, so a bug there cannot hide itself in
the test setup. Layers are pseudo-random bytes (registries never look inside them) with
realistic media types; configs are valid-looking image configs. Content is deterministic in
``seed`` (by default ``repository:tag``): the same call pushes the same digests into any
registry, and an explicit seed pushes the same image into several repositories.

Layers over 1 MiB are ``GeneratedBlob``s (see ``blobs``) and are uploaded as a stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import requests

from tests.support.blobs import Blob, GeneratedBlob, blob_digest, blob_length, generated, make_blob
from tests.support.registries import RunningRegistry

# The content helpers are part of this module's interface: tests build layers to share with
# make_blob/GeneratedBlob and pass them to push_image as base_layers.
__all__ = [
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "MANIFEST_ACCEPT",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Blob",
    "GeneratedBlob",
    "PushedImage",
    "blob_digest",
    "blob_size",
    "delete_manifest",
    "get_manifest_bytes",
    "list_tags",
    "make_blob",
    "manifest_digest",
    "push_blob",
    "push_image",
    "push_index",
    "push_manifest",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST))
_INDEX_FOR = {OCI_MANIFEST: OCI_INDEX, DOCKER_MANIFEST: DOCKER_MANIFEST_LIST}
_CONFIG_FOR = {
    OCI_MANIFEST: "application/vnd.oci.image.config.v1+json",
    DOCKER_MANIFEST: "application/vnd.docker.container.image.v1+json",
}
_LAYER_FOR = {
    OCI_MANIFEST: "application/vnd.oci.image.layer.v1.tar+gzip",
    DOCKER_MANIFEST: "application/vnd.docker.image.rootfs.diff.tar.gzip",
}
TIMEOUT = 120


@dataclass(frozen=True)
class PushedImage:
    """What was pushed: the manifest as stored, and every blob it references."""

    repository: str
    reference: str  # the tag, or the digest for an untagged manifest
    digest: str
    media_type: str
    manifest_bytes: bytes
    blobs: Mapping[str, int]  # digest -> size of the config and layers (of all children)
    layers: tuple[Blob, ...] = ()  # reusable as another image's ``base_layers``
    children: tuple[PushedImage, ...] = ()

    @property
    def total_bytes(self) -> int:
        """Blob bytes plus manifest bytes: what a full copy transfers."""
        own = len(self.manifest_bytes) + sum(self.blobs.values())
        return own + sum(len(child.manifest_bytes) for child in self.children)


def push_blob(reg: RunningRegistry, repository: str, blob: Blob) -> str:
    """Upload ``blob`` (monolithic POST then one streamed PUT) unless present; its digest."""
    with reg.session() as session:
        return _push_blob(session, reg.url, repository, blob)


def push_manifest(
    reg: RunningRegistry, repository: str, reference: str, raw: bytes, media_type: str
) -> str:
    """PUT a manifest exactly as given (for hand-made ones too); the registry's digest."""
    with reg.session() as session:
        return _put_manifest(session, reg.url, repository, reference, raw, media_type)


def push_image(
    reg: RunningRegistry,
    repository: str,
    tag: str | None,
    *,
    layer_sizes: Sequence[int] = (1024, 4096),
    base_layers: Sequence[Blob] = (),
    seed: int | str | None = None,
    media_type: str = OCI_MANIFEST,
    platform: tuple[str, str] = ("linux", "amd64"),
) -> PushedImage:
    """Push an image: ``base_layers`` then fresh layers of ``layer_sizes``, and a config.

    ``tag=None`` pushes the manifest by digest only. Layers bigger than 1 MiB are streamed.
    The content derives from ``seed``, by default from ``repository:tag``: different tags
    differ, and the same call against two registries pushes the same digests.
    """
    seed = f"{repository}:{tag or ''}" if seed is None else seed
    layers: tuple[Blob, ...] = (
        *base_layers,
        *(generated(size, f"{seed}/layer/{i}") for i, size in enumerate(layer_sizes)),
    )
    config = _config(layers, seed, platform)
    with reg.session() as session:
        for blob in (config, *layers):
            _push_blob(session, reg.url, repository, blob)
        manifest = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": _descriptor(_CONFIG_FOR[media_type], config),
            "layers": [_descriptor(_LAYER_FOR[media_type], layer) for layer in layers],
        }
        raw = json.dumps(manifest, indent=3).encode()
        digest = blob_digest(raw)
        _put_manifest(session, reg.url, repository, tag or digest, raw, media_type)
    sizes = {blob_digest(b): blob_length(b) for b in (config, *layers)}
    return PushedImage(repository, tag or digest, digest, media_type, raw, sizes, layers)


def push_index(
    reg: RunningRegistry,
    repository: str,
    tag: str,
    platforms: Sequence[tuple[str, str]] = (("linux", "amd64"), ("linux", "arm64")),
    *,
    layer_sizes: Sequence[int] = (1024, 4096),
    seed: int | str | None = None,
    media_type: str = OCI_MANIFEST,
) -> PushedImage:
    """Push one image per platform by digest, then an index (or manifest list) by tag.

    ``media_type`` is the children's; the index is OCI's or Docker's list to match.
    """
    seed = f"{repository}:{tag}" if seed is None else seed
    children = tuple(
        push_image(
            reg,
            repository,
            None,
            layer_sizes=layer_sizes,
            seed=f"{seed}/{os}/{arch}",
            media_type=media_type,
            platform=(os, arch),
        )
        for os, arch in platforms
    )
    index_type = _INDEX_FOR[media_type]
    index = {
        "schemaVersion": 2,
        "mediaType": index_type,
        "manifests": [
            {
                **_descriptor(media_type, child.manifest_bytes),
                "platform": {"architecture": arch, "os": os},
            }
            for child, (os, arch) in zip(children, platforms, strict=True)
        ],
    }
    raw = json.dumps(index, indent=3).encode()
    digest = push_manifest(reg, repository, tag, raw, index_type)
    blobs = {d: s for child in children for d, s in child.blobs.items()}
    return PushedImage(repository, tag, digest, index_type, raw, blobs, children=children)


def manifest_digest(reg: RunningRegistry, repository: str, reference: str) -> str | None:
    """The registry's ``Docker-Content-Digest`` for a manifest (HEAD), None if absent."""
    answer = _read(reg, "HEAD", f"/v2/{repository}/manifests/{reference}")
    return answer.headers["Docker-Content-Digest"] if answer is not None else None


def get_manifest_bytes(reg: RunningRegistry, repository: str, reference: str) -> bytes | None:
    """The manifest exactly as stored, None if absent."""
    answer = _read(reg, "GET", f"/v2/{repository}/manifests/{reference}")
    return answer.content if answer is not None else None


def blob_size(reg: RunningRegistry, repository: str, digest: str) -> int | None:
    """The size of a blob in ``repository`` (HEAD), None if it is not there."""
    answer = _read(reg, "HEAD", f"/v2/{repository}/blobs/{digest}")
    return int(answer.headers["Content-Length"]) if answer is not None else None


def list_tags(reg: RunningRegistry, repository: str) -> list[str]:
    """All tags of ``repository`` (one unpaginated page), empty if it does not exist."""
    answer = _read(reg, "GET", f"/v2/{repository}/tags/list")
    return sorted(answer.json().get("tags") or []) if answer is not None else []


def delete_manifest(reg: RunningRegistry, repository: str, digest: str) -> None:
    """Delete a manifest by digest (and with it every tag pointing at it)."""
    with reg.session() as session:
        _ok(session.delete(_manifest_url(reg.url, repository, digest), timeout=TIMEOUT))


def _read(reg: RunningRegistry, method: str, path: str) -> requests.Response | None:
    """One read request with the full manifest Accept list; None on 404."""
    with reg.session() as session:
        answer = session.request(
            method, reg.url + path, headers={"Accept": MANIFEST_ACCEPT}, timeout=TIMEOUT
        )
    return None if answer.status_code == 404 else _ok(answer)


def _ok(answer: requests.Response) -> requests.Response:
    """``raise_for_status`` that keeps the registry's error body, which names the problem."""
    if answer.status_code >= 400:
        raise requests.HTTPError(
            f"{answer.request.method} {answer.url}: {answer.status_code} {answer.text[:500]}",
            response=answer,
        )
    return answer


def _descriptor(media_type: str, blob: Blob) -> dict[str, object]:
    return {"mediaType": media_type, "digest": blob_digest(blob), "size": blob_length(blob)}


def _config(layers: Sequence[Blob], seed: int | str, platform: tuple[str, str]) -> bytes:
    """An image config; ``diff_ids`` pretend the layers are uncompressed (nobody checks)."""
    config = {
        "created": "2024-01-01T00:00:00Z",
        "architecture": platform[1],
        "os": platform[0],
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/sh"],
            "Labels": {"org.regrep.test.seed": str(seed)},
        },
        "rootfs": {"type": "layers", "diff_ids": [blob_digest(layer) for layer in layers]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "regrep tests"}],
    }
    return json.dumps(config, sort_keys=True).encode()


def _manifest_url(url: str, repository: str, reference: str) -> str:
    return f"{url}/v2/{repository}/manifests/{reference}"


def _push_blob(session: requests.Session, url: str, repository: str, blob: Blob) -> str:
    digest = blob_digest(blob)
    exists = session.head(f"{url}/v2/{repository}/blobs/{digest}", timeout=TIMEOUT)
    if exists.status_code == 200:
        return digest
    started = _ok(session.post(f"{url}/v2/{repository}/blobs/uploads/", timeout=TIMEOUT))
    location = requests.compat.urljoin(url, started.headers["Location"])
    body = blob.chunks() if isinstance(blob, GeneratedBlob) else blob
    headers = {"Content-Type": "application/octet-stream"}
    put = session.put(
        location, params={"digest": digest}, data=body, headers=headers, timeout=TIMEOUT
    )
    _ok(put)
    return digest


def _put_manifest(
    session: requests.Session,
    url: str,
    repository: str,
    reference: str,
    raw: bytes,
    media_type: str,
) -> str:
    answer = session.put(
        _manifest_url(url, repository, reference),
        data=raw,
        headers={"Content-Type": media_type},
        timeout=TIMEOUT,
    )
    _ok(answer)
    return answer.headers["Docker-Content-Digest"]
