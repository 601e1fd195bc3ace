"""Airflow's layout: the repository's ``dags/`` and ``plugins/`` as Airflow's dags and plugins
folders, with regrep installed (editable here, as ``make env`` installs it).

Airflow's plugin loader imports every ``.py`` file of its plugins folder that no
``.airflowignore`` hides as a top-level module named after the file; the core's loader reads
``.airflowignore`` in ``[core] dag_ignore_file_syntax`` (glob by default, or regexp), the Task
SDK's always as glob. Here the loader must see only ``regrep_plugin.py``, which defines no
plugin while regrep is installed, so the plugin comes once, from regrep's entry point, and a
replication leaves every module of the standard library and of Airflow its own.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

import regrep
from tests.integration.airflow.dagruns import Connect, WriteRule, run_dag
from tests.support.images import manifest_digest, push_image
from tests.support.layout import PLUGINS_FOLDER
from tests.support.registries import RegistryPair

pytestmark = [pytest.mark.airflow, pytest.mark.smoke]

PLUGIN_MODULE = "regrep_plugin"


@pytest.mark.parametrize(
    ("loader", "syntax"),
    [("airflow", "glob"), ("airflow", "regexp"), ("airflow.sdk", "glob")],
)
def test_the_plugin_loader_sees_only_the_plugin_module(loader: str, syntax: str) -> None:
    """The file discovery of the core's and of the Task SDK's plugin loader."""
    discovery = importlib.import_module(f"{loader}._shared.module_loading")
    found = discovery.find_path_from_directory(PLUGINS_FOLDER, ".airflowignore", syntax)
    modules = [Path(path).relative_to(PLUGINS_FOLDER) for path in found if path.endswith(".py")]
    assert modules == [Path(f"{PLUGIN_MODULE}.py")]


def test_airflow_loads_the_plugin_once_from_regreps_entry_point() -> None:
    from airflow import plugins_manager

    plugins = [info for info in plugins_manager.get_plugin_info() if info["name"] == "regrep"]
    assert len(plugins) == 1, plugins
    assert str(plugins[0]["source"]).startswith(f"regrep=={regrep.__version__}: EntryPoint(")
    assert plugins_manager.get_import_errors() == {}
    assert PLUGIN_MODULE in sys.modules  # the loader did read the plugins folder


def test_a_replication_leaves_every_module_its_own(
    registry_pair: RegistryPair, connect: Connect, write_rule: WriteRule
) -> None:
    source, destination = registry_pair
    connect("src", source)
    connect("dst", destination)
    image = push_image(source, "library/app", "1.0")
    write_rule("layout", source="src", destination="dst", retries=0)

    run = run_dag("replicate_layout")

    assert run.state == "success", run.tasks
    assert manifest_digest(destination, "library/app", "1.0") == image.digest
    assert modules_from_the_plugins_folder() == {}
    assert not Path(sys.modules["copy"].__file__ or "").is_relative_to(PLUGINS_FOLDER)


def modules_from_the_plugins_folder() -> dict[str, str]:
    """Loaded modules whose file is in ``plugins/`` under a name not regrep's own."""
    found = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        own = name in (PLUGIN_MODULE, "regrep") or name.startswith("regrep.")
        if file and Path(file).is_relative_to(PLUGINS_FOLDER) and not own:
            found[name] = file
    return found
