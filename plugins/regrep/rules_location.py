"""Where Airflow's own processes find the rules folder.

The DAG file reads ``$REGREP_RULES_DIR``, else the ``rules`` folder beside it (the shipped
``dags/regrep_rules.py`` sits at the top of the DAGs folder). The API server (the
Replication page writes rule files) and the scheduler (notifications read a rule's
``notify``) have no DAG file to stand beside, so they read ``$REGREP_RULES_DIR``, else
``<[core] dags_folder>/rules``: the same folder whenever the DAG file is where regrep ships
it. A deployment that moves either sets ``REGREP_RULES_DIR`` on every component.
"""

from __future__ import annotations

from pathlib import Path

from regrep.rules import rules_dir


def airflow_rules_dir() -> Path:
    """``$REGREP_RULES_DIR``, else the ``rules`` folder of Airflow's DAGs folder."""
    from airflow.configuration import conf

    return rules_dir(Path(conf.get("core", "dags_folder")) / "rules")
