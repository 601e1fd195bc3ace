"""The ``regrep`` command line: ``regrep rules validate [PATH...]``.

Subcommands are grouped by noun (``rules``, later ``executions`` and ``endpoints``) so new
commands slot in beside the existing ones. Nothing here imports Airflow at module level:
validating rules must be fast and work on a machine (or in CI) without an Airflow home.

Exit codes: 0 success, 1 some rule file is invalid, 2 wrong usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from regrep.rules import Rule, load_rule_files, rule_files, rules_dir

DEFAULT_RULES_DIR = Path("dags/rules")

EXIT_OK = 0
EXIT_INVALID = 1  # usage errors exit 2 from argparse itself


def _validate_rules(args: argparse.Namespace) -> int:
    """Validate rule files; print ``OK <file> (rule <name>)`` or the file's errors."""
    paths: list[Path] = args.paths or [rules_dir(DEFAULT_RULES_DIR)]
    files, errors = rule_files(paths)
    for error in errors:
        print(error, file=sys.stderr)
    for path, outcome in load_rule_files(files):
        if isinstance(outcome, Rule):
            print(f"OK {path} (rule {outcome.name})")
        else:
            errors.append(outcome)
            print(outcome, file=sys.stderr)
    if not files and not errors:
        print(f"no rule files (*.yaml, *.yml) in {', '.join(map(str, paths))}", file=sys.stderr)
    return EXIT_INVALID if errors else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each leaf command stores its handler in ``handler``."""
    parser = argparse.ArgumentParser(
        prog="regrep", description="Harbor-style registry replication on Apache Airflow."
    )
    nouns = parser.add_subparsers(dest="noun", required=True, metavar="COMMAND")

    rules = nouns.add_parser("rules", help="work with replication rule files")
    rule_commands = rules.add_subparsers(dest="command", required=True, metavar="ACTION")
    validate = rule_commands.add_parser(
        "validate",
        help="check rule files without running anything",
        description=(
            "Validate replication rule files. Directories contribute their *.yaml and *.yml "
            "files. Without PATH, validates $REGREP_RULES_DIR or ./dags/rules."
        ),
    )
    validate.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="file or directory")
    validate.set_defaults(handler=_validate_rules)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``regrep`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
