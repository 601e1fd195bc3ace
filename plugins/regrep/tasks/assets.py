"""The Airflow asset of a source endpoint: what event-based rules are scheduled on.

Built in one place from :func:`~regrep.planning.image_events.asset_name` and
:func:`~regrep.planning.image_events.asset_uri`, for the DAG factory (schedule, inlets) and
the plan task (reading the events a run left out). Cheap: only the Task SDK's ``Asset``.
"""

from __future__ import annotations

from airflow.sdk import Asset

from regrep.planning.image_events import asset_name, asset_uri


def source_asset(conn_id: str) -> Asset:
    """The asset that stands for "content changed at this source endpoint"."""
    return Asset(name=asset_name(conn_id), uri=asset_uri(conn_id))
