"""A run with more resources than copy task instances: batches, each resource accounted for.

``[core] max_map_length`` is lowered so that four tags make two batches; the destination
refuses pushes to one repository, so one batch has a resource that fails and one that does
not (``dag.test()`` between real registries).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

from tests.integration.airflow.dagruns import Connect, WriteRule, run_dag
from tests.support.images import manifest_digest, push_image
from tests.support.registries import RunningRegistry, start_registry

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def _no_push_to_locked(user: str | None, repository: str) -> Collection[str]:
    return {"pull"} if repository == "apps/locked" else {"pull", "push"}


@pytest.fixture
def guarded(registry_tools: None, tmp_path: Path) -> Iterator[RunningRegistry]:
    """A token-auth registry whose user may push anywhere but to ``apps/locked``."""
    with start_registry(tmp_path, auth="token", access=_no_push_to_locked) as running:
        yield running


def test_a_failed_resource_fails_its_batch_but_not_its_neighbours(
    registry: RunningRegistry,
    guarded: RunningRegistry,
    connect: Connect,
    write_rule: WriteRule,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    labels = ("apps/locked:1", "apps/web:1", "apps/web:2", "apps/web:3")
    images = {label: push_image(registry, *label.split(":"), layer_sizes=(64,)) for label in labels}
    connect("src", registry)
    connect("dst", guarded)
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "2")
    monkeypatch.setattr("regrep.tasks.fanout.MIN_BATCH", 1)  # batches of 20 would need 40 tags
    write_rule("mirror", source="src", destination="dst", retries=0)

    run = run_dag("replicate_mirror")

    assert run.state == "failed"
    assert [(t.label, t.state) for t in run.mapped("copy")] == [
        ("apps/locked:1 (+1 more)", "failed"),
        ("apps/web:2 (+1 more)", "success"),
    ]
    for label, image in images.items():
        repository, tag = label.split(":")
        expected = None if repository == "apps/locked" else image.digest
        assert manifest_digest(guarded, repository, tag) == expected
    assert run.summary is not None
    assert (run.summary["copied"], run.summary["failures"]) == (3, ["apps/locked:1"])
