"""Classic Helm chart repositories as a replication source, read as a registry of charts.

A chart repository is no registry: it is an ``index.yaml`` (Helm's "The Chart Repository
Guide": ``apiVersion: v1``, ``entries: {name: [{name, version, urls, digest, created,
...}]}``) served next to the packaged ``.tgz`` charts by any web server. Harbor's "Helm
Hub" adapter pulled from such repositories; here :class:`HelmRepoClient` presents one
through the read operations of a replication source
(:class:`~regrep.registry.protocols.SourceRegistry`), so charts replicate into an OCI
registry with no change to planning or the copy engine:

- repositories are chart names, tags are versions as Helm tags them (``+`` becomes ``_``);
- the manifest of ``name:tag`` is the OCI artifact ``helm push`` makes of that chart
  (:mod:`regrep.vendors.helm_oci`), built from the archive, whose SHA-256 must match the
  index's ``digest``;
- its blobs are the archive, streamed from its URL and verified as it streams, and the
  config made from its ``Chart.yaml``.

It has none of a registry's write operations, so it cannot be handed to a push: the hook
refuses a chart repository as a destination before planning. Basic credentials (Helm's
``--username``) are offered when the server asks for them, on the repository's own origin
only, as Helm does without ``--pass-credentials``.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Unpack
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
import yaml

from regrep.oci.manifests import Descriptor, Manifest, is_digest, sha256_digest
from regrep.registry.blobstream import BlobStream
from regrep.registry.cancellation import Cancellation
from regrep.registry.client import DEFAULT_PAGE_SIZE
from regrep.registry.errors import (
    DigestMismatch,
    ManifestInvalid,
    NotFound,
    Operation,
    RegistryError,
)
from regrep.registry.exchange import Exchange, Settings
from regrep.registry.retry import RetryPolicy
from regrep.vendors.helm_oci import (
    MAX_CHART_BYTES,
    ChartArtifact,
    chart_artifact,
    load_yaml,
    oci_tag,
)

log = logging.getLogger(__name__)

EPOCH = "1970-01-01T00:00:00Z"  # the creation time of a version the index gives none


@dataclass(frozen=True)
class ChartVersion:
    """One entry of the index: where the archive is, what it must hash to, when it was made."""

    name: str
    version: str
    url: str
    digest: str | None
    created: str

    @property
    def label(self) -> str:
        return f"{self.name}-{self.version}"


@dataclass(frozen=True)
class _Chart:
    version: ChartVersion
    artifact: ChartArtifact


class HelmRepoClient:
    """A classic chart repository at ``url`` (the directory holding ``index.yaml``).

    ``settings`` are those of :meth:`~regrep.registry.exchange.Exchange.connect`.
    """

    def __init__(self, url: str, **settings: Unpack[Settings]) -> None:
        self._exchange = Exchange.connect(url, **settings)
        self.url, self.name = self._exchange.url, self._exchange.name
        self.host = urlsplit(self.url).netloc
        self._lock = threading.Lock()
        self._index: dict[str, list[ChartVersion]] | None = None
        self._charts: dict[tuple[str, str], _Chart] = {}  # (name, version) -> artifact
        self._by_digest: dict[str, _Chart] = {}  # manifest digest -> artifact

    def __repr__(self) -> str:
        return f"HelmRepoClient({self.url!r}, name={self.name!r})"

    def __enter__(self) -> HelmRepoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._exchange.transport.close()

    @property
    def stop(self) -> Cancellation:
        """The stop its downloads and waits end on."""
        return self._exchange.transport.stop

    @property
    def policy(self) -> RetryPolicy:
        """The retry policy of its requests."""
        return self._exchange.transport.policy

    def ping(self) -> None:
        """The index can be read (with the credentials, if it needs them) and parsed."""
        self._entries()

    def list_repositories(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, name_pattern: str = ""
    ) -> Iterator[str]:
        """The chart names of the index."""
        yield from sorted(self._entries())

    def list_tags(self, repository: str, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """The chart's versions as OCI tags; empty for a chart the index does not have."""
        for version in self._entries().get(repository, []):
            yield oci_tag(version.version)

    def head_manifest(self, repository: str, reference: str) -> Descriptor | None:
        """The chart version's artifact manifest descriptor; None if there is no such version."""
        chart = self._chart(repository, reference)
        return chart.artifact.manifest.descriptor() if chart is not None else None

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """The artifact manifest of ``repository:reference``; NotFound if there is none."""
        chart = self._chart(repository, reference)
        if chart is None:
            raise NotFound(
                f"chart {repository} has no version tagged {reference} in the index of "
                f"endpoint {self.name}",
                status=404,
                endpoint=self.name,
                repository=repository,
            )
        return chart.artifact.manifest

    def untagged_digests(self, repository: str) -> list[str]:
        """Every chart version has its version as a tag."""
        return []

    def artifact_labels(self, repository: str, digest: str) -> set[str] | None:
        """A chart repository has no labels."""
        return None

    def list_referrers(self, repository: str, digest: str) -> list[Descriptor] | None:
        """Charts in a chart repository have no signatures or SBOMs attached."""
        return []

    @contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[BlobStream]:
        """The chart archive (streamed, verified) or its config (made from Chart.yaml)."""
        chart = self._chart_holding(repository, digest)
        if digest == chart.artifact.layer.digest:
            op = Operation(
                "GET", urlsplit(chart.version.url).path, "pull", repository, chart.version.label
            )
            with self._exchange.send(op, (), url=chart.version.url, stream=True) as response:
                stream = BlobStream(
                    response, digest=digest, repository=repository, endpoint=self.name
                )
                with self.stop.aborting(stream.abort):
                    yield stream
        else:
            yield BlobStream(
                _in_memory(chart.artifact.config),
                digest=digest,
                repository=repository,
                endpoint=self.name,
            )

    # -- the index and the charts -------------------------------------------------------

    def _entries(self) -> dict[str, list[ChartVersion]]:
        """The index, read once per client."""
        with self._lock:
            if self._index is not None:
                return self._index
        path = urlsplit(self.url).path + "/index.yaml"
        op = Operation("GET", path, "list", None, "the chart index (index.yaml)")
        with self._exchange.send(op, (), url=f"{self.url}/index.yaml") as response:
            text = response.content
        index = self._parse_index(text)
        with self._lock:
            self._index = index
        return index

    def _parse_index(self, text: bytes) -> dict[str, list[ChartVersion]]:
        try:
            document = load_yaml(text)
        except yaml.YAMLError as exc:
            raise self._bad_index(str(exc)) from None
        if not isinstance(document, dict) or not isinstance(document.get("entries"), dict):
            raise self._bad_index("no entries mapping")
        index: dict[str, list[ChartVersion]] = {}
        for name, versions in document["entries"].items():
            for entry in versions or []:
                urls = entry.get("urls") if isinstance(entry, dict) else None
                if not urls or not entry.get("version"):
                    log.warning(
                        "index of %s: an entry of chart %s has no urls or version", self.name, name
                    )
                    continue
                digest = str(entry["digest"]) if entry.get("digest") else None
                index.setdefault(str(name), []).append(
                    ChartVersion(
                        name=str(name),
                        version=str(entry["version"]),
                        url=urljoin(self.url + "/", str(urls[0])),
                        digest=f"sha256:{digest}" if digest and ":" not in digest else digest,
                        created=str(entry.get("created") or EPOCH),
                    )
                )
        return index

    def _chart(self, repository: str, reference: str) -> _Chart | None:
        """The chart version a tag or manifest digest names, its artifact built once."""
        if is_digest(reference):
            with self._lock:
                return self._by_digest.get(reference)
        version = next(
            (v for v in self._entries().get(repository, []) if oci_tag(v.version) == reference),
            None,
        )
        if version is None:
            return None
        key = (version.name, version.version)
        with self._lock:
            known = self._charts.get(key)
        if known is not None:
            return known
        chart = _Chart(version, self._build(version))
        with self._lock:
            self._charts[key] = chart
            self._by_digest[chart.artifact.manifest.digest] = chart
        return chart

    def _chart_holding(self, repository: str, digest: str) -> _Chart:
        with self._lock:
            charts = [c for c in self._charts.values() if c.version.name == repository]
        for chart in charts:
            if digest in (chart.artifact.layer.digest, sha256_digest(chart.artifact.config)):
                return chart
        raise NotFound(
            f"blob {digest} of chart {repository} not found on endpoint {self.name}",
            status=404,
            endpoint=self.name,
            repository=repository,
        )

    def _build(self, version: ChartVersion) -> ChartArtifact:
        """Download the archive, check it against the index, and make the artifact."""
        op = Operation("GET", urlsplit(version.url).path, "pull", version.name, version.label)
        archive = bytearray()
        with self._exchange.send(op, (), url=version.url, stream=True) as response:
            for chunk in response.iter_content(1 << 20):
                archive += chunk
                if len(archive) > MAX_CHART_BYTES:
                    raise ManifestInvalid(
                        f"chart {version.label} of endpoint {self.name} is larger than the "
                        f"{MAX_CHART_BYTES} bytes Helm loads",
                        endpoint=self.name,
                        repository=version.name,
                    )
        actual = sha256_digest(bytes(archive))
        if version.digest is not None and actual != version.digest:
            raise DigestMismatch(
                f"endpoint {self.name} serves chart {version.label} as content hashing to "
                f"{actual}, but its index says {version.digest}",
                endpoint=self.name,
                repository=version.name,
            )
        try:
            return chart_artifact(bytes(archive), version.created)
        except ValueError as exc:
            raise ManifestInvalid(
                f"chart {version.label} of endpoint {self.name} is not one Helm can load: {exc}",
                endpoint=self.name,
                repository=version.name,
            ) from None

    def _bad_index(self, problem: str) -> RegistryError:
        return RegistryError(
            f"endpoint {self.name} has no valid chart index at {self.url}/index.yaml: {problem}",
            endpoint=self.name,
        )


def _in_memory(data: bytes) -> requests.Response:
    """A response whose body is ``data``: the config blob exists only in memory, and
    :class:`BlobStream` streams (and verifies) a response body."""
    response = requests.Response()
    response.status_code = 200
    response.headers["Content-Length"] = str(len(data))
    response.raw = urllib3.HTTPResponse(body=io.BytesIO(data), preload_content=False)
    return response
