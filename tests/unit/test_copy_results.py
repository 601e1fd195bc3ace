"""The summary reads every copy's result at once and tells them apart by resource label."""

from __future__ import annotations

from typing import Any

from regrep.executions.record import copy_results_by_index


def entry(repository: str, tag: str, *more: dict[str, Any]) -> dict[str, Any]:
    return {
        "resource": {
            "source_repository": repository,
            "tag": tag,
            "destination_repository": repository,
            "digest": "sha256:" + "d" * 64,
            "media_type": "application/vnd.oci.image.manifest.v1+json",
        },
        "mount_from": [],
        "seeded": {},
        "more": list(more),
    }


def result(label: str) -> dict[str, Any]:
    return {"resource": label, "status": "copied", "message": f"copied {label}"}


def test_results_find_their_instances_by_label_whatever_is_missing() -> None:
    copies = [entry("a", "1"), entry("b", "1"), entry("c", "1")]
    # Airflow leaves out the instance that returned nothing (b:1 failed).
    returned = [result("a:1"), result("c:1")]
    assert copy_results_by_index(copies, returned) == {0: result("a:1"), 2: result("c:1")}


def test_a_batch_is_found_by_its_first_resource() -> None:
    copies = [entry("a", "1", entry("a", "2")), entry("b", "1", entry("b", "2"))]
    batch = [result("b:1"), result("b:2")]
    assert copy_results_by_index(copies, [batch]) == {1: batch}


def test_values_that_match_no_instance_are_ignored() -> None:
    copies = [entry("a", "1")]
    assert copy_results_by_index(copies, [None, [], {"status": "copied"}, result("z:9")]) == {}
