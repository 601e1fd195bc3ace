"""Rule files written by the Replication page: valid YAML that reads back as the same rule,
never half-written, and the switches of ``enabled`` that keep the author's comments."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from regrep.rules import Rule, RuleError, load_rule, load_rules, rule_files
from regrep.rules.problems import locate
from regrep.rules.writing import rule_document, set_enabled, write_atomically, write_rule

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "rules" / "examples"


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_a_written_rule_reads_back_as_the_same_rule(example: Path, tmp_path: Path) -> None:
    rule = load_rule(example)
    path = tmp_path / "rule.yaml"

    write_rule(path, rule)

    assert load_rule(path) == rule
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_a_written_rule_holds_the_fields_that_differ_from_their_defaults(tmp_path: Path) -> None:
    rule = Rule.model_validate(
        {
            "name": "mirror",
            "source": "src",
            "destination": "dst",
            "filters": {"tag": "v*"},
            "destination_namespace": "mirror",
            "notify": "hooks",
        }
    )

    document = rule_document(rule)

    assert list(document) == [
        "name",
        "source",
        "destination",
        "filters",
        "destination_namespace",
        "destination_namespace_replace_count",  # Harbor's default, made explicit
        "notify",
    ]
    assert document["filters"] == {"tag": "v*"}  # the shorthand users write
    assert document["notify"] == ["hooks"]


def test_the_rule_loader_never_reads_a_temporary_file(tmp_path: Path) -> None:
    """A write in progress leaves ``.<name>.yaml.<random>.tmp`` beside the rules: hidden
    and not ``*.yaml``, so a parse at that moment never sees half a rule."""
    write_rule(tmp_path / "kept.yaml", Rule(name="kept", source="s", destination="d"))
    (tmp_path / ".kept.yaml.1a2b3c4d.tmp").write_text("name: kept\nsource: s\ndestin")

    files, errors = rule_files([tmp_path])
    rules, invalid = load_rules(tmp_path)

    assert (files, errors, invalid) == ([tmp_path / "kept.yaml"], [], [])
    assert [rule.name for rule in rules] == ["kept"]


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rule.yaml"
    path.write_text("name: old\nsource: s\ndestination: d\n")

    def no_space(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(path, "name: new\n")

    assert path.read_text() == "name: old\nsource: s\ndestination: d\n"
    assert list(tmp_path.iterdir()) == [path]


COMMENTED = """\
# Mirror of the library images, owned by the platform team.
name: mirror   # the DAG is replicate_mirror
source: src
destination: dst
enabled: true  # switched off during migrations
"""


def test_switching_a_rule_off_changes_only_its_enabled_line(tmp_path: Path) -> None:
    path = tmp_path / "mirror.yaml"
    path.write_text(COMMENTED)

    rule = set_enabled(path, False)

    assert rule.enabled is False
    assert path.read_text() == COMMENTED.replace(
        "enabled: true  # switched", "enabled: false  # switched"
    )
    assert set_enabled(path, True).enabled is True
    assert path.read_text() == COMMENTED


def test_switching_a_rule_without_an_enabled_line_appends_one(tmp_path: Path) -> None:
    path = tmp_path / "mirror.yaml"
    path.write_text("name: mirror\nsource: src\ndestination: dst")  # no final newline

    set_enabled(path, False)

    assert path.read_text() == "name: mirror\nsource: src\ndestination: dst\nenabled: false\n"


def test_switching_a_flow_style_rule_writes_it_anew(tmp_path: Path) -> None:
    path = tmp_path / "mirror.yaml"
    path.write_text("{name: mirror, source: src, destination: dst, enabled: true}\n")

    set_enabled(path, False)

    assert yaml.safe_load(path.read_text()) == {
        "name": "mirror",
        "source": "src",
        "destination": "dst",
        "enabled": False,
    }


def test_an_invalid_file_is_not_switched(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nsource: src\n")

    with pytest.raises(RuleError, match='missing required field "destination"'):
        set_enabled(path, False)
    assert path.read_text() == "name: broken\nsource: src\n"


def test_each_problem_is_located_at_the_field_it_concerns() -> None:
    """The rule form shows each problem beside its field: the path a user wrote."""
    body = {
        "name": "Bad Name",
        "source": "src",
        "destination": "dst",
        "filters": {"tag": {"pattern": "v[", "decoration": "sometimes"}},
        "trigger": {"type": "scheduled", "cron": "61 * * * *"},
        "notify": ["hooks", "hooks"],
        "retries": -1,
    }
    with pytest.raises(ValidationError) as caught:
        Rule.model_validate(body)

    located = dict(locate(error) for error in caught.value.errors())

    assert set(located) == {
        "name",
        "filters.tag.pattern",
        "filters.tag.decoration",
        "trigger.cron",
        "notify",
        "retries",
    }
    assert located["notify"] == "connection(s) hooks named more than once"
    assert located["trigger.cron"].startswith('cron "61 * * * *"')


def test_notify_names_valid_connection_ids() -> None:
    rule = Rule.model_validate({"name": "m", "source": "s", "destination": "d", "notify": "hooks"})
    assert rule.notify == ("hooks",)
    with pytest.raises(ValidationError, match='"hooks and more" is not a valid Airflow'):
        Rule.model_validate(
            {"name": "m", "source": "s", "destination": "d", "notify": ["hooks and more"]}
        )
