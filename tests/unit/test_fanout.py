"""How a plan's resources fan out over copy task instances (:mod:`regrep.tasks.fanout`)."""

from __future__ import annotations

import json
from typing import Any

from regrep.executions.record import build_execution, entry_label, refusals
from regrep.planning.resources import Plan, Refusal, Resource
from regrep.tasks.fanout import MIN_BATCH, copy_entries


def plan_of(count: int) -> Plan:
    resources = [
        Resource(f"apps/r{n // 50}", f"t{n}", f"apps/r{n // 50}", f"sha256:{n:064x}", "x")
        for n in range(count)
    ]
    return Plan(resources=resources, unchanged=[], listed=count)


def fan_out(
    count: int, max_tasks: int
) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    plan = plan_of(count)
    copy_map = copy_entries(plan, [[] for _ in range(count)], [{} for _ in range(count)], max_tasks)
    return copy_map.instances, copy_map.rests


def test_up_to_max_tasks_each_resource_has_its_instance() -> None:
    instances, rests = fan_out(5, max_tasks=8)
    assert [i["resource"]["tag"] for i in instances] == ["t0", "t1", "t2", "t3", "t4"]
    assert [i["more"] for i in instances] == [0] * 5
    assert rests == {}


def test_beyond_max_tasks_batches_travel_beside_the_mapped_list() -> None:
    instances, rests = fan_out(10 * MIN_BATCH + 3, max_tasks=100)
    assert len(instances) == 11  # batches of MIN_BATCH at least: 10 full ones and 3 left over
    assert [i["more"] for i in instances] == [MIN_BATCH - 1] * 10 + [2]
    assert sorted(rests) == list(range(11))
    tags = [
        entry["resource"]["tag"]
        for index, instance in enumerate(instances)
        for entry in [instance, *rests[index]]
    ]
    assert tags == [f"t{n}" for n in range(10 * MIN_BATCH + 3)]  # every resource once, in order


def test_the_mapped_list_stays_small_however_large_the_batches() -> None:
    """Every instance reads the whole mapped list when it starts: it carries one entry each."""
    small, _ = fan_out(256, max_tasks=256)
    large, _ = fan_out(10_000, max_tasks=256)
    per_instance = len(json.dumps(small)) / len(small)
    assert len(json.dumps(large)) / len(large) < 1.1 * per_instance


def test_refused_repositories_share_one_last_instance_that_the_record_reads() -> None:
    """The refusals travel in the mapped list as one instance (it fails the run); the record
    gives each refused repository its own failed outcome, whatever that instance's state."""
    plan = plan_of(2)
    refused = [Refusal("team/app", "too shallow"), Refusal("team/db", "too shallow too")]
    plan = Plan(resources=plan.resources, unchanged=[], listed=4, refused=refused)
    instances = copy_entries(plan, [[], []], [{}, {}]).instances

    assert len(instances) == 3
    last = instances[-1]
    assert refusals(last) == [r.to_dict() for r in refused]
    assert entry_label(last) == "refused: team/app (+1 more)"
    assert [entry_label(i) for i in instances[:2]] == ["apps/r0:t0", "apps/r0:t1"]
    xcoms = {("plan", "return_value", -1): instances}
    record = build_execution(
        "replicate_r",
        "manual__1",
        "failed",
        {
            ("plan", -1): "success",
            ("copy", 0): "success",
            ("copy", 1): "failed",
            ("copy", 2): "failed",
        },
        lambda task, key, index: xcoms.get((task, key, index)),
    )
    assert [(o.label, o.status, o.message) for o in record.outcomes[2:]] == [
        ("team/app", "failed", "too shallow"),
        ("team/db", "failed", "too shallow too"),
    ]
