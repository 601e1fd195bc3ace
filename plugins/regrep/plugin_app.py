"""The one FastAPI app regrep's plugin mounts at ``/regrep`` in Airflow's API server.

- ``/regrep/webhooks/<conn id>``: registries report pushes and deletions
  (:mod:`regrep.webhooks.app`);
- ``/regrep/api/...``: the JSON API of rules, executions, previews and endpoints
  (:mod:`regrep.ui.rule_routes`, :mod:`regrep.ui.endpoint_routes`);
- ``/regrep/ui/``: the Replication page (:mod:`regrep.ui.page_routes`).

Every Airflow component loads the plugin, the scheduler and task processes too, but only
the API server serves the app; the API's routes depend on Airflow's API-server modules
(its security dependencies: 1.5 s to import), so the app is built at its first request
(:class:`LazyApp`), where those modules are loaded already.
"""

from __future__ import annotations

import threading

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send


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


class LazyApp:
    """An ASGI app that builds :func:`build_app` when the first request arrives."""

    def __init__(self) -> None:
        self._app: FastAPI | None = None
        self._lock = threading.Lock()

    @property
    def app(self) -> FastAPI:
        with self._lock:
            if self._app is None:
                self._app = build_app()
            return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


app = LazyApp()
