"""Replication rules: the YAML a user writes, validated into a typed model.

A rule is Harbor's replication policy as a file: source and destination endpoints (Airflow
connection ids), the name/tag/resource filters, the destination namespace with Harbor's
flattening, the trigger and the retry settings. :mod:`~regrep.rules.model` holds the
models, :mod:`~regrep.rules.loading` reads files and :mod:`~regrep.rules.problems` words the
problems. Nothing here imports Airflow: the ``regrep`` CLI validates rules without it.
"""

from __future__ import annotations

from regrep.rules.loading import (
    RULE_SUFFIXES,
    RULES_DIR_ENV,
    load_rule,
    load_rule_files,
    load_rules,
    rule_files,
    rules_dir,
)
from regrep.rules.model import (
    FLATTEN_ALL,
    Filters,
    LabelFilter,
    Mode,
    NameFilter,
    PlatformFilter,
    ResourceType,
    Rule,
    TagFilter,
    replace_namespace,
)
from regrep.rules.problems import RuleError
from regrep.rules.triggers import (
    EventBasedTrigger,
    ManualTrigger,
    ScheduledTrigger,
    Trigger,
    normalise_cron,
)

__all__ = [
    "FLATTEN_ALL",
    "RULES_DIR_ENV",
    "RULE_SUFFIXES",
    "EventBasedTrigger",
    "Filters",
    "LabelFilter",
    "ManualTrigger",
    "Mode",
    "NameFilter",
    "PlatformFilter",
    "ResourceType",
    "Rule",
    "RuleError",
    "ScheduledTrigger",
    "TagFilter",
    "Trigger",
    "load_rule",
    "load_rule_files",
    "load_rules",
    "normalise_cron",
    "replace_namespace",
    "rule_files",
    "rules_dir",
]
