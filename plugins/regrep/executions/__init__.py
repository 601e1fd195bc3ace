"""Executions: one DAG run of a rule, and what it did to each resource.

:mod:`~regrep.executions.record` tells each resource's outcome from what its task reported;
:mod:`~regrep.executions.listener` writes that record into the run's note when the run ends
(the UI shows it); :mod:`~regrep.executions.remote` reads it, and stops runs, through
Airflow's REST API for the ``regrep executions`` commands.
"""
