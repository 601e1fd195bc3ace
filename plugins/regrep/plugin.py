"""regrep's Airflow plugin: its app and Replication page, and the execution listener.

Registered through the ``airflow.plugins`` entry point, so every Airflow component of an
installation with regrep loads it: the API server mounts regrep's app at ``/regrep``
(:mod:`regrep.plugin_app`: the webhooks, the JSON API and the page), the UI shows the page
as *Replication* in its navigation (an external view: Airflow's layout around the page),
and the scheduler and API server call the listener that writes each ended execution's
record into its run's note and notifies the rule's endpoints
(:mod:`regrep.executions.listener`).
"""

from __future__ import annotations

from importlib import import_module
from urllib.parse import urlsplit

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin

from regrep.executions import listener
from regrep.plugin_app import app

URL_PREFIX = "/regrep"
# Airflow serves everything under the path of [api] base_url, when it has one.
ROOT_PATH = urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
PAGE = f"{ROOT_PATH}{URL_PREFIX}/ui/"
REPLICATION_VIEW = {
    "name": "Replication",
    "href": PAGE,
    "url_route": "replication",  # the page's address in the UI: /plugin/replication
    "destination": "nav",
    "nav_top_level": True,
    "icon": f"{PAGE}static/replication.svg",
    "icon_dark_mode": f"{PAGE}static/replication-dark.svg",
}

PRELOADED = (
    # What the DAG file and a copy task import.
    "regrep.dag_factory",
    "regrep.tasks.copy_task",
    # Airflow's task side, which the scheduler never imports itself: a LocalExecutor worker
    # imports the supervisor when it runs its first task, a task process the rest.
    "airflow.sdk.execution_time.supervisor",
    "airflow.sdk.execution_time.task_runner",
    "airflow.sdk.execution_time.cache",
    "airflow.sdk.definitions.connection",
    "airflow.sdk.definitions.asset.metadata",
    "airflow.sdk._shared.logging.factory",
    "jinja2.ext",
)
"""Modules imported with the plugin, so that processes forked afterwards have them.

Task processes fork from Airflow processes that have loaded this plugin (the scheduler loads
it before its LocalExecutor forks the workers), so a module imported here is imported once
per scheduler instead of in every worker and task (docs/performance.md, "Per-task
overhead", has the figures). The other components pay the import once, when they start.
"""


def _preload(module: str) -> None:
    """Import ``module``, unless it is one of Airflow's private modules this release lacks
    (``airflow.sdk._shared.logging.factory`` is new in 3.3): preloading only saves time."""
    try:
        import_module(module)
    except ModuleNotFoundError as missing:
        parts = module.split(".")
        module_or_parent = {".".join(parts[:end]) for end in range(1, len(parts) + 1)}
        if parts[0] == "regrep" or missing.name not in module_or_parent:
            raise


for _module in PRELOADED:
    _preload(_module)


class RegrepPlugin(AirflowPlugin):
    """Mounts regrep's app, adds the Replication page, registers the execution listener."""

    # Airflow reads these class attributes of the plugin class (its documented interface).
    name = "regrep"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "regrep"}]  # noqa: RUF012
    external_views = [REPLICATION_VIEW]  # noqa: RUF012
    listeners = [listener]  # noqa: RUF012
