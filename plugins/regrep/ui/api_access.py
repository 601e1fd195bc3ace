"""Who may use regrep's API, checked by Airflow itself, and the guard against forged requests.

Airflow mounts plugin apps without authentication, so every route of ``/regrep/api``
depends on Airflow's own dependencies (:mod:`airflow.api_fastapi.core_api.security`): the
user comes from ``Authorization: Bearer <token>`` (``POST /auth/token``) or the UI's
``_token`` session cookie, and the auth manager decides, as for Airflow's own routes:
401 without a valid token, 403 without the permission. A rule's permissions are those of
its DAG ``replicate_<name>``, with the same method and DAG entity as Airflow's route that
does the same to a DAG (reading runs, triggering, pausing, deleting).

Forgery: a browser sends the session cookie with any request to the server, including one
a page of another site makes it send. A state-changing request (POST, PUT, PATCH, DELETE)
authenticated by the cookie must therefore carry the header :data:`CSRF_HEADER` (a page
on another origin cannot add a custom header without the server's CORS consent) and
an ``Origin`` (else ``Referer``) of this very server; both missing or foreign: 403.
Requests with a bearer token are not affected: the token is not ambient, the client
holds it and chose to send it.

Actions on Airflow's objects (trigger, pause, stop, delete a DAG) go through Airflow's REST
API as the same user (:func:`airflow_as_user`), so Airflow checks, records in its audit
log and does them exactly as for any other client, and ``regrep``'s own stop and delete
(:mod:`regrep.executions.remote`, :mod:`regrep.executions.rule_removal`) serve the page unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import (
    ConnectionDetails,
    DagAccessEntity,
    DagDetails,
)
from airflow.api_fastapi.core_api.security import (
    GetUserDep,
    requires_access_connection,
    requires_access_dag,
)
from airflow.configuration import conf
from fastapi import Depends, HTTPException, Request, status

from regrep.airflow_api import URL_ENV, AirflowApi
from regrep.executions.record import DAG_ID_PREFIX

CSRF_HEADER = "X-Regrep-Request"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
COOKIE_NAME = "_token"  # Airflow's session cookie (base_auth_manager.COOKIE_NAME_JWT_TOKEN)

DagsReadable = Depends(requires_access_dag("GET"))
"""Airflow's check that the user may read DAGs (``GET /api/v2/dags``'s)."""
ConnectionsReadable = Depends(requires_access_connection("GET"))
"""Airflow's check that the user may read connections (the Connections page's)."""


def rule_access(method: str, entity: DagAccessEntity | None = None) -> Callable[..., BaseUser]:
    """A dependency checking ``method`` (on ``entity``) of the DAG of the rule ``{name}``."""

    def check(name: str, request: Request, user: GetUserDep) -> BaseUser:
        require_dag(method, DAG_ID_PREFIX + name, request, user, entity)
        return user

    return check


def require_dag(
    method: str,
    dag_id: str | None,
    request: Request,
    user: BaseUser,
    entity: DagAccessEntity | None = None,
) -> None:
    """Airflow's check of ``method`` on the DAG ``dag_id`` (any DAG: None); 403 if refused."""
    requires_access_dag(method, entity, param_dag_id=dag_id)(request, user)  # type: ignore[arg-type]


def may_read_dag(user: BaseUser, dag_id: str) -> bool:
    """Whether ``user`` may read the DAG ``dag_id`` (which need not exist yet)."""
    details = DagDetails(id=dag_id)
    return bool(get_auth_manager().is_authorized_dag(method="GET", details=details, user=user))


def may_read_connection(user: BaseUser, conn_id: str) -> bool:
    """Whether ``user`` may read the connection ``conn_id``."""
    details = ConnectionDetails(conn_id=conn_id)
    return bool(
        get_auth_manager().is_authorized_connection(method="GET", details=details, user=user)
    )


def refuse_forgery(request: Request) -> None:
    """403 for a cookie-authenticated change without the page's header from this origin."""
    if request.method not in UNSAFE_METHODS:
        return
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return
    if request.headers.get(CSRF_HEADER) is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"a change made with the session cookie needs the {CSRF_HEADER} header "
            "(API clients send Authorization: Bearer instead)",
        )
    origin = request.headers.get("origin") or _origin(request.headers.get("referer", ""))
    if origin is None or origin not in own_origins(request):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "a change made with the session cookie must come from this server's pages, "
            f"not from {origin or 'a page that does not say where it is'}",
        )


def own_origins(request: Request) -> set[str]:
    """This server's origins: as the request reached it, and ``[api] base_url``'s."""
    found = {f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"}
    configured = _origin(conf.get("api", "base_url", fallback="") or "")
    return found | {configured} if configured else found


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def user_token(request: Request) -> str:
    """The caller's Airflow token: the bearer token sent, else the session cookie's."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[len("bearer ") :].strip()
    return request.cookies.get(COOKIE_NAME, "")


def api_base_url() -> str:
    """Where this API server's REST API is reached from the server itself.

    ``$REGREP_API_URL`` when set; else the address Airflow's workers reach the API server
    at (``[core] execution_api_server_url`` without its ``execution/``), which Airflow
    derives from ``[api] base_url`` and which every deployment already makes reachable.
    """
    configured = os.environ.get(URL_ENV)
    if configured:
        return configured
    from airflow.executors.base_executor import get_execution_api_server_url

    return get_execution_api_server_url().rstrip("/").removesuffix("/execution")


def airflow_as_user(request: Request) -> AirflowApi:
    """A REST API client acting as the caller (with the caller's own token)."""
    return AirflowApi(api_base_url(), token=user_token(request))


ForgeryGuard = Annotated[None, Depends(refuse_forgery)]
