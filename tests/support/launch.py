"""Start one ``docker-registry`` process on a free loopback port and wait until it serves.

The free port comes from binding port 0 and closing the socket, so another process can take
it before the registry binds: the start is retried on "address already in use". The start-up
check also matches an instance header the config makes the registry send, so a server that
grabbed the port in the meantime is never mistaken for ours.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import yaml

REGISTRY_BINARY = "/usr/bin/docker-registry"
START_TIMEOUT = 10.0
_PORT_ATTEMPTS = 3
_INSTANCE_HEADER = "X-Regrep-Instance"


class RegistryStartError(RuntimeError):
    """The registry did not come up; the message carries the end of its log."""


def missing_tools() -> list[str]:
    """The external programs the test support needs that are not installed."""
    return [tool for tool in (REGISTRY_BINARY, "htpasswd") if shutil.which(tool) is None]


def launch(
    root: Path, config: dict[str, Any], *, tls: bool, ca_cert: Path | None, detach: bool
) -> tuple[str, subprocess.Popen[bytes]]:
    """Write ``root/config.yml`` (adding the listen address) and start the registry.

    Returns its base URL and process; the log goes to ``root/registry.log``. ``detach`` puts
    the process in its own session so it outlives the caller's terminal.
    """
    missing = missing_tools()
    if missing:
        raise RegistryStartError(f"not installed: {', '.join(missing)}; run `make test`")
    instance = uuid.uuid4().hex
    config.setdefault("http", {}).setdefault("headers", {})[_INSTANCE_HEADER] = [instance]
    config_path = root / "config.yml"
    log_path = root / "registry.log"
    for _ in range(_PORT_ATTEMPTS):
        log_start = log_path.stat().st_size if log_path.exists() else 0
        port = _free_port()
        config["http"]["addr"] = f"127.0.0.1:{port}"
        url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=detach,
            )
        if _wait_until_up(url, instance, process, ca_cert):
            return url, process
        if process.poll() is None:
            process.kill()
        process.wait()
        with log_path.open("rb") as log:
            log.seek(log_start)
            if b"address already in use" not in log.read():
                break
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
    raise RegistryStartError(
        f"docker-registry did not answer on {url}/v2/ within {START_TIMEOUT:.0f}s "
        f"(exit code {process.returncode}); config {config_path}, log {log_path}:\n{tail}"
    )


def relaunch(root: Path, *, ca_cert: Path | None) -> subprocess.Popen[bytes]:
    """Start the registry of ``root`` again with the config ``launch`` wrote: same port,
    same storage. For crash tests: the port is free once the old process is dead."""
    config = yaml.safe_load((root / "config.yml").read_text())
    url = f"{'https' if 'tls' in config['http'] else 'http'}://{config['http']['addr']}"
    with (root / "registry.log").open("ab") as log:
        process = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(root / "config.yml")],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    if not _wait_until_up(url, config["http"]["headers"][_INSTANCE_HEADER][0], process, ca_cert):
        process.kill()
        process.wait()
        raise RegistryStartError(f"docker-registry did not come back on {url}; log in {root}")
    return process


def plain_session(verify: str | bool) -> requests.Session:
    """A session that ignores the environment: loopback needs no proxy, and otherwise
    REQUESTS_CA_BUNDLE (set on many machines) silently overrides ``session.verify``."""
    session = requests.Session()
    session.trust_env = False
    session.verify = verify
    return session


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(
    url: str, instance: str, process: subprocess.Popen[bytes], ca_cert: Path | None
) -> bool:
    """Poll ``/v2/`` until this very process answers (200, or 401 when auth is on)."""
    deadline = time.monotonic() + START_TIMEOUT
    with plain_session(str(ca_cert) if ca_cert else True) as session:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = session.get(f"{url}/v2/", timeout=1)
            except requests.ConnectionError:
                time.sleep(0.05)
                continue
            if (
                answer.status_code in (200, 401)
                and answer.headers.get(_INSTANCE_HEADER) == instance
            ):
                return True
            time.sleep(0.05)
    return False
