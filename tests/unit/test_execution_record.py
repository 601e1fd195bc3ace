"""The execution record: each resource's outcome from what its task reported."""

from __future__ import annotations

from typing import Any

from regrep.executions.record import (
    NOTE_LIMIT,
    Execution,
    build_execution,
    copy_results_by_index,
    note,
    render,
)

RUN = "manual__2024-01-01T00:00:00+00:00"


def resource(repository: str, tag: str) -> dict[str, Any]:
    return {
        "resource": {
            "source_repository": repository,
            "tag": tag,
            "destination_repository": repository,
            "digest": "sha256:" + "d" * 64,
            "media_type": "application/vnd.oci.image.manifest.v1+json",
        },
        "mount_from": [],
    }


def copied(label: str, size: int = 100) -> dict[str, Any]:
    return {
        "resource": label,
        "status": "copied",
        "message": f"copied {label}",
        "bytes_copied": size,
        "blobs_mounted": 1,
    }


def execution(
    run_state: str,
    states: dict[tuple[str, int], str | None],
    xcoms: dict[tuple[str, str, int], Any],
    labels: tuple[str, ...] = ("a:1", "b:1", "c:1"),
) -> Execution:
    plan = {
        ("plan", "return_value", -1): [resource(*label.split(":")) for label in labels],
        ("plan", "counts", -1): {"listed": len(labels) + 2, "unchanged": 2},
    }
    return build_execution(
        "replicate_r",
        RUN,
        run_state,
        {("plan", -1): "success", **states},
        lambda task, key, index: {**plan, **xcoms}.get((task, key, index)),
    )


def outcomes(record: Execution) -> list[tuple[str, str]]:
    return [(o.label, o.status) for o in record.outcomes]


def test_a_running_execution_counts_pending_and_running_copies_in_progress() -> None:
    record = execution(
        "running",
        {("copy", 0): "success", ("copy", 1): "running"},  # copy 2 not even scheduled yet
        {("copy", "return_value", 0): copied("a:1")},
    )
    assert outcomes(record) == [("a:1", "copied"), ("b:1", "in_progress"), ("c:1", "in_progress")]
    assert record.tally()["unchanged"] == 2
    assert record.summary()["in_progress"] == 2
    assert record.summary()["bytes_copied"] == 100


def test_airflow_failing_every_instance_on_a_stop_does_not_hide_finished_copies() -> None:
    """*Mark as failed* in the UI: every instance failed, the summary never ran."""
    record = execution(
        "failed",
        {("copy", 0): "failed", ("copy", 1): "failed", ("copy", 2): "skipped"},
        {("copy", "return_value", 0): copied("a:1")},
    )
    assert outcomes(record) == [("a:1", "copied"), ("b:1", "stopped"), ("c:1", "stopped")]


def test_a_final_failure_is_failed_and_a_retry_cut_short_is_stopped() -> None:
    record = execution(
        "failed",
        {("copy", 0): "failed", ("copy", 1): "failed", ("copy", 2): "success"},
        {
            ("copy", "error", 0): {"resource": "a:1", "message": "denied", "final": True},
            ("copy", "error", 1): {"resource": "b:1", "message": "503", "final": False},
            ("copy", "return_value", 2): copied("c:1"),
        },
    )
    assert outcomes(record) == [("a:1", "failed"), ("b:1", "stopped"), ("c:1", "copied")]
    assert record.outcomes[0].message == "denied"
    assert record.summary()["failures"] == ["a:1"]


def test_deletions_are_reported_one_by_one_from_the_delete_task() -> None:
    deletions = [{"label": "a:1"}, {"label": f"b@sha256:{'e' * 64}"}]
    states: dict[tuple[str, int], str | None] = {("delete", -1): "success"}
    done = [
        {"resource": "a:1", "status": "deleted", "message": "deleted dst/a:1"},
        {"resource": f"b@sha256:{'e' * 64}", "status": "skipped", "message": "not there"},
    ]
    record = execution(
        "success",
        states,
        {("plan", "deletions", -1): deletions, ("delete", "return_value", -1): done},
        labels=(),
    )
    assert outcomes(record) == [("a:1", "deleted"), (f"b@sha256:{'e' * 64}", "skipped")]

    pending = execution("running", {}, {("plan", "deletions", -1): deletions}, labels=())
    assert [o.status for o in pending.outcomes] == ["in_progress", "in_progress"]


def test_before_the_plan_has_run_there_is_nothing_to_count() -> None:
    record = build_execution(
        "replicate_r", RUN, "running", {("plan", -1): "running"}, lambda *_: None
    )
    assert not record.planned
    assert render(record) == f"replicate_r {RUN}: running\nplanning (plan task running)"
    failed = build_execution(
        "replicate_r", RUN, "failed", {("plan", -1): "failed"}, lambda *_: None
    )
    assert render(failed).endswith("nothing was replicated: the plan task ended failed")


def test_the_table_and_the_note() -> None:
    record = execution(
        "success",
        {("copy", i): "success" for i in range(3)},
        {
            ("copy", "return_value", i): copied(label)
            for i, label in enumerate(("a:1", "b:1", "c:1"))
        },
    )
    lines = render(record).splitlines()
    assert lines[:3] == [
        f"replicate_r {RUN}: success",
        "5 tag(s) listed, 3 to replicate",
        "copied            3",
    ]
    assert "unchanged         2" in lines
    assert "300 B copied, 3 blob(s) mounted" in lines
    assert lines[-1] == "copied       c:1: copied c:1"
    assert note(record) == render(record)


def test_a_long_record_is_cut_to_fit_a_note() -> None:
    labels = tuple(f"apps/service-{i}:1" for i in range(60))
    record = execution("running", {}, {}, labels=labels)
    text = note(record)
    assert len(text) <= NOTE_LIMIT
    assert text.startswith(f"replicate_r {RUN}: running\n62 tag(s) listed, 60 to replicate")
    assert text.splitlines()[-1].endswith("more line(s): regrep executions show")


# The summary reads every copy's result at once and tells them apart by resource label.


def result(label: str) -> dict[str, Any]:
    return {"resource": label, "status": "copied", "message": f"copied {label}"}


def test_results_find_their_instances_by_label_whatever_is_missing() -> None:
    copies = [resource("a", "1"), resource("b", "1"), resource("c", "1")]
    # Airflow leaves out the instance that returned nothing (b:1 failed).
    returned = [result("a:1"), result("c:1")]
    assert copy_results_by_index(copies, returned) == {0: result("a:1"), 2: result("c:1")}


def test_a_batch_is_found_by_its_first_resource() -> None:
    copies = [{**resource("a", "1"), "more": 1}, {**resource("b", "1"), "more": 1}]
    batch = [result("b:1"), result("b:2")]
    assert copy_results_by_index(copies, [batch]) == {1: batch}


def test_values_that_match_no_instance_are_ignored() -> None:
    copies = [resource("a", "1")]
    assert copy_results_by_index(copies, [None, [], {"status": "copied"}, result("z:9")]) == {}
