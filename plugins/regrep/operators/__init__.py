"""The task callables of a replication DAG: plan, copy (mapped), summarise.

They stay thin over the hooks, planning and the transfer engine; their job is to turn
regrep's typed errors into Airflow task outcomes and to write task logs a user can act on.
The DAG factory imports them only inside task bodies, so parsing a DAG file never loads
``requests`` or the registry client.
"""
