"""Event-triggered planning and replicated deletions, between real registries.

The plan and delete task bodies run here as the tasks run them, minus the scheduler; the
end-to-end path (webhook, asset event, asset-triggered run) is in
``tests/integration/deployment/test_triggers_and_executions.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from regrep.planning.event_scope import Deletion
from regrep.planning.image_events import ImageEvent
from regrep.rules import Rule
from regrep.tasks.delete_task import delete
from regrep.tasks.plan_task import plan_run
from tests.integration.airflow.dagruns import Connect, WriteRule, load_dags, run_dag
from tests.support.images import manifest_digest, push_image
from tests.support.registries import RegistryPair

pytestmark = pytest.mark.airflow


def event_rule(**fields: object) -> Rule:
    return Rule.model_validate(
        {
            "name": "on-push",
            "source": "src",
            "destination": "dst",
            "trigger": {"type": "event_based"},
            "replicate_deletion": True,
        }
        | fields
    )


def labels(copies: list[dict[str, Any]]) -> list[str]:
    return [f"{c['resource']['source_repository']}:{c['resource']['tag']}" for c in copies]


def test_an_event_triggered_plan_covers_only_what_the_events_name(
    registry_pair: RegistryPair, connect: Connect
) -> None:
    source, destination = registry_pair
    connect("src", source)
    connect("dst", destination)
    for repository, tag in (("apps/web", "1"), ("apps/web", "2"), ("apps/api", "1"), ("x/y", "1")):
        push_image(source, repository, tag)
    rule = event_rule(filters={"name": "apps/**"})

    one_tag = plan_run(rule, [ImageEvent("push", "apps/web", "2"), ImageEvent("push", "x/y", "1")])
    whole_repository = plan_run(rule, [ImageEvent("push", "apps/web")])
    everything = plan_run(rule, [ImageEvent()])
    by_hand = plan_run(rule, None)

    assert labels(one_tag.copies) == ["apps/web:2"]  # x/y is outside the name filter
    assert labels(whole_repository.copies) == ["apps/web:1", "apps/web:2"]
    assert (
        labels(everything.copies)
        == labels(by_hand.copies)
        == [
            "apps/api:1",
            "apps/web:1",
            "apps/web:2",
        ]
    )
    assert plan_run(rule, [ImageEvent("push", "apps/gone", "1")]).copies == []


def test_deletions_remove_what_the_source_deleted_and_keep_what_changed_since(
    registry_pair: RegistryPair, connect: Connect
) -> None:
    source, destination = registry_pair
    connect("src", source)
    connect("dst", destination)
    same = push_image(destination, "apps/web", "1")
    moved = push_image(destination, "apps/web", "2", seed="pushed again since")
    by_digest = push_image(destination, "apps/api", "1")
    deletions = [
        Deletion("apps/web:1", "apps/web", "1", same.digest),
        Deletion("apps/web:2", "apps/web", "2", "sha256:" + "0" * 64),
        Deletion(f"apps/api@{by_digest.digest}", "apps/api", None, by_digest.digest),
        Deletion("apps/none:1", "apps/none", "1", None),
    ]

    results = delete(event_rule(), [deletion.to_dict() for deletion in deletions])

    assert [(r["resource"], r["status"]) for r in results] == [
        ("apps/web:1", "deleted"),
        ("apps/web:2", "skipped"),
        (f"apps/api@{by_digest.digest}", "deleted"),
        ("apps/none:1", "skipped"),
    ]
    assert f"now points at {moved.digest}, not at the deleted" in results[1]["message"]
    assert "is not at the destination: nothing to delete" in results[3]["message"]
    assert manifest_digest(destination, "apps/web", "1") is None
    assert manifest_digest(destination, "apps/web", "2") == moved.digest
    assert manifest_digest(destination, "apps/api", "1") is None


def test_a_rule_replicating_deletions_runs_its_delete_task_beside_the_copies(
    registry_pair: RegistryPair, connect: Connect, write_rule: WriteRule
) -> None:
    source, destination = registry_pair
    connect("src", source)
    connect("dst", destination)
    pushed = push_image(source, "apps/web", "1")
    write_rule(
        "mirror",
        source="src",
        destination="dst",
        trigger={"type": "event_based"},
        replicate_deletion=True,
        retries=0,
    )
    write_rule("plain", source="src", destination="dst", trigger={"type": "event_based"})

    bag = load_dags()
    mirror = bag.dags["replicate_mirror"]
    assert mirror.task_dict["delete"].upstream_task_ids == {"plan"}
    assert mirror.task_dict["copy"].upstream_task_ids == {"plan"}
    assert set(mirror.task_dict) == {"plan", "copy", "delete"}
    assert "delete" not in bag.dags["replicate_plain"].task_dict

    run = run_dag("replicate_mirror")  # started by hand: no events, a full replication

    assert run.state == "success"
    assert run.task("delete").state == "success"
    assert manifest_digest(destination, "apps/web", "1") == pushed.digest
    assert run.summary is not None
    assert (run.summary["copied"], run.summary["deleted"]) == (1, 0)
