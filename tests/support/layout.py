"""Airflow's layout of this repository, which every test that runs Airflow uses by default.

As in Airflow's own docker-compose and most Airflow projects, the repository's ``dags/`` is
Airflow's dags folder and its ``plugins/`` Airflow's plugins folder; rules come from each
test's own directory (``REGREP_RULES_DIR``).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
PLUGINS_FOLDER = REPO / "plugins"
