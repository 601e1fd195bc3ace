"""Planning: what one run of a rule replicates, and what is already in place.

Listing (:mod:`~regrep.planning.listing`), inspection (:mod:`~regrep.planning.inspection`)
and the plan (:mod:`~regrep.planning.planner`); a run started by events plans only what they
name (:mod:`~regrep.planning.event_scope`). Importable without Airflow.
"""

from __future__ import annotations

from regrep.planning.listing import PLAN_WORKERS, Listing, selects_tag
from regrep.planning.planner import SHARED_REFERRER_TAGS, plan_replication
from regrep.planning.resources import Plan, Refusal, Resource

__all__ = [
    "PLAN_WORKERS",
    "SHARED_REFERRER_TAGS",
    "Listing",
    "Plan",
    "Refusal",
    "Resource",
    "plan_replication",
    "selects_tag",
]
