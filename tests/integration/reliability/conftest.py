"""Fixtures for the reliability tests: real registries behind fault-injecting proxies.

The Airflow fixtures (a throw-away ``AIRFLOW_HOME`` with its SQLite database, rule files,
connections) are the DAG tests' own, re-exported so the ``dag.test()`` runs here work the
same way whether or not ``tests/integration/airflow`` is collected in the same session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import pytest

# Re-exported fixtures: importing the module also points Airflow at its test home.
from tests.integration.airflow.conftest import (  # noqa: F401
    airflow_db,
    connect,
    rules_dir,
    write_rule,
)
from tests.support.faults import FaultProxy, fault_proxy
from tests.support.registries import RegistryPair


class FaultyPair(NamedTuple):
    """A source and a destination registry, each reached through its own fault proxy."""

    source: FaultProxy
    destination: FaultProxy


@pytest.fixture
def faulty_pair(registry_pair: RegistryPair) -> Iterator[FaultyPair]:
    with (
        fault_proxy(registry_pair.source) as source,
        fault_proxy(registry_pair.destination) as destination,
    ):
        yield FaultyPair(source, destination)
