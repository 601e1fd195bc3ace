"""The Replication page and its JSON API: Harbor's replication screens inside Airflow's UI.

:mod:`~regrep.ui.rule_routes` and :mod:`~regrep.ui.endpoint_routes` are the API
(``/regrep/api``), checked by Airflow's own authentication and permissions
(:mod:`~regrep.ui.api_access`); :mod:`~regrep.ui.page_routes` serves the page
(``/regrep/ui/``, plain HTML, CSS and JavaScript modules in ``static/``). The rest reads and
shapes what they show: the rules folder (:mod:`~regrep.ui.rule_entries`), executions
(:mod:`~regrep.ui.execution_views`), previews (:mod:`~regrep.ui.rule_preview`), and the DAG
file's parse on request (:mod:`~regrep.ui.dag_reparse`).
"""
