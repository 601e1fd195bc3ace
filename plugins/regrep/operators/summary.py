"""The ``summary`` task: one table per run, and the run's verdict.

It runs whatever happened upstream (trigger rule ``all_done``). A mapped copy that failed
leaves no result, so the planned resources without one are the failures; their own task
logs hold the reason. Any failure fails this task, and with it the DAG run, as a Harbor
execution with a failed task is failed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from regrep.planning import Resource
from regrep.rules import Rule

log = logging.getLogger(__name__)

STATUSES = ("copied", "skipped", "unchanged", "failed")


def summarise(
    rule: Rule,
    copies: Sequence[Mapping[str, Any]] | None,
    counts: Mapping[str, int] | None,
    results: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Log the run's table and return its counts; raise if the plan or any copy failed.

    ``copies`` and ``counts`` are the plan's (see ``PlannedRun``), None when the plan
    failed; ``results`` are what the copy tasks returned.
    """
    if copies is None or counts is None:
        raise AirflowFailException(
            f"replication {rule.name}: the plan task failed, so nothing was replicated; "
            "its log says why"
        )
    labels = [Resource.from_dict(copy["resource"]).label for copy in copies]
    by_label = {result["resource"]: result for result in results}
    failures = [label for label in labels if label not in by_label]
    tally = dict.fromkeys(STATUSES, 0)
    tally["unchanged"] = counts["unchanged"]
    tally["failed"] = len(failures)
    for result in by_label.values():
        tally[result["status"]] += 1
    copied_bytes = sum(int(result["bytes_copied"]) for result in by_label.values())
    mounted = sum(int(result["blobs_mounted"]) for result in by_label.values())
    seconds = sum(float(result["seconds"]) for result in by_label.values())

    lines = [
        f"replication {rule.name}: {rule.source} -> {rule.destination}, "
        f"{counts['listed']} tag(s) listed",
        f"{'status':<10} {'count':>6}",
        *(f"{status:<10} {tally[status]:>6}" for status in STATUSES),
        f"{copied_bytes} bytes copied ({human_bytes(copied_bytes)}) in {seconds:.1f} s "
        f"of copy time, {mounted} blob(s) mounted",
    ]
    lines += [
        f"{result['status']:<10} {label}: {result['message']}"
        for label, result in by_label.items()
        if result["status"] != "unchanged"
    ]
    lines += [f"failed     {label}: see its copy task log" for label in failures]
    log.info("%s", "\n".join(lines))
    if failures:
        raise AirflowFailException(
            f"{len(failures)} of {len(labels)} resource(s) failed to replicate: "
            + ", ".join(failures)
        )
    return {**tally, "bytes_copied": copied_bytes, "blobs_mounted": mounted, "failures": failures}


def human_bytes(count: int) -> str:
    """``1536`` -> ``"1.5 KiB"``: sizes in the summary table."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    size, unit = float(count), 0
    while size >= 1024 and unit < len(units) - 1:
        size, unit = size / 1024, unit + 1
    return f"{count} B" if unit == 0 else f"{size:.1f} {units[unit]}"
