"""Rule files out: a validated rule written as YAML, never half-written.

The DAG processor reads the rules folder whenever it parses the DAG file, so a rule file is
never written in place. The text goes to a hidden temporary file in the same folder (which
:func:`~regrep.rules.loading.rule_files` skips twice over: hidden, and not ``*.yaml``), is
flushed to disk, then renamed over the rule file (``os.replace``: atomic within one file
system, so a reader sees the old file or the new one, whole), and the folder is synced so
the rename survives a crash. Nothing here imports Airflow.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any

import yaml

from regrep.rules.loading import load_rule
from regrep.rules.model import Rule

TEMP_SUFFIX = ".tmp"

_ENABLED_LINE = re.compile(r"^enabled:[ \t]*[^\s#]+", re.MULTILINE)


def rule_document(rule: Rule) -> dict[str, Any]:
    """The mapping a rule's file holds: every field that differs from its default.

    Fields keep the model's order (name, description, source, destination, filters, ...),
    so files written here read like the README's examples.
    """
    return rule.model_dump(mode="json", exclude_defaults=True)


def rule_yaml(rule: Rule) -> str:
    """The rule as the YAML text of its file."""
    return yaml.safe_dump(rule_document(rule), sort_keys=False, allow_unicode=True)


def write_rule(path: Path, rule: Rule) -> None:
    """Write ``rule`` to ``path`` atomically (see the module docstring)."""
    write_atomically(path, rule_yaml(rule))


def set_enabled(path: Path, enabled: bool) -> Rule:
    """Switch the rule in ``path`` on or off and return it as it now reads.

    Only the top-level ``enabled:`` line changes (or one is appended), so the author's
    comments and layout stay; a file in flow style (``{name: ..., enabled: true}``), where
    no such line exists, is written anew from the rule. Raises
    :class:`~regrep.rules.problems.RuleError` if the file is invalid.
    """
    rule = load_rule(path)
    text = path.read_text(encoding="utf-8")
    value = "true" if enabled else "false"
    if _ENABLED_LINE.search(text):
        edited = _ENABLED_LINE.sub(f"enabled: {value}", text, count=1)
    elif text.lstrip().startswith("{"):
        edited = rule_yaml(rule.model_copy(update={"enabled": enabled}))
    else:
        edited = f"{text}{'' if text.endswith(chr(10)) else chr(10)}enabled: {value}\n"
    write_atomically(path, edited)
    return load_rule(path)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step; the temporary file never outlives a failure."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        with temporary.open("w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
