"""The supported Airflow versions are one range, said alike everywhere and tested at both ends.

``pyproject.toml`` declares the range; ``uv.lock`` keeps the upper end for development (the
full suite); ``make test`` also runs the smoke subset on the range's lowest release, pinned in
``requirements/airflow-<version>.txt``; the README states the range.
"""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.version import Version

from tests.support.layout import REPO
from tests.support.lock import locked_version


def declared_range() -> Requirement:
    """``apache-airflow`` as ``pyproject.toml`` requires it."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (airflow,) = [
        requirement
        for requirement in map(Requirement, project["dependencies"])
        if requirement.name == "apache-airflow"
    ]
    return airflow


def lowest_declared(requirement: Requirement) -> Version:
    (lower,) = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
    return lower


def makefile_value(name: str) -> str:
    match = re.search(rf"^{name} := (\S+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert match, f"Makefile sets no {name}"
    return match.group(1)


def test_the_range_is_airflow_3_from_a_minor_release_on() -> None:
    airflow = declared_range()
    lowest = lowest_declared(airflow)
    assert sorted(map(str, airflow.specifier)) == ["<4", f">={lowest}"]
    assert lowest.major == 3


def test_the_second_environment_pins_the_lowest_declared_release() -> None:
    lowest = makefile_value("LOWEST_AIRFLOW")
    assert Version(lowest) == lowest_declared(declared_range())
    pinned = REPO / makefile_value("LOWEST_REQUIREMENTS").replace("$(LOWEST_AIRFLOW)", lowest)
    assert f"\napache-airflow=={lowest}\n" in pinned.read_text()


def test_the_lock_keeps_a_release_in_the_range_for_development() -> None:
    locked = locked_version("apache-airflow")
    assert declared_range().specifier.contains(locked)
    assert Version(locked) > Version(makefile_value("LOWEST_AIRFLOW"))


def test_the_readme_states_the_range() -> None:
    lowest = lowest_declared(declared_range())
    assert f"`apache-airflow>={lowest},<4`" in (REPO / "README.md").read_text()
