"""A real classic Helm chart repository for tests: packaged charts and an index over HTTP.

No emulation here: a chart repository is static files. :func:`package_chart` writes a
``.tgz`` laid out as ``helm package`` writes it (``<name>/Chart.yaml``, ``values.yaml``,
``templates/...``), :func:`write_index` writes ``index.yaml`` in Helm's format
(``apiVersion: v1``, ``entries: {name: [{...Chart.yaml fields, urls, digest, created}]}``,
``generated``), and :class:`ChartRepository` serves the directory with Python's
``http.server`` on loopback, optionally behind basic auth (what Helm's ``--username`` and
``--password`` answer), recording each request's path and status.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class PackagedChart:
    """A chart archive on disk, and what the index says about it."""

    metadata: Mapping[str, Any]
    path: Path
    created: str

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def package_chart(
    directory: Path,
    chart_yaml: str,
    *,
    created: str = "2024-05-01T10:00:00.123456789Z",
    extra_files: Mapping[str, str] | None = None,
) -> PackagedChart:
    """Write ``<name>-<version>.tgz`` holding ``chart_yaml`` as ``<name>/Chart.yaml``.

    ``chart_yaml`` is the file's text, written as given (so tests control its YAML
    scalars); a values file and a template come with it, plus ``extra_files``.
    """
    metadata = yaml.safe_load(chart_yaml)
    name, version = metadata["name"], metadata["version"]
    files = {
        "Chart.yaml": chart_yaml,
        "values.yaml": "replicaCount: 1\n",
        "templates/configmap.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
        ),
        **(extra_files or {}),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for relative, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}/{relative}")
            info.size, info.mode, info.mtime = len(data), 0o644, 1714557600
            tar.addfile(info, io.BytesIO(data))
    path = directory / f"{name}-{version}.tgz"
    path.write_bytes(buffer.getvalue())
    return PackagedChart(metadata, path, created)


def write_index(
    directory: Path, charts: Sequence[PackagedChart], *, digests: Mapping[str, str] | None = None
) -> Path:
    """Write ``index.yaml`` for ``charts``: relative URLs, newest version first per chart.

    ``digests`` overrides the recorded digest of a ``name-version`` (to test a mismatch).
    """
    entries: dict[str, list[dict[str, Any]]] = {}
    for chart in charts:
        label = f"{chart.name}-{chart.version}"
        entries.setdefault(chart.name, []).append(
            {
                **chart.metadata,
                "created": chart.created,
                "digest": (digests or {}).get(label, chart.sha256),
                "urls": [chart.path.name],
            }
        )
    document = {"apiVersion": "v1", "entries": entries, "generated": "2024-05-02T00:00:00Z"}
    path = directory / "index.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=True))
    return path


class ChartRepository:
    """Serves ``directory`` on a free loopback port until :meth:`stop`.

    ``users`` (name -> password) turns on basic auth: a request without valid credentials
    gets 401 with ``WWW-Authenticate: Basic``.
    """

    def __init__(self, directory: Path, *, users: Mapping[str, str] | None = None) -> None:
        self.users = dict(users or {})
        self.requests: list[tuple[str, int]] = []
        handler = partial(_Handler, repository=self, directory=str(directory))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/charts"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ChartRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def authorized(self, header: str | None) -> bool:
        if not self.users:
            return True
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        return self.users.get(user) == password


class _Handler(SimpleHTTPRequestHandler):
    """Static files below ``/charts/``, behind the repository's basic auth."""

    def __init__(self, *args: Any, repository: ChartRepository, **kwargs: Any) -> None:
        self.repository = repository
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        if not self.repository.authorized(self.headers.get("Authorization")):
            self._refuse()
            return
        if not self.path.startswith("/charts/"):
            self.send_error(404)
            return
        self.path = self.path.removeprefix("/charts")
        super().do_GET()

    def _refuse(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="charts"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send_response(self, code: int, message: str | None = None) -> None:
        self.repository.requests.append((self.path, code))
        super().send_response(code, message)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``ChartRepository.requests``."""
