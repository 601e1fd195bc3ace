"""No module of ``plugins/`` is named like a module it could replace in Airflow's processes.

When the repository's ``plugins/`` is Airflow's plugins folder, Airflow's plugin loader
imports each ``.py`` file it does not ignore as a top-level module named after the file
(``sys.modules[stem] = module``): an ``operators/copy.py`` there replaced the standard
library's ``copy`` in every Airflow process. ``plugins/regrep/.airflowignore`` hides the
package's modules from the loader; these names are the second guard, for a plugins folder
that holds regrep's code without that file.
"""

from __future__ import annotations

import importlib.metadata
import sys
from collections import defaultdict
from collections.abc import Container
from pathlib import Path

from tests.support.layout import PLUGINS_FOLDER


def module_files() -> list[Path]:
    """Every Python module below ``plugins/`` except package ``__init__`` files."""
    files = sorted(path for path in PLUGINS_FOLDER.rglob("*.py") if path.stem != "__init__")
    assert len(files) > 50, f"plugins/ lost its modules? {files}"
    return files


def named_like(names: Container[str]) -> list[str]:
    """The modules (paths below ``plugins/``) whose name is one of ``names``."""
    return [str(path.relative_to(PLUGINS_FOLDER)) for path in module_files() if path.stem in names]


def test_no_module_is_named_like_a_standard_library_module() -> None:
    assert named_like(sys.stdlib_module_names | set(sys.builtin_module_names)) == []


def test_no_module_is_named_like_a_module_of_airflow_or_any_installed_distribution() -> None:
    top_level = importlib.metadata.packages_distributions()
    assert "airflow" in top_level  # the environment Airflow runs in
    clashes = {path: top_level[Path(path).stem] for path in named_like(top_level)}
    assert clashes == {}


def test_no_two_modules_share_a_name() -> None:
    by_stem: defaultdict[str, list[str]] = defaultdict(list)
    for path in module_files():
        by_stem[path.stem].append(str(path.relative_to(PLUGINS_FOLDER)))
    assert {stem: paths for stem, paths in by_stem.items() if len(paths) > 1} == {}
