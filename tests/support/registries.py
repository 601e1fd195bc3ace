"""Real registries for tests, the benchmark and the demo: Debian's ``docker-registry``.

``start_registry`` writes a distribution 2.8 config (filesystem storage under the work
directory, deletes enabled), starts ``docker-registry serve`` on a free loopback port with its
log in the work directory, and returns once ``GET /v2/`` answers. Plain HTTP, TLS with a
generated CA, htpasswd (bcrypt) and token auth (with ``TokenIssuer``) are all one call away.
"""

from __future__ import annotations

import atexit
import re
import secrets
import subprocess
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import requests

from tests.support.bearer import BearerAuth
from tests.support.certs import write_server_tls
from tests.support.launch import launch, plain_session
from tests.support.token_issuer import AccessPolicy, TokenIssuer

# gorilla's combined log format, written by distribution for every request:
# 127.0.0.1 - - [02/Jan/2006:15:04:05 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "python-requests/2.32"
_ACCESS_LINE = re.compile(r'\] "([A-Z]+) (\S+) HTTP/[0-9.]+" (\d{3}) ')
_LOG_MARKER = "regrep-log-marker"
_running: set[RunningRegistry] = set()


class AccessLogEntry(NamedTuple):
    method: str
    path: str
    status: int


@dataclass(eq=False)  # identity semantics: instances live in the ``_running`` set
class RunningRegistry:
    """A started registry. ``username``/``password`` are its first user's, if it has users."""

    url: str
    host: str
    username: str | None
    password: str | None
    ca_cert: Path | None
    log_path: Path
    data_dir: Path
    process: subprocess.Popen[bytes]
    issuer: TokenIssuer | None = None

    @property
    def verify(self) -> str | bool:
        """The ``requests`` ``verify`` value that trusts this registry."""
        return str(self.ca_cert) if self.ca_cert else True

    def session(self) -> requests.Session:
        """A new session with full rights (basic auth, or admin tokens for token auth)."""
        session = plain_session(self.verify)
        if self.issuer is not None:
            session.auth = BearerAuth(self.issuer.admin_username, self.issuer.admin_password)
        elif self.username is not None and self.password is not None:
            session.auth = (self.username, self.password)
        return session

    def access_log(self) -> list[AccessLogEntry]:
        """Every HTTP request the registry has answered, in order, from its access log.

        distribution writes an access line just after sending the response, so a caller that
        has just received one could read the log too early. This sends a marker request and
        waits until that is logged; everything answered before the call is then in the file.
        """
        marker = f"/v2/?{_LOG_MARKER}={uuid.uuid4().hex}"
        with plain_session(self.verify) as session:
            session.get(self.url + marker, timeout=10).close()
        deadline = time.monotonic() + 5
        while True:
            entries = [
                AccessLogEntry(m.group(1), m.group(2), int(m.group(3)))
                for m in _ACCESS_LINE.finditer(self.log_path.read_text(errors="replace"))
            ]
            if any(entry.path == marker for entry in entries) or time.monotonic() > deadline:
                return [entry for entry in entries if _LOG_MARKER not in entry.path]
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop the registry (and its token issuer); safe to call twice."""
        _running.discard(self)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.issuer is not None:
            self.issuer.stop()

    def __enter__(self) -> RunningRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RegistryPair(NamedTuple):
    """Two independent registries: the ``registry_pair`` fixture."""

    source: RunningRegistry
    destination: RunningRegistry


@dataclass(frozen=True)
class TokenRegistry:
    """A token-auth registry with its issuer at hand: the ``token_registry`` fixture."""

    registry: RunningRegistry
    issuer: TokenIssuer


def start_registry(
    workdir: Path,
    *,
    auth: Literal["none", "htpasswd", "token"] = "none",
    tls: bool = False,
    users: Mapping[str, str] | None = None,
    access: AccessPolicy | None = None,
    name: str = "registry",
    extra_config: Mapping[str, Any] | None = None,
    detach: bool = False,
) -> RunningRegistry:
    """Start a registry whose files live in ``workdir / name``.

    With ``auth`` other than "none" and no ``users``, one user ``regrep`` with a random
    password is created. ``access`` is the token issuer's policy (see ``TokenIssuer``).
    ``extra_config`` is merged into the generated config. ``detach`` leaves the registry
    running after this process exits (the demo's case); otherwise it is stopped at exit at
    the latest.
    """
    if detach and auth == "token":
        raise ValueError("a detached registry cannot use token auth: its issuer lives here")
    root = (workdir / name).resolve()
    root.mkdir(parents=True, exist_ok=True)
    accounts = dict(users or {})
    if auth != "none" and not accounts:
        accounts = {"regrep": secrets.token_urlsafe(12)}
    username, password = next(iter(accounts.items())) if accounts else (None, None)
    config = _base_config(root, name)
    ca_cert = None
    if tls:
        files = write_server_tls(root / "tls")
        config["http"]["tls"] = {"certificate": str(files.cert), "key": str(files.key)}
        ca_cert = files.ca_cert
    issuer = None
    if auth == "htpasswd":
        config["auth"] = {"htpasswd": {"realm": name, "path": str(_write_htpasswd(root, accounts))}}
    elif auth == "token":
        issuer = TokenIssuer(root / "token", users=accounts, access=access)
        config["auth"] = {"token": issuer.registry_config()}
    _merge(config, extra_config or {})
    try:
        url, process = launch(root, config, tls=tls, ca_cert=ca_cert, detach=detach)
    except BaseException:
        if issuer is not None:
            issuer.stop()
        raise
    registry = RunningRegistry(
        url=url,
        host=url.split("://", 1)[1],
        username=username,
        password=password,
        ca_cert=ca_cert,
        log_path=root / "registry.log",
        data_dir=root / "data",
        process=process,
        issuer=issuer,
    )
    if not detach:
        _running.add(registry)
    return registry


def _base_config(root: Path, name: str) -> dict[str, Any]:
    return {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text", "fields": {"service": name}},
        "storage": {
            "filesystem": {"rootdirectory": str(root / "data")},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"secret": secrets.token_hex(16)},
    }


def _write_htpasswd(root: Path, users: Mapping[str, str]) -> Path:
    """distribution only accepts bcrypt entries: ``htpasswd -B``."""
    lines = [
        subprocess.run(
            ["htpasswd", "-Bbn", user, password], check=True, capture_output=True, text=True
        ).stdout.strip()
        for user, password in users.items()
    ]
    path = root / "htpasswd"
    path.write_text("\n".join(lines) + "\n")
    return path


def _merge(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


@atexit.register
def _stop_leftovers() -> None:
    """Never leave a registry behind when a script or test run ends without stopping it."""
    for registry in list(_running):
        registry.stop()
