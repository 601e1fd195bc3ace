"""The rules folder as the Replication page lists it: every rule file, valid or not.

An invalid file is listed with its problems (and the fields it holds, so the form can fix
it), never left out and never an error of the whole list: as the DAG factory does, one bad
file does not hide the others. Its name on the page is the ``name`` it gives, else its file
name's stem; its DAG is the factory's placeholder ``replicate_<file stem>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from regrep.dag_factory import invalid_dag_id
from regrep.rules import Rule, RuleError, load_rule_files, rule_files

DEFAULT_SUFFIX = ".yaml"


class NameTaken(ValueError):
    """The file a new rule would be written to holds another rule."""


@dataclass(frozen=True)
class RuleFile:
    """One file of the rules folder: its rule, or why it has none."""

    path: Path
    rule: Rule | None
    error: RuleError | None = None
    document: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        if self.rule is not None:
            return self.rule.name
        named = (self.document or {}).get("name")
        return named if isinstance(named, str) and named else self.path.stem

    @property
    def dag_id(self) -> str:
        return self.rule.dag_id if self.rule is not None else invalid_dag_id(self.path)


def read_folder(directory: Path) -> list[RuleFile]:
    """Every rule file of ``directory`` (none when it does not exist), in file name order."""
    if not directory.is_dir():
        return []
    files, _ = rule_files([directory])
    found = []
    for path, outcome in load_rule_files(files):
        if isinstance(outcome, Rule):
            found.append(RuleFile(path, outcome))
        else:
            found.append(RuleFile(path, None, outcome, _mapping(path)))
    return found


def _mapping(path: Path) -> dict[str, Any] | None:
    """The mapping an invalid file holds, if it is YAML at all (for the form)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def find(files: list[RuleFile], name: str) -> RuleFile | None:
    """The file of the rule ``name``: the valid rule's, else an invalid file going by it."""
    named = [f for f in files if f.name == name]
    return next((f for f in named if f.rule is not None), named[0] if named else None)


def target_path(directory: Path, files: list[RuleFile], name: str) -> Path:
    """Where the rule ``name`` is written: its file, else ``<name>.yaml``.

    Raises :class:`NameTaken` when ``<name>.yaml`` holds a valid rule of another name.
    """
    existing = find(files, name)
    if existing is not None:
        return existing.path
    path = directory / f"{name}{DEFAULT_SUFFIX}"
    holder = next((f for f in files if f.path == path and f.rule is not None), None)
    if holder is not None:
        raise NameTaken(f"{path.name} holds the rule {holder.name!r}: rename or delete it first")
    return path


def describe_filters(rule: Rule) -> str:
    """The rule's filters in a few words, as the rules table shows them."""
    wanted = rule.filters
    parts = []
    for what, pattern in (("name", wanted.name), ("tag", wanted.tag)):
        if pattern.pattern:
            excluded = " (excluded)" if pattern.decoration == "excludes" else ""
            parts.append(f"{what} {pattern.pattern}{excluded}")
    if wanted.resource:
        parts.append(wanted.resource)
    labels = [f"+{label}" for label in wanted.labels.include]
    labels += [f"-{label}" for label in wanted.labels.exclude]
    if labels:
        parts.append(f"labels {' '.join(labels)}")
    if wanted.platforms is not None:
        parts.append(f"platforms {', '.join(wanted.platforms.values)}")
    return ", ".join(parts) or "everything"


def describe_trigger(rule: Rule) -> str:
    """The rule's trigger in Harbor's words."""
    trigger = rule.trigger
    if trigger.type == "scheduled":
        return f"scheduled ({trigger.cron})"
    if trigger.type == "event_based":
        return "event based" + (", deletions too" if rule.replicate_deletion else "")
    return "manual"


def entry(file: RuleFile) -> dict[str, Any]:
    """The JSON of one rules-folder entry, without what Airflow knows of its DAG."""
    described: dict[str, Any] = {"name": file.name, "file": file.path.name, "dag_id": file.dag_id}
    if file.rule is None:
        assert file.error is not None
        return {
            **described,
            "valid": False,
            "problems": file.error.problems,
            "document": file.document,
        }
    rule = file.rule
    return {
        **described,
        "valid": True,
        "rule": rule.model_dump(mode="json"),
        "summary": {
            "source": rule.source,
            "destination": rule.destination,
            "destination_namespace": rule.destination_namespace,
            "mode": rule.mode,
            "filters": describe_filters(rule),
            "trigger": describe_trigger(rule),
        },
    }
