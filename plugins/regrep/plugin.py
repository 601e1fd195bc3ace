"""regrep's Airflow plugin: the webhook receiver and the execution-record listener.

Registered through the ``airflow.plugins`` entry point, so every Airflow component of an
installation with regrep loads it: the API server mounts the webhook app at ``/regrep``
(``/regrep/webhooks/<source connection id>``, see :mod:`regrep.webhooks.app`), and the
scheduler and API server call the listener that writes each ended execution's record into
its run's note (:mod:`regrep.executions.listener`).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

# Task processes fork from Airflow processes that have loaded this plugin (the
# LocalExecutor's from the scheduler): what the DAG file and a copy task import, imported
# here once, spares every task process those imports (about 0.2 s of CPU each).
import regrep.dag_factory
import regrep.operators.copy  # noqa: F401
from regrep.executions import listener
from regrep.webhooks.app import app

URL_PREFIX = "/regrep"


class RegrepPlugin(AirflowPlugin):
    """Mounts the webhook receiver and registers the execution listener."""

    # Airflow reads these class attributes of the plugin class (its documented interface).
    name = "regrep"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "regrep webhooks"}]  # noqa: RUF012
    listeners = [listener]  # noqa: RUF012
