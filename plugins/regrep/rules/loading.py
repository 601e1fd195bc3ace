"""Rule files: YAML in, validated rules or :class:`RuleError` out, never a traceback.

One bad file never stops the others from loading: the DAG factory builds a DAG for every
valid rule and reports the rest. Nothing here imports Airflow, so the ``regrep`` CLI can
validate rules anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from regrep.rules.model import Rule
from regrep.rules.problems import RuleError, describe

RULES_DIR_ENV = "REGREP_RULES_DIR"
RULE_SUFFIXES = (".yaml", ".yml")


class _StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses duplicate keys, which plain YAML silently collapses."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node)
        if not isinstance(key, Hashable):
            continue  # construct_mapping reports unhashable keys itself
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f'duplicate key "{key}"', key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_mapping(path: Path) -> dict[str, Any]:
    """Read a rule file's top-level mapping, or raise :class:`RuleError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RuleError(path, ["not a UTF-8 text file"]) from None
    except OSError as exc:
        raise RuleError(path, [f"cannot read: {exc.strerror or exc}"]) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise RuleError(path, [f"{where}invalid YAML: {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise RuleError(path, [f"invalid YAML: {exc}"]) from None
    if data is None:
        raise RuleError(path, ["the file is empty: expected a mapping of rule fields"])
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise RuleError(path, [f"the top level must be a mapping of rule fields, not a {kind}"])
    return data


def load_rule(path: Path) -> Rule:
    """Load and validate one rule file; raise :class:`RuleError` listing every problem."""
    data = _read_mapping(path)
    try:
        return Rule.model_validate(data)
    except ValidationError as exc:
        raise RuleError(path, [describe(error) for error in exc.errors()]) from None


def rule_files(paths: Iterable[Path]) -> tuple[list[Path], list[RuleError]]:
    """Expand files and directories into rule files, in order.

    A directory contributes its ``*.yaml`` and ``*.yml`` files sorted by name (not
    recursively; hidden files are skipped); a file named twice counts once; a path that
    does not exist is an error.
    """
    files: dict[Path, Path] = {}  # resolved path -> path as the caller wrote it
    errors: list[RuleError] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                child
                for child in path.iterdir()
                if child.suffix in RULE_SUFFIXES and not child.name.startswith(".")
            )
        elif path.exists():
            found = [path]
        else:
            errors.append(RuleError(path, ["no such file or directory"]))
            continue
        for file in found:
            files.setdefault(file.resolve(), file)
    return list(files.values()), errors


def load_rule_files(files: Iterable[Path]) -> list[tuple[Path, Rule | RuleError]]:
    """Load each file, never raising; a rule name already used by an earlier file is an error.

    Rule names become DAG ids, so the first file keeps the name and the later one is
    rejected rather than one DAG silently replacing the other.
    """
    results: list[tuple[Path, Rule | RuleError]] = []
    owners: dict[str, Path] = {}
    for path in files:
        outcome: Rule | RuleError
        try:
            outcome = load_rule(path)
        except RuleError as exc:
            outcome = exc
        else:
            first = owners.setdefault(outcome.name, path)
            if first != path:
                message = f'name: rule "{outcome.name}" is already defined in {first}'
                outcome = RuleError(path, [message])
        results.append((path, outcome))
    return results


def load_rules(directory: Path) -> tuple[list[Rule], list[RuleError]]:
    """Load every rule file in ``directory``: the valid rules and one error per bad file."""
    files, errors = rule_files([directory])
    rules: list[Rule] = []
    for _, outcome in load_rule_files(files):
        if isinstance(outcome, Rule):
            rules.append(outcome)
        else:
            errors.append(outcome)
    return rules, errors


def rules_dir(default: Path) -> Path:
    """The rules directory: ``$REGREP_RULES_DIR`` when set, else ``default``."""
    configured = os.environ.get(RULES_DIR_ENV)
    return Path(configured) if configured else default
