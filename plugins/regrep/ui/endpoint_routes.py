"""``/regrep/api/endpoints``: regrep's connections, as Harbor's *Registries* page lists them.

The connections of regrep's registry types (and, for a rule's ``notify``, those of the HTTP
provider's ``http`` type), from the metadata database and from ``AIRFLOW_CONN_*``
variables of the API server, each with what :class:`~regrep.hooks.endpoint_info.
EndpointInfo` may show: id, type and URL, never a credential or an extra field. Reading
needs Airflow's connection read permission, per connection. *Test* runs the hook's own
connection test (the Connections page's *Test*, ``regrep endpoints test``) where Airflow
allows connection tests at all (``[core] test_connection = Enabled``).
"""

from __future__ import annotations

import os
from typing import Any

from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep
from airflow.configuration import conf
from fastapi import APIRouter, HTTPException, status
from sqlalchemy.orm import Session

from regrep.hooks.endpoint_info import EndpointInfo
from regrep.ui.api_access import ConnectionsReadable, ForgeryGuard, may_read_connection

router = APIRouter(prefix="/api", tags=["endpoints"])

HTTP_CONN_TYPE = "http"
ENV_PREFIX = "AIRFLOW_CONN_"


def stored_connections(session: Session) -> dict[str, tuple[Any, str]]:
    """Every connection: ``conn_id -> (connection, where it is defined)``.

    One defined in both places is the ``AIRFLOW_CONN_*`` variable's, as in Airflow's own
    lookup, which asks the environment before the database.
    """
    from airflow.models.connection import Connection
    from airflow.secrets.environment_variables import EnvironmentVariablesBackend
    from sqlalchemy import select

    found: dict[str, tuple[Any, str]] = {
        connection.conn_id: (connection, "database")
        for connection in session.scalars(select(Connection))
    }
    backend = EnvironmentVariablesBackend()
    for name in sorted(os.environ):
        if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            conn_id = name[len(ENV_PREFIX) :].lower()
            try:
                connection = backend.get_connection(conn_id)
            except Exception:  # an unreadable variable is Airflow's to report, not ours
                continue
            if connection is not None:
                found[conn_id] = (connection, "environment")
    return found


def shown(info: EndpointInfo, source: str) -> dict[str, Any]:
    return {
        "conn_id": info.conn_id,
        "conn_type": info.conn_type,
        "type": info.type_label,
        "url": info.url,
        "description": info.description,
        "defined_in": source,
    }


@router.get("/endpoints", dependencies=[ConnectionsReadable])
def list_endpoints(user: GetUserDep, session: SessionDep) -> dict[str, Any]:
    """regrep's endpoints and the ``http`` connections a rule may ``notify``."""
    endpoints, targets = [], []
    for conn_id, (connection, source) in sorted(stored_connections(session).items()):
        info = EndpointInfo.of(connection)
        if not may_read_connection(user, conn_id):
            continue
        if info.is_registry:
            endpoints.append(shown(info, source))
        elif info.conn_type == HTTP_CONN_TYPE:
            targets.append(shown(info, source))
    return {
        "endpoints": endpoints,
        "http_connections": targets,
        "test_enabled": _tests_enabled(),
    }


@router.post("/endpoints/{connection_id}/test", dependencies=[ConnectionsReadable])
def test_endpoint(connection_id: str, user: GetUserDep, _: ForgeryGuard) -> dict[str, Any]:
    """Reach the endpoint with its credentials; say what is wrong if it cannot be reached."""
    from regrep.hooks import ConnectionConfigError, registry_hook

    if not _tests_enabled():
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "Airflow's connection tests are disabled: set [core] test_connection = Enabled "
            "(AIRFLOW__CORE__TEST_CONNECTION=Enabled)",
        )
    try:
        ok, message = registry_hook(connection_id).test_connection()
    except ConnectionConfigError as error:
        ok, message = False, str(error)
    return {"conn_id": connection_id, "ok": ok, "message": message}


def _tests_enabled() -> bool:
    """Airflow's own switch for connection tests (its Connections page obeys it too)."""
    setting = conf.get("core", "test_connection", fallback="Disabled")
    return setting.strip().lower() == "enabled"
