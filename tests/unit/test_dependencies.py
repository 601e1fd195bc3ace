"""Every module regrep imports comes from a dependency pyproject.toml declares, and every
declared dependency is imported.

Imports are read with ``ast`` from every module of ``plugins/`` and ``dags/`` (top level and
inside functions: a lazy import is an import all the same), standard-library modules and
regrep's own left out, and mapped to their distributions with
``importlib.metadata.packages_distributions()``. Airflow's namespace is shared by many
distributions, so ``airflow.providers.<name>`` counts for
``apache-airflow-providers-<name>`` and the rest of ``airflow`` for ``apache-airflow`` (which
brings the core and the Task SDK).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from tests.support.layout import DAGS_FOLDER, PLUGINS_FOLDER, REPO


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {
        canonical(re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0]) for spec in project["dependencies"]
    }


def imported_modules() -> dict[str, set[Path]]:
    """Each imported module that is neither standard library nor regrep, and where."""
    found: dict[str, set[Path]] = {}
    for folder in (PLUGINS_FOLDER, DAGS_FOLDER):
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top != "regrep":
                        found.setdefault(name, set()).add(path.relative_to(REPO))
    return found


def distributions_of(module: str) -> set[str]:
    parts = module.split(".")
    if parts[0] == "airflow":
        if parts[1:2] == ["providers"] and len(parts) > 2:
            return {f"apache-airflow-providers-{parts[2].replace('_', '-')}"}
        return {"apache-airflow"}
    return {canonical(name) for name in packages_distributions().get(parts[0], [])}


def test_every_imported_module_is_a_declared_dependency() -> None:
    dependencies = declared()
    undeclared = {
        module: sorted(map(str, paths))
        for module, paths in imported_modules().items()
        if not distributions_of(module) & dependencies
    }
    assert undeclared == {}


def test_every_declared_dependency_is_imported() -> None:
    used = set().union(*(distributions_of(module) for module in imported_modules()))
    assert declared() - used == set()
