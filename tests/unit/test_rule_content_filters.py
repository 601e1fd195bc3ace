"""The rule fields for content beyond Harbor's: labels, platforms and copy_referrers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from regrep.oci.manifests import Platform
from regrep.rules import LabelFilter, Rule, RuleError, load_rule

MINIMAL = "name: m\nsource: src\ndestination: dst\n"


def _load(tmp_path: Path, extra: str) -> Rule:
    path = tmp_path / "rule.yaml"
    path.write_text(MINIMAL + textwrap.dedent(extra))
    return load_rule(path)


def test_defaults(tmp_path: Path) -> None:
    rule = _load(tmp_path, "")
    assert rule.copy_referrers is True
    assert rule.filters.platforms is None
    assert not rule.filters.labels.active


def test_platforms_list_shorthand_and_mapping(tmp_path: Path) -> None:
    short = _load(tmp_path, "filters:\n  platforms: [linux/amd64, linux/arm/v7]\n")
    platforms = short.filters.platforms
    assert platforms is not None and platforms.result == "index"
    assert platforms.parsed == [Platform("linux", "amd64"), Platform("linux", "arm", "v7")]
    full = _load(tmp_path, "filters:\n  platforms: {values: [linux/arm64], result: manifest}\n")
    assert full.filters.platforms is not None and full.filters.platforms.result == "manifest"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "filters:\n  platforms: [linux]\n",
            'filters.platforms.values: platform "linux" is not "os/architecture"',
        ),
        ("filters:\n  platforms: []\n", "filters.platforms.values: "),
        (
            "filters:\n  platforms: {values: [linux/amd64], result: list}\n",
            "filters.platforms.result: ",
        ),
        (
            "filters:\n  labels: {include: [a, b], exclude: [b]}\n",
            "filters.labels.exclude: every excluded label (b) is also included: an artifact "
            "carrying all included labels carries all excluded ones, so none passes",
        ),
        ("filters:\n  labels: {inclde: [a]}\n", 'unknown field "inclde" (did you mean "include"?)'),
        ("copy_referrers: maybe\n", "copy_referrers: "),
    ],
)
def test_problems_name_the_field(tmp_path: Path, extra: str, expected: str) -> None:
    with pytest.raises(RuleError) as caught:
        _load(tmp_path, extra)
    assert expected in str(caught.value)


def test_label_filter_needs_all_included_and_not_all_excluded() -> None:
    wanted = LabelFilter(include=("release", "team-a"), exclude=("deprecated",))
    assert wanted.active
    assert wanted.accepts({"release", "team-a", "extra"})
    assert not wanted.accepts({"release"})
    assert not wanted.accepts({"release", "team-a", "deprecated"})
    assert LabelFilter(exclude=("deprecated",)).accepts(set())
    # Harbor drops an artifact only when it carries every excluded label
    both = LabelFilter(exclude=("deprecated", "broken"))
    assert both.accepts({"deprecated"})
    assert both.accepts({"broken", "release"})
    assert not both.accepts({"deprecated", "broken"})
    assert LabelFilter(include=("a",), exclude=("a", "b")).accepts({"a"})
