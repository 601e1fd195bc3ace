"""What every provider test needs: Airflow pointed at a throw-away home, connections as env.

The hooks read connections from ``AIRFLOW_CONN_*`` variables, which needs no metadata
database, only an ``AIRFLOW_HOME`` that is not the user's. The Airflow tests' conftest sets
one up first when both directories run together.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from typing import Protocol

import pytest

if "AIRFLOW_HOME" not in os.environ:
    _HOME = tempfile.mkdtemp(prefix="regrep-providers-home-")
    atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
    os.environ["AIRFLOW_HOME"] = _HOME


class Connect(Protocol):
    def __call__(
        self,
        conn_id: str,
        conn_type: str,
        host: str,
        *,
        login: str | None = None,
        password: str | None = None,
        **extra: object,
    ) -> None: ...


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch) -> Connect:
    """Define connection ``conn_id`` (JSON in ``AIRFLOW_CONN_<ID>``) for this test."""

    def define(
        conn_id: str,
        conn_type: str,
        host: str,
        *,
        login: str | None = None,
        password: str | None = None,
        **extra: object,
    ) -> None:
        document = {
            "conn_type": conn_type,
            "host": host,
            "login": login,
            "password": password,
            "extra": extra,
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(document))

    return define
