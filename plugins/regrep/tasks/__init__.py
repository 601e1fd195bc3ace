"""What Airflow runs: the plan, copy and delete task callables and their operator.

The Airflow-facing side of regrep: these modules turn Airflow's context (XComs, asset
events, SIGTERM) into calls of :mod:`regrep.planning` and :mod:`regrep.engine`, and typed
registry errors into task outcomes.
"""
