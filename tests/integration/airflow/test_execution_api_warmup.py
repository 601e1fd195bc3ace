"""Airflow's API server, started in process, has its execution API ready before any task asks.

Airflow's execution API builds its versioned routes at its first request (2.6 s of CPU
here), which a fresh deployment's first task used to wait for. regrep's app, mounted in the
API server, warms it up in its lifespan (:func:`regrep.plugin_app.warm_execution_api`).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

pytestmark = [pytest.mark.airflow]


def test_the_api_servers_start_builds_the_execution_apis_routes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "a-secret-for-this-test-only")
    monkeypatch.delitem(sys.modules, "airflow.api_fastapi.main", raising=False)
    main = importlib.import_module("airflow.api_fastapi.main")  # as `airflow api-server` does
    (execution,) = [
        r.app for r in main.app.routes if isinstance(r, Mount) and r.path == "/execution"
    ]
    assert any(isinstance(r, Mount) and r.path == "/regrep" for r in main.app.routes)
    assert not initialized(execution)

    with TestClient(main.app) as client:  # runs the server's lifespan, as uvicorn does
        assert initialized(execution)
        assert client.get("/execution/health").json() == {"status": "healthy"}


def initialized(execution: Any) -> bool:
    """Whether Cadwyn (the execution API's framework) has generated its routes."""
    return bool(execution._cadwyn_initialized)
