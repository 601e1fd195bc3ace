"""The listener that writes an ended execution's record into its DAG run's note.

On a real deployment Airflow calls it inside the transaction that ends the run (see
``tests/integration/deployment/test_triggers_and_executions.py``); here it is called as
``dag.test()`` calls it, with a run held outside any session.
"""

from __future__ import annotations

import pytest

from tests.integration.airflow.dagruns import Connect, WriteRule, run_dag, run_note
from tests.support.images import push_image
from tests.support.registries import RegistryPair

pytestmark = pytest.mark.airflow


def test_an_ended_run_gets_its_record_as_its_note(
    registry_pair: RegistryPair, connect: Connect, write_rule: WriteRule
) -> None:
    source, destination = registry_pair
    connect("src", source)
    connect("dst", destination)
    push_image(source, "apps/web", "1")
    write_rule("mirror", source="src", destination="dst", retries=0)
    run = run_dag("replicate_mirror")

    lines = run_note(run)
    assert lines[:3] == [
        f"replicate_mirror {run.run_id}: success",
        "1 tag(s) listed, 1 to replicate",
        "copied            1",
    ]
    assert lines[-1].startswith("copied       apps/web:1: copied src/apps/web:1 to dst/apps/web:1")
