"""The one FastAPI app regrep's plugin mounts at ``/regrep`` in Airflow's API server.

- ``/regrep/webhooks/<conn id>``: registries report pushes and deletions
  (:mod:`regrep.webhooks.app`);
- ``/regrep/api/...``: the JSON API of rules, executions, previews and endpoints
  (:mod:`regrep.ui.rule_routes`, :mod:`regrep.ui.endpoint_routes`);
- ``/regrep/ui/``: the Replication page (:mod:`regrep.ui.page_routes`).

Every Airflow component loads the plugin, the scheduler and task processes too, but only
the API server serves the app; the API's routes depend on Airflow's API-server modules
(its security dependencies: 1.5 s to import), so the app is built at its first request
(:class:`LazyApp`), where those modules are loaded already. Its lifespan, which the API
server runs before it serves anything, warms Airflow's execution API up
(:func:`warm_execution_api`).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

EXECUTION_API = "/execution"
"""Where Airflow's API server mounts the execution API, which task processes call."""


def build_app() -> FastAPI:
    """The app with every router; imports the API server's modules."""
    from regrep.ui import endpoint_routes, page_routes, rule_routes
    from regrep.webhooks.app import router as webhooks

    app = FastAPI(
        title="regrep",
        description=(
            "Harbor-style replication on Airflow: registry webhooks, the rules API and the "
            "Replication page. The API authenticates with Airflow's token or UI session."
        ),
    )
    app.include_router(webhooks)
    app.include_router(rule_routes.router)
    app.include_router(endpoint_routes.router)
    app.include_router(page_routes.router)
    app.mount(f"{page_routes.ROUTE}/static", page_routes.static_files(), name="static")
    return app


@asynccontextmanager
async def warm_execution_api(_app: FastAPI) -> AsyncIterator[None]:
    """Have Airflow's execution API build its routes now, as the API server starts.

    The execution API (a Cadwyn app) generates its versioned routes at its first request:
    about 2.6 s of CPU here, which the first task of a fresh deployment waited for in its
    ``PATCH .../run`` (docs/performance.md, "A fresh deployment's first run"). Airflow's API
    server enters the lifespan of each FastAPI app mounted in it (the execution API's first)
    before it serves a request, so one in-process ``GET /health`` here pays that cost before
    any task can. A failure is logged and changes nothing else.
    """
    execution = _execution_api()
    if execution is not None:
        try:
            await _get(execution, "/health")
        except Exception:
            log.warning("could not warm Airflow's execution API up", exc_info=True)
    yield


def _execution_api() -> ASGIApp | None:
    """The execution API of the API server this process runs, if it runs one."""
    server = getattr(sys.modules.get("airflow.api_fastapi.main"), "app", None)
    for route in getattr(server, "routes", ()):
        if isinstance(route, Mount) and route.path == EXECUTION_API:
            return route.app
    return None


async def _get(app: ASGIApp, path: str) -> None:
    """One ``GET path`` of ``app`` in this process, its answer dropped."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 0),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Message) -> None:
        return None

    await app(scope, receive, send)


class LazyApp(FastAPI):
    """The app Airflow mounts: :func:`build_app`'s, built when the first request arrives; its
    own lifespan is :func:`warm_execution_api` (Airflow runs the lifespans of mounted FastAPI
    apps only)."""

    def __init__(self) -> None:
        super().__init__(lifespan=warm_execution_api)
        self._built: FastAPI | None = None
        self._lock = threading.Lock()

    def built(self) -> FastAPI:
        with self._lock:
            if self._built is None:
                self._built = build_app()
            return self._built

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await super().__call__(scope, receive, send)
        else:
            await self.built()(scope, receive, send)


app = LazyApp()
