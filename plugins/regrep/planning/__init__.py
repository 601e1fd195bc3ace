"""Planning: what one run of a rule replicates, and what is already in place.

Listing (:mod:`~regrep.planning.listing`), inspection (:mod:`~regrep.planning.inspection`)
and the plan (:mod:`~regrep.planning.planner`, made of :mod:`~regrep.planning.resources`);
a run started by events plans only what they name (:mod:`~regrep.planning.event_scope`,
:mod:`~regrep.planning.image_events`). Importable without Airflow. Nothing is imported here:
the DAG file reads image events without loading the registry client.
"""
