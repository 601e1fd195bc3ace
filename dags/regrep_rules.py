"""Airflow DAG file: one replication DAG per rule file in ``rules/`` (or $REGREP_RULES_DIR)."""

from __future__ import annotations

from pathlib import Path

from regrep.dag_factory import build_dags

globals().update(build_dags(default_rules_dir=Path(__file__).parent / "rules"))
