"""regrep's wheel installs into an existing Airflow, the way a user adds a provider.

``uv build`` makes the wheel and the sdist from this checkout. A fresh virtual environment gets
Airflow and its dependencies at the locked versions (``uv export`` of ``uv.lock``, the part
Airflow's constraints file plays for a user), then the wheel, constrained the same way. The
repository's ``dags/`` and ``plugins/`` are Airflow's dags and plugins folders throughout.

Before the wheel is installed, regrep is only code in the plugins folder (a copy without an
install): the plugin comes from ``regrep_plugin.py`` and there is no provider, yet a rule
replicates (``airflow dags test`` between two real registries, connections as JSON). Once it
is installed, ``airflow providers list`` shows regrep with its version and every connection
type, the plugin comes once, from the entry point, and the rule replicates what is new.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import regrep
from regrep.provider_info import CONNECTION_TYPES
from tests.integration.airflow.dagruns import connection_json, rule_yaml
from tests.support.images import manifest_digest, push_image
from tests.support.layout import DAGS_FOLDER, PLUGINS_FOLDER, REPO
from tests.support.lock import locked_version
from tests.support.registries import RegistryPair

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

WHEEL = f"regrep-{regrep.__version__}-py3-none-any.whl"
SDIST = f"regrep-{regrep.__version__}.tar.gz"


def uv() -> list[str]:
    """uv as ``make env`` installs it (``python3 -m uv``), or a ``uv`` program on PATH."""
    for program, *args in (["uv"], ["python3", "-m", "uv"]):
        found = shutil.which(program)
        version = [found, *args, "--version"]
        if found and subprocess.run(version, capture_output=True, check=False).returncode == 0:
            return [found, *args]
    pytest.fail("uv is not installed: run `make test`, which installs it", pytrace=False)


def run(command: list[str], env: Mapping[str, str] | None = None, timeout: float = 300) -> str:
    """Run a command; fail the test with its output if it fails."""
    done = subprocess.run(
        command,
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Airflow:
    """The ``airflow`` command of the fresh environment, in Airflow's layout of the repository."""

    def __init__(self, venv: Path, home: Path, rules: Path) -> None:
        self.venv = venv
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AIRFLOW", "REGREP_"))
        }
        self.env.update(
            {
                "PATH": f"{venv / 'bin'}{os.pathsep}{self.env.get('PATH', '')}",
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
                "REGREP_RULES_DIR": str(rules),
            }
        )

    def __call__(self, *args: str) -> str:
        return run([str(self.venv / "bin" / "airflow"), *args], self.env)

    def json(self, *args: str) -> Any:
        """A command's ``--output json`` document: its last line (log lines come before)."""
        return json.loads(self(*args, "--output", "json").strip().splitlines()[-1])

    def regrep_plugins(self) -> list[str]:
        """The source of each plugin named regrep that ``airflow plugins`` lists."""
        return [str(p["source"]) for p in self.json("plugins") if p["name"] == "regrep"]


def test_the_wheel_installs_into_an_existing_airflow_and_replicates(
    registry_pair: RegistryPair, tmp_path: Path
) -> None:
    dist, venv, rules = tmp_path / "dist", tmp_path / "venv", tmp_path / "rules"
    rules.mkdir()
    uv_command = uv()
    run([*uv_command, "build", "--quiet", "--out-dir", str(dist)])
    assert sorted(path.name for path in dist.iterdir() if path.name.startswith("regrep")) == [
        WHEEL,
        SDIST,
    ]
    locked = tmp_path / "locked.txt"  # uv.lock's versions, the wheel's own dependencies too
    lock_export = ["--quiet", "--frozen", "--no-dev", "--no-emit-project", "-o", str(locked)]
    run([*uv_command, "export", *lock_export])
    run([*uv_command, "venv", "--quiet", "--python", sys.executable, str(venv)])
    python = str(venv / "bin" / "python")
    install = [*uv_command, "pip", "install", "--quiet", "--python", python]
    run([*install, "--requirement", str(locked)])
    airflow = Airflow(venv, tmp_path / "home", rules)
    airflow("db", "migrate")

    source, destination = registry_pair
    image = push_image(source, "library/app", "1.0")
    (rules / "wheel.yaml").write_text(rule_yaml("wheel", source="src", destination="dst"))
    for conn_id, registry in (("SRC", source), ("DST", destination)):
        document = connection_json(registry, login=None, password=None)
        airflow.env[f"AIRFLOW_CONN_{conn_id}"] = document

    # regrep only as code in the plugins folder: the plugin, no provider, a replication.
    assert airflow.regrep_plugins() == ["$PLUGINS_FOLDER/regrep_plugin.py"]
    assert "regrep" not in {p["package_name"] for p in airflow.json("providers", "list")}
    airflow("dags", "test", "replicate_wheel")
    assert manifest_digest(destination, "library/app", "1.0") == image.digest

    airflow_pin = f"apache-airflow=={locked_version('apache-airflow')}"
    run([*install, "--constraint", str(locked), airflow_pin, str(dist / WHEEL)])

    providers = {p["package_name"]: p["version"] for p in airflow.json("providers", "list")}
    assert providers["regrep"] == regrep.__version__
    hooks = {
        hook["connection_type"]: hook["class"]
        for hook in airflow.json("providers", "hooks")
        if hook["package_name"] == "regrep"
    }
    assert hooks == {kind["connection-type"]: kind["hook-class-name"] for kind in CONNECTION_TYPES}
    assert airflow.regrep_plugins() == [
        f"regrep=={regrep.__version__}: EntryPoint(name='regrep', "
        "value='regrep.plugin:RegrepPlugin', group='airflow.plugins')"
    ]
    # Airflow appends its plugins folder to sys.path: its processes import the installed regrep.
    imported = run([python, "-c", "import airflow, regrep; print(regrep.__file__)"], airflow.env)
    assert Path(imported.strip().splitlines()[-1]).is_relative_to(venv)

    newer = push_image(source, "library/app", "1.1")
    airflow("dags", "test", "replicate_wheel")
    assert manifest_digest(destination, "library/app", "1.1") == newer.digest
