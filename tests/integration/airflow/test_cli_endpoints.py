"""``regrep endpoints test``: the connection test of the UI's Test button, from a shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.airflow.dagruns import connection_json
from tests.support.registries import RunningRegistry

pytestmark = pytest.mark.airflow

REGREP = Path(sys.executable).with_name("regrep")


def endpoints_test(conn_id: str, **connections: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **{f"AIRFLOW_CONN_{k.upper()}": v for k, v in connections.items()}}
    return subprocess.run(
        [str(REGREP), "endpoints", "test", conn_id],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_a_working_connection_passes(htpasswd_registry: RunningRegistry) -> None:
    result = endpoints_test(
        "mirror", mirror=connection_json(htpasswd_registry, login=None, password=None)
    )
    assert (result.returncode, result.stdout) == (
        0,
        f"OK mirror: Connected to {htpasswd_registry.url} as 'alice'\n",
    )


def test_refused_credentials_and_unknown_connections_fail(
    htpasswd_registry: RunningRegistry,
) -> None:
    refused = endpoints_test(
        "mirror", mirror=connection_json(htpasswd_registry, login="alice", password="wrong")
    )
    unknown = endpoints_test("nowhere")

    assert refused.returncode == 1
    assert refused.stderr.startswith("FAILED mirror: ")
    assert "wrong" not in refused.stderr
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("FAILED nowhere: connection 'nowhere' is not defined")
