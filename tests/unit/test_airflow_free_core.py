"""The core packages import without Airflow: the CLI validates rules, and planning and the
copy engine run, on a machine where Airflow cannot be imported.

Every module of ``oci/``, ``registry/``, ``engine/``, ``planning/`` and ``rules/`` is imported
in a fresh interpreter whose import system refuses ``airflow`` (a meta-path finder raising
``ModuleNotFoundError`` for it and its submodules), so an import of Airflow anywhere below
them, direct or through another regrep module, fails the test. A module of an Airflow-facing
package is imported the same way to show the refusal works.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.support.layout import PLUGINS_FOLDER

CORE = ("oci", "registry", "engine", "planning", "rules")

IMPORT_WITHOUT_AIRFLOW = textwrap.dedent(
    """
    import importlib
    import sys

    class RefuseAirflow:
        def find_spec(self, name, path=None, target=None):
            if name == "airflow" or name.startswith("airflow."):
                raise ModuleNotFoundError(f"No module named {name!r} (refused)", name=name)
            return None

    sys.meta_path.insert(0, RefuseAirflow())
    for module in sys.argv[1:]:
        importlib.import_module(module)
    loaded = sorted(name for name in sys.modules if name.split(".")[0] == "airflow")
    assert not loaded, f"Airflow modules loaded: {loaded}"
    print(f"imported {len(sys.argv) - 1} modules without Airflow")
    """
)


def core_modules() -> list[str]:
    """Every module of the core packages, dotted."""
    package = PLUGINS_FOLDER / "regrep"
    modules = []
    for name in CORE:
        for path in sorted((package / name).rglob("*.py")):
            parts = path.relative_to(PLUGINS_FOLDER).with_suffix("").parts
            modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def import_without_airflow(*modules: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", IMPORT_WITHOUT_AIRFLOW, *modules],
        capture_output=True,
        text=True,
        cwd=PLUGINS_FOLDER,
        timeout=120,
    )


def test_every_core_module_imports_without_airflow() -> None:
    modules = core_modules()
    assert len(modules) > 40  # the packages were found
    result = import_without_airflow(*modules)
    assert result.returncode == 0, result.stderr
    assert f"imported {len(modules)} modules without Airflow" in result.stdout


def test_the_refusal_catches_a_module_that_imports_airflow() -> None:
    result = import_without_airflow("regrep.hooks.base")
    assert result.returncode != 0
    assert "No module named 'airflow" in result.stderr and "(refused)" in result.stderr
