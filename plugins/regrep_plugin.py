"""regrep's Airflow plugin for a plugins folder that holds regrep's code without an install.

Airflow loads the plugins of its plugins folder first, then those of installed distributions'
``airflow.plugins`` entry points, and refuses a second plugin of the same name with an import
error. An installed regrep registers :class:`regrep.plugin.RegrepPlugin` through its entry
point, so this file defines no plugin then (the repository's ``plugins/`` as Airflow's plugins
folder, the docker-compose image). A plugins folder holding a copy of ``regrep/`` that is not
installed gets the plugin from here, the ``regrep`` package being importable because Airflow
puts its plugins folder on ``sys.path``. Either way each Airflow process loads it once.

This is the only module of ``plugins/`` that Airflow's loader imports (``regrep/.airflowignore``
hides the package's own modules), under the top-level name ``regrep_plugin``.
"""

from __future__ import annotations

from importlib.metadata import entry_points

ENTRY_POINT = "regrep.plugin:RegrepPlugin"

if not any(point.value == ENTRY_POINT for point in entry_points(group="airflow.plugins")):
    from regrep.plugin import RegrepPlugin

    __all__ = ["RegrepPlugin"]
