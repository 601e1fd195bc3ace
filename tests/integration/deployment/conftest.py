"""Fixtures for tests that run a real distributed Airflow deployment.

``airflow_deployment`` starts deployments (see ``tests.support.airflow_deployment``) and stops
them when the test ends; when a test fails, the tail of every component's log is added to its
pytest report, so a red CI run shows what the scheduler, worker and API server were saying.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from tests.support.airflow_deployment import Deployment, start_deployment
from tests.support.registries import RunningRegistry, start_registry

STARTED = pytest.StashKey[list[Deployment]]()


@pytest.fixture
def airflow_deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Deployment]]:
    """Start deployments with `start_deployment`'s keyword arguments, each in its own workdir."""
    started = request.node.stash.setdefault(STARTED, [])

    def start(**options: Any) -> Deployment:
        deployment = start_deployment(tmp_path_factory.mktemp("airflow"), **options)
        started.append(deployment)
        return deployment

    yield start
    for deployment in started:
        deployment.stop()


@pytest.fixture
def registries(
    registry_tools: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., RunningRegistry]]:
    """Start registries for one test (with ``start_registry``'s options); stop them after."""
    started: list[RunningRegistry] = []

    def start(name: str, **options: Any) -> RunningRegistry:
        registry = start_registry(tmp_path_factory.mktemp(name), name=name, **options)
        started.append(registry)
        return registry

    yield start
    for registry in started:
        registry.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach every component's log tail to a failed test's report."""
    report = yield
    if report.failed:
        for deployment in item.stash.get(STARTED, []):
            report.sections.append(
                (f"Airflow deployment {deployment.name}", deployment.log_tails())
            )
    return report
