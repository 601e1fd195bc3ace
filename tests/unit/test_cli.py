"""The ``regrep`` console script, run as a user runs it: the installed entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REGREP = Path(sys.executable).with_name("regrep")
GOOD = "name: {name}\nsource: src\ndestination: dst\n"


def regrep(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "REGREP_RULES_DIR"}
    return subprocess.run(
        [str(REGREP), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**environment, **(env or {})},
        timeout=60,
        check=False,
    )


def test_valid_directory(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(GOOD.format(name="beta"))
    (tmp_path / "a.yml").write_text(GOOD.format(name="alpha"))
    result = regrep("rules", "validate", tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        f"OK {tmp_path / 'a.yml'} (rule alpha)",
        f"OK {tmp_path / 'b.yaml'} (rule beta)",
    ]
    assert result.stderr == ""


def test_errors_go_to_stderr_and_exit_1(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD.format(name="good"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.format(name="bad") + "overide: true\nfilters: {tag: 'v['}\n")
    result = regrep("rules", "validate", good, bad, tmp_path / "absent.yaml")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"OK {good} (rule good)"]
    assert result.stderr.splitlines() == [
        f"{tmp_path / 'absent.yaml'}: no such file or directory",
        f"{bad}: filters.tag: pattern \"v[\": unclosed character class '[' "
        "(Harbor: syntax error in pattern)",
        f'{bad}: unknown field "overide" (did you mean "override"?)',
    ]


def test_duplicate_rule_names_across_files(tmp_path: Path) -> None:
    for file in ("one.yaml", "two.yaml"):
        (tmp_path / file).write_text(GOOD.format(name="same"))
    result = regrep("rules", "validate", tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"OK {tmp_path / 'one.yaml'} (rule same)"]
    assert result.stderr.splitlines() == [
        f'{tmp_path / "two.yaml"}: name: rule "same" is already defined in {tmp_path / "one.yaml"}'
    ]


def test_yaml_syntax_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nsource: [a\n")
    result = regrep("rules", "validate", broken)
    assert result.returncode == 1
    assert result.stderr.startswith(f"{broken}: line 3: invalid YAML: ")


def test_defaults_to_dags_rules_under_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "dags" / "rules").mkdir(parents=True)
    (tmp_path / "dags" / "rules" / "r.yaml").write_text(GOOD.format(name="r"))
    result = regrep("rules", "validate", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "OK dags/rules/r.yaml (rule r)\n")


def test_defaults_to_the_rules_dir_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(GOOD.format(name="from-env"))
    result = regrep("rules", "validate", env={"REGREP_RULES_DIR": str(tmp_path)})
    assert (result.returncode, result.stdout) == (0, f"OK {tmp_path / 'r.yaml'} (rule from-env)\n")


def test_empty_directory_is_valid_but_says_so(tmp_path: Path) -> None:
    result = regrep("rules", "validate", tmp_path)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == f"no rule files (*.yaml, *.yml) in {tmp_path}\n"


@pytest.mark.parametrize("args", [(), ("rules",), ("rules", "lint"), ("bogus",)])
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = regrep(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: regrep")


def test_help_exits_0() -> None:
    result = regrep("rules", "validate", "--help")
    assert result.returncode == 0
    assert "REGREP_RULES_DIR" in result.stdout


def test_cli_does_not_import_airflow() -> None:
    code = (
        "import sys, regrep.cli; print(sorted(m for m in sys.modules if m.startswith('airflow')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout == "[]\n"


def test_api_commands_say_how_to_reach_airflow() -> None:
    result = regrep("executions", "show", "mirror", env={"REGREP_API_URL": "http://127.0.0.1:9"})
    assert result.returncode == 1
    assert result.stderr == (
        "regrep: set REGREP_API_TOKEN, or REGREP_API_USER and REGREP_API_PASSWORD, to reach "
        "Airflow's REST API at http://127.0.0.1:9 (set REGREP_API_URL for another address)\n"
    )


def test_an_unreachable_api_is_reported_plainly() -> None:
    env = {"REGREP_API_URL": "http://127.0.0.1:9", "REGREP_API_TOKEN": "t"}
    result = regrep("executions", "stop", "mirror", "manual__1", env=env)
    assert result.returncode == 1
    assert result.stderr == "regrep: cannot reach Airflow's REST API at http://127.0.0.1:9\n"


def test_deleting_an_unknown_rule_names_the_directory(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(GOOD.format(name="other"))
    env = {"REGREP_API_URL": "http://127.0.0.1:9", "REGREP_API_TOKEN": "t"}
    result = regrep("rules", "delete", "mirror", "--rules-dir", tmp_path, env=env)
    assert result.returncode == 1
    assert result.stderr == f"regrep: no rule named 'mirror' in {tmp_path}\n"
    assert (tmp_path / "r.yaml").exists()


@pytest.mark.parametrize(
    "command",
    [("rules", "delete"), ("executions", "show"), ("executions", "stop"), ("endpoints", "test")],
)
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    result = regrep(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: regrep {' '.join(command)}")
