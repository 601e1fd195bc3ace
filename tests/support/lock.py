"""What ``uv.lock`` pins: the versions the development environment (``make env``) installs."""

from __future__ import annotations

import tomllib

from tests.support.layout import REPO


def locked_version(package: str) -> str:
    """The version of ``package`` that ``uv.lock`` pins."""
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    (version,) = [entry["version"] for entry in lock["package"] if entry["name"] == package]
    return str(version)
