"""The ``regrep`` command line.

- ``regrep rules validate [PATH...]``: check rule files without running anything.
- ``regrep rules delete NAME``: remove a rule's file and its DAG, unless it is replicating.
- ``regrep executions show RULE [RUN_ID]`` and ``regrep executions stop RULE RUN_ID``.
- ``regrep endpoints test CONN_ID``: the connection test of the UI's *Test* button.

Subcommands are grouped by noun. The ``rules`` and ``executions`` commands reach Airflow
through its REST API (``$REGREP_API_URL`` with ``$REGREP_API_TOKEN``, or
``$REGREP_API_USER`` and ``$REGREP_API_PASSWORD``), as users' tooling does, so they work
from any machine. ``endpoints test`` needs Airflow's connection lookup (``AIRFLOW_CONN_*``
variables, or the metadata database of the Airflow configured here), so it alone imports
Airflow, when it runs: nothing here imports Airflow at module level, so validating rules
stays fast and works on a machine (or in CI) without an Airflow home.

Exit codes: 0 success; 1 an invalid rule file, a refusal, a failed test or an API error;
2 wrong usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import TypeAlias

import requests

from regrep.airflow_api import AirflowApi, ApiConfigError, ApiError
from regrep.executions.record import DAG_ID_PREFIX, render
from regrep.executions.remote import ExecutionNotFound, fetch_execution, latest_run_id, stop
from regrep.executions.rule_removal import RuleInUse, RuleNotFound, remove_rule
from regrep.rules import Rule, load_rule_files, rule_files, rules_dir

DEFAULT_RULES_DIR = Path("dags/rules")

EXIT_OK = 0
EXIT_INVALID = 1  # usage errors exit 2 from argparse itself
EXIT_FAILED = 1

ApiHandler = Callable[[AirflowApi, argparse.Namespace], int]
API_HELP = (
    "'rules delete' and the 'executions' commands reach Airflow's REST API at $REGREP_API_URL "
    "(default http://localhost:8080) with $REGREP_API_TOKEN, or $REGREP_API_USER and "
    "$REGREP_API_PASSWORD."
)


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


def _through_api(handler: ApiHandler) -> Callable[[argparse.Namespace], int]:
    """Run ``handler`` with a client of the configured API server; report its errors."""

    def run(args: argparse.Namespace) -> int:
        try:
            api = AirflowApi.from_environment()
        except ApiConfigError as error:
            print(f"regrep: {error}", file=sys.stderr)
            return EXIT_FAILED
        try:
            with closing(api):
                return handler(api, args)
        except (ApiError, ExecutionNotFound, ValueError) as error:
            print(f"regrep: {error}", file=sys.stderr)
        except requests.ConnectionError:
            print(f"regrep: cannot reach Airflow's REST API at {api.base_url}", file=sys.stderr)
        return EXIT_FAILED

    return run


def _delete_rule(api: AirflowApi, args: argparse.Namespace) -> int:
    """Remove the rule's file and DAG; refuse while an execution is queued or running."""
    directory: Path = args.rules_dir or rules_dir(DEFAULT_RULES_DIR)
    try:
        removed = remove_rule(api, directory, args.name)
    except RuleNotFound as error:
        print(f"regrep: {error}", file=sys.stderr)
        return EXIT_FAILED
    except RuleInUse as busy:
        print(
            f"regrep: {busy}. Stop them (regrep executions stop {busy.rule.name} RUN_ID) or "
            "wait for them to end.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(
        f"deleted rule {removed.rule.name}: removed {removed.path} and the DAG "
        f"{removed.rule.dag_id}"
    )
    return EXIT_OK


def _show_execution(api: AirflowApi, args: argparse.Namespace) -> int:
    """Print an execution's record: the latest run's unless a run id is given."""
    dag_id = DAG_ID_PREFIX + args.rule
    run_id = args.run_id or latest_run_id(api, dag_id)
    print(render(fetch_execution(api, dag_id, run_id)))
    return EXIT_OK


def _stop_execution(api: AirflowApi, args: argparse.Namespace) -> int:
    """Stop a run's unfinished tasks, then the run; print the record that remains."""
    dag_id = DAG_ID_PREFIX + args.rule
    ended = stop(api, dag_id, args.run_id)
    print(f"stopped {dag_id} {args.run_id}: {len(ended)} unfinished task instance(s) ended")
    print(render(fetch_execution(api, dag_id, args.run_id)))
    return EXIT_OK


def _test_endpoint(args: argparse.Namespace) -> int:
    """Run the connection's test (ping ``/v2/`` with its credentials) and print the verdict."""
    from regrep.hooks import ConnectionConfigError, registry_hook

    try:
        ok, message = registry_hook(args.conn_id).test_connection()
    except ConnectionConfigError as error:
        ok, message = False, str(error)
    print(
        f"{'OK' if ok else 'FAILED'} {args.conn_id}: {message}",
        file=sys.stdout if ok else sys.stderr,
    )
    return EXIT_OK if ok else EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each leaf command stores its handler in ``handler``."""
    parser = argparse.ArgumentParser(
        prog="regrep",
        description="Harbor-style registry replication on Apache Airflow.",
        epilog=API_HELP,
    )
    nouns = parser.add_subparsers(dest="noun", required=True, metavar="COMMAND")
    _add_rule_commands(nouns)
    _add_execution_commands(nouns)
    _add_endpoint_commands(nouns)
    return parser


Nouns: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``add_subparsers`` returns (argparse documents the object, not its class name)."""


def _add_rule_commands(nouns: Nouns) -> None:
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
    delete = rule_commands.add_parser(
        "delete",
        help="delete a rule and its DAG, unless an execution is in progress",
        description=(
            "Delete the rule NAME: remove its file from $REGREP_RULES_DIR (or ./dags/rules) "
            "and its DAG from Airflow. Refused, naming the runs, while one is queued or running."
        ),
    )
    delete.add_argument("name", metavar="NAME", help="the rule's name")
    delete.add_argument("--rules-dir", type=Path, help="the rules directory")
    delete.set_defaults(handler=_through_api(_delete_rule))


def _add_execution_commands(nouns: Nouns) -> None:
    executions = nouns.add_parser("executions", help="see and stop a rule's runs", epilog=API_HELP)
    execution_commands = executions.add_subparsers(dest="command", required=True, metavar="ACTION")
    show = execution_commands.add_parser(
        "show",
        help="what an execution copied, skipped, failed, stopped, or is still doing",
        description="Print an execution's summary and its resources (the latest run's).",
    )
    show.add_argument("rule", metavar="RULE", help="the rule's name")
    show.add_argument("run_id", nargs="?", metavar="RUN_ID", help="the run (default: latest)")
    show.set_defaults(handler=_through_api(_show_execution))
    stop_parser = execution_commands.add_parser(
        "stop",
        help="stop a queued or running execution, keeping what it finished",
        description=(
            "Stop the run's unfinished tasks (running ones fail, pending ones are skipped), "
            "then the run. Finished copies stay succeeded."
        ),
    )
    stop_parser.add_argument("rule", metavar="RULE", help="the rule's name")
    stop_parser.add_argument("run_id", metavar="RUN_ID", help="the run to stop")
    stop_parser.set_defaults(handler=_through_api(_stop_execution))


def _add_endpoint_commands(nouns: Nouns) -> None:
    endpoints = nouns.add_parser("endpoints", help="work with registry endpoints (connections)")
    endpoint_commands = endpoints.add_subparsers(dest="command", required=True, metavar="ACTION")
    test = endpoint_commands.add_parser(
        "test",
        help="test a registry connection",
        description=(
            "Reach the registry of the Airflow connection CONN_ID with its credentials, as "
            "the Connections page's Test button does."
        ),
    )
    test.add_argument("conn_id", metavar="CONN_ID", help="the connection id")
    test.set_defaults(handler=_test_endpoint)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``regrep`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
