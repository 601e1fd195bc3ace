"""The supported Airflow versions are one range, said alike everywhere and tested at both ends.

``pyproject.toml`` declares the range; ``uv.lock`` keeps the upper end for development (the
full suite); ``make test`` also runs the smoke subset on the range's lowest release, pinned in
``requirements/airflow-<version>.txt``; the README states the range.
"""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
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


def lowest_requirements() -> dict[str, str]:
    """What the second environment's requirements file pins: canonical name -> version."""
    path = makefile_value("LOWEST_REQUIREMENTS")
    text = (REPO / path.replace("$(LOWEST_AIRFLOW)", makefile_value("LOWEST_AIRFLOW"))).read_text()
    pins = [line.split("==") for line in text.splitlines() if "==" in line and line[0].isalnum()]
    return {canonicalize_name(name): version for name, version in pins}


def test_the_second_environment_pins_the_lowest_declared_release() -> None:
    lowest = makefile_value("LOWEST_AIRFLOW")
    assert Version(lowest) == lowest_declared(declared_range())
    assert lowest_requirements()["apache-airflow"] == lowest


def test_the_second_environment_has_every_dependency_of_regrep_and_its_tests() -> None:
    """A dependency added to ``pyproject.toml`` needs ``make lowest-airflow-lock`` too."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = [*pyproject["project"]["dependencies"], *pyproject["dependency-groups"]["dev"]]
    pinned = lowest_requirements()
    for requirement in map(Requirement, wanted):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"no {name} pinned for the lowest Airflow: make lowest-airflow-lock"
        assert requirement.specifier.contains(pinned[name]), (requirement, pinned[name])


def test_the_lock_keeps_a_release_in_the_range_for_development() -> None:
    locked = locked_version("apache-airflow")
    assert declared_range().specifier.contains(locked)
    assert Version(locked) > Version(makefile_value("LOWEST_AIRFLOW"))


def test_the_readme_states_the_range() -> None:
    lowest = lowest_declared(declared_range())
    assert f"`apache-airflow>={lowest},<4`" in (REPO / "README.md").read_text()
