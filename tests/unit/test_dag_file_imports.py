"""Parsing the DAG file stays cheap: Airflow re-parses it at every task start, and building
DAGs needs the rule models, never the registry client (``requests``, the copy engine).

The task bodies import their modules when they run (``regrep.tasks.*``); a package
``__init__`` that re-exported them would pull them into every parse, which this test catches.
"""

from __future__ import annotations

import subprocess
import sys

from tests.support.layout import PLUGINS_FOLDER

CHECK = """
import sys
import regrep.dag_factory
heavy = sorted(
    name for name in sys.modules
    if name in ("requests", "urllib3")
    or name.startswith(("regrep.registry.", "regrep.engine.blob", "regrep.planning.planner"))
)
print(heavy)
"""


def test_the_dag_factory_loads_no_registry_client() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK],
        capture_output=True,
        text=True,
        cwd=PLUGINS_FOLDER,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
