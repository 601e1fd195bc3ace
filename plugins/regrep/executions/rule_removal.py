"""Removing a rule: its file and its DAG, refused while one of its executions is in progress.

``regrep rules delete`` and the Replication page's ``DELETE /regrep/api/rules/{name}`` both
remove rules through :func:`remove_rule`, which reaches Airflow through its REST API (as
the user who asked), so the two tell and do the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regrep.airflow_api import AirflowApi, ApiError
from regrep.executions.remote import active_run_ids
from regrep.rules.loading import load_rule_files, rule_files
from regrep.rules.model import Rule

DAG_SETTLE_SECONDS = 3.0  # longer than a parse's save of the DAG file takes
DAG_SETTLE_POLL_SECONDS = 0.25


class RuleNotFound(LookupError):
    """No valid rule of that name in the rules folder."""

    def __init__(self, name: str, directory: Path) -> None:
        super().__init__(f"no rule named {name!r} in {directory}")
        self.name = name
        self.directory = directory


class RuleInUse(RuntimeError):
    """The rule has queued or running executions: their run ids are ``run_ids``."""

    def __init__(self, rule: Rule, run_ids: list[str]) -> None:
        super().__init__(
            f"rule {rule.name!r} not deleted: {len(run_ids)} execution(s) in progress: "
            f"{', '.join(run_ids)}"
        )
        self.rule = rule
        self.run_ids = run_ids


@dataclass(frozen=True)
class RemovedRule:
    """What :func:`remove_rule` removed: the rule file and the rule's DAG."""

    path: Path
    rule: Rule


def find_rule(directory: Path, name: str) -> tuple[Path, Rule] | None:
    """The file of the valid rule ``name`` in ``directory`` and the rule; None if none."""
    files, _ = rule_files([directory])
    for path, outcome in load_rule_files(files):
        if isinstance(outcome, Rule) and outcome.name == name:
            return path, outcome
    return None


def remove_rule(api: AirflowApi, directory: Path, name: str) -> RemovedRule:
    """Remove the rule's file and DAG; raise :class:`RuleNotFound` or :class:`RuleInUse`."""
    found = find_rule(directory, name)
    if found is None:
        raise RuleNotFound(name, directory)
    path, rule = found
    in_progress = active_run_ids(api, rule.dag_id)
    if in_progress:
        raise RuleInUse(rule, in_progress)
    path.unlink()
    delete_dag(api, rule.dag_id)
    return RemovedRule(path, rule)


def delete_dag(api: AirflowApi, dag_id: str) -> None:
    """Delete the DAG, and again if a parse that read the rule file before it went writes it back.

    The DAG processor may be parsing the DAG file while the rule file is removed; such a parse
    can save the DAG after it was deleted (seen in CI). The factory drops DAGs whose rule file
    is gone by the end of a parse, which leaves only a short window: watching the DAG for
    ``DAG_SETTLE_SECONDS`` covers it.
    """
    path = f"/api/v2/dags/{dag_id}"
    deadline = time.monotonic() + DAG_SETTLE_SECONDS
    present = True
    while present:
        _unless_missing(api.delete, path)  # missing: Airflow had not parsed it yet
        present = False
        while not present and time.monotonic() < deadline:
            time.sleep(DAG_SETTLE_POLL_SECONDS)
            present = _unless_missing(api.get, path) is not None


def _unless_missing(call: Callable[[str], Any], path: str) -> Any:
    """``call(path)``'s answer; None when the API answers 404."""
    try:
        return call(path)
    except ApiError as error:
        if error.status != 404:
            raise
        return None
