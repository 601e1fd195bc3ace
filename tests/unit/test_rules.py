"""The rule model: fields, defaults, Harbor's namespace flattening and the error messages."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from regrep.rules import (
    FLATTEN_ALL,
    RULES_DIR_ENV,
    Rule,
    RuleError,
    ScheduledTrigger,
    load_rule,
    load_rules,
    normalise_cron,
    replace_namespace,
    rules_dir,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "rules" / "examples"

FULL_RULE = """\
name: mirror-library            # [a-z0-9][a-z0-9._-]*  ; dag_id = "replicate_<name>"
description: Mirror library images nightly
source: src_registry            # Airflow connection id (validate charset [A-Za-z0-9_.-]+)
destination: dst_registry       # Airflow connection id
filters:
  name: "library/**"            # repository name pattern (optional)
  tag: "v*"
  resource: image               # image | chart | artifact (default: all)
destination_namespace: mirror
destination_namespace_replace_count: 1
trigger: {type: manual}
override: true
enabled: true
retries: 3
retry_delay_minutes: 5
replicate_deletion: false
"""

MINIMAL = "name: m\nsource: src\ndestination: dst\n"


def write(directory: Path, text: str, name: str = "rule.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(directory: Path, text: str) -> list[str]:
    """The lines of the RuleError for a rule file with ``text``, without the file prefix."""
    path = write(directory, text)
    with pytest.raises(RuleError) as caught:
        load_rule(path)
    lines = str(caught.value).splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    return [line.removeprefix(f"{path}: ") for line in lines]


def test_full_rule_loads(tmp_path: Path) -> None:
    rule = load_rule(write(tmp_path, FULL_RULE))
    assert rule.name == "mirror-library"
    assert rule.dag_id == "replicate_mirror-library"
    assert (rule.source, rule.destination) == ("src_registry", "dst_registry")
    assert rule.filters.name.pattern == "library/**"
    assert (rule.filters.tag.pattern, rule.filters.tag.decoration) == ("v*", "matches")
    assert rule.filters.resource == "image"
    assert rule.destination_repository("library/nginx") == "mirror/nginx"
    assert rule.trigger.type == "manual"
    assert (rule.override, rule.enabled, rule.replicate_deletion) == (True, True, False)
    assert (rule.retries, rule.retry_delay_minutes) == (3, 5)


def test_defaults_select_everything_manually(tmp_path: Path) -> None:
    rule = load_rule(write(tmp_path, MINIMAL))
    assert rule.description == ""
    assert rule.filters.name.pattern == "" and rule.filters.tag.pattern == ""
    assert rule.filters.resource is None
    assert rule.destination_namespace is None
    assert rule.destination_namespace_replace_count is None
    assert rule.trigger.type == "manual"
    assert (rule.override, rule.enabled, rule.replicate_deletion) == (True, True, False)
    assert rule.destination_repository("a/b/c") == "a/b/c"


def test_empty_yaml_values_mean_absent(tmp_path: Path) -> None:
    rule = load_rule(write(tmp_path, MINIMAL + "filters:\n  name:\n  tag:\n"))
    assert rule.filters.name.pattern == "" and rule.filters.tag.accepts("anything")


def test_tag_filter_mapping_form(tmp_path: Path) -> None:
    text = MINIMAL + "filters:\n  tag: {pattern: '*-rc*', decoration: excludes}\n"
    tag = load_rule(write(tmp_path, text)).filters.tag
    assert tag.accepts("1.0") and not tag.accepts("1.0-rc1")


def test_examples_are_valid() -> None:
    names = {load_rule(path).trigger.type for path in EXAMPLES.glob("*.yaml")}
    assert names == {"manual", "scheduled", "event_based"}


@pytest.mark.parametrize(
    ("repository", "count", "expected"),
    [
        ("a/b/c", 0, "n/a/b/c"),  # No Flattening
        ("a/b/c", 1, "n/b/c"),  # Flatten 1 Level
        ("a/b/c", 2, "n/c"),
        ("a/b/c", FLATTEN_ALL, "n/c"),  # Flatten All Levels
        ("nginx", FLATTEN_ALL, "n/nginx"),
        ("nginx", 0, "n/nginx"),
    ],
)
def test_replace_namespace(repository: str, count: int, expected: str) -> None:
    assert replace_namespace(repository, "n", count) == expected


def test_replace_namespace_without_namespace_keeps_the_name() -> None:
    assert replace_namespace("a/b/c", None, 2) == "a/b/c"


@pytest.mark.parametrize(("repository", "count"), [("a/b", 2), ("a/b", 3), ("a/b/c", 3)])
def test_replace_namespace_never_replaces_the_name(repository: str, count: int) -> None:
    with pytest.raises(ValueError) as caught:
        replace_namespace(repository, "n", count)
    assert str(caught.value) == (
        f'repository "{repository}" cannot be flattened by destination_namespace_replace_count '
        f"{count}: it has only {repository.count('/')} namespace part(s) before its name "
        f"{repository.rsplit('/', 1)[1]!r}"
    )


def test_namespace_defaults_to_flatten_one_level(tmp_path: Path) -> None:
    rule = load_rule(write(tmp_path, MINIMAL + "destination_namespace: team/mirror\n"))
    assert rule.destination_namespace_replace_count == 1
    assert rule.destination_repository("library/redis") == "team/mirror/redis"


def test_flatten_all_levels(tmp_path: Path) -> None:
    text = MINIMAL + "destination_namespace: n\ndestination_namespace_replace_count: -1\n"
    assert load_rule(write(tmp_path, text)).destination_repository("a/b/c/d/img") == "n/img"


def test_flattening_too_deep_for_the_repository_fails_at_plan_time(tmp_path: Path) -> None:
    text = MINIMAL + "destination_namespace: n\ndestination_namespace_replace_count: 3\n"
    rule = load_rule(write(tmp_path, text))
    assert rule.destination_repository("a/b/c/d") == "n/d"
    with pytest.raises(ValueError, match="only 2 namespace part"):
        rule.destination_repository("a/b/c")


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 2 * * *", "0 2 * * *"),
        ("*/15  *  * * MON-FRI", "*/15 * * * MON-FRI"),
        ("0 0 2 * * *", "0 2 * * *"),  # Harbor's six fields, seconds first
    ],
)
def test_normalise_cron(cron: str, expected: str) -> None:
    assert normalise_cron(cron) == expected


@pytest.mark.parametrize(
    ("cron", "problem"),
    [
        ("30 0 2 * * *", "the 1st field (indicating Seconds of time) of the cron setting"),
        ("0 * * * * *", "* is not allowed for the Minutes field of the cron setting"),
        ("* 2 * * *", "* is not allowed for the Minutes field of the cron setting"),
        ("0 2 * *", "expected five fields"),
        ("@daily", "expected five fields"),
        ("0 0 2 * * * 2030", "expected five fields"),
        ("61 * * * *", "out of range"),
        ("0 2 * * funday", "is not acceptable"),
    ],
)
def test_bad_cron(cron: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        normalise_cron(cron)
    assert str(caught.value).startswith(f'cron "{cron}": ')
    assert problem in str(caught.value)


def test_scheduled_trigger_stores_five_fields(tmp_path: Path) -> None:
    text = MINIMAL + "trigger: {type: scheduled, cron: '0 30 1 * * *'}\n"
    assert load_rule(write(tmp_path, text)).trigger == ScheduledTrigger(
        type="scheduled", cron="30 1 * * *"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MINIMAL + "overide: false\n",
            ['unknown field "overide" (did you mean "override"?)'],
        ),
        (
            MINIMAL + "filters: {nmae: 'library/*'}\n",
            ['filters: unknown field "nmae" (did you mean "name"?)'],
        ),
        (
            MINIMAL + "trigger: {type: scheduled, cron: '0 2 * * *', tz: UTC}\n",
            ['trigger: unknown field "tz"'],
        ),
        (
            "name: Mirror_Library\nsource: s\ndestination: d\n",
            [
                'name: "Mirror_Library" is not a valid rule name: use lowercase letters, '
                'digits, ".", "_" and "-", starting with a letter or digit, at most 200 '
                'characters (the DAG id is "replicate_<name>")'
            ],
        ),
        (
            MINIMAL + "trigger: {type: scheduled, cron: '0 25 * * *'}\n",
            ['trigger.cron: cron "0 25 * * *": [0 25 * * *] is not acceptable, out of range'],
        ),
        (
            MINIMAL + "trigger: {type: scheduled}\n",
            ['trigger: missing required field "cron"'],
        ),
        (
            MINIMAL + "trigger: {type: hourly}\n",
            ['trigger: type "hourly" is not one of: manual, scheduled, event_based'],
        ),
        (
            MINIMAL + "trigger: {cron: '0 2 * * *'}\n",
            ['trigger: missing required field "type" (one of: manual, scheduled, event_based)'],
        ),
        (
            MINIMAL + "filters: {tag: 'v['}\n",
            [
                "filters.tag: pattern \"v[\": unclosed character class '[' "
                "(Harbor: syntax error in pattern)"
            ],
        ),
        (
            MINIMAL + "filters: {tag: {pattern: 'v{1,2', decoration: excludes}}\n",
            [
                "filters.tag.pattern: pattern \"v{1,2\": unclosed '{' "
                "(Harbor: syntax error in pattern)"
            ],
        ),
        (
            MINIMAL + "filters: {tag: {pattern: 'v*', decoration: exclude}}\n",
            ["filters.tag.decoration: Input should be 'matches' or 'excludes' (got 'exclude')"],
        ),
        (
            MINIMAL + "filters: {resource: images}\n",
            ["filters.resource: Input should be 'image', 'chart' or 'artifact' (got 'images')"],
        ),
        (
            "name: m\ndestination: dst\n",
            ['missing required field "source"'],
        ),
        (
            "name: m\nsource: my conn\ndestination: dst\n",
            [
                'source: "my conn" is not a valid Airflow connection id '
                '(letters, digits, "_", ".", "-")'
            ],
        ),
        (
            MINIMAL + "replicate_deletion: true\n",
            [
                "replicate_deletion: only applies to event_based triggers, not manual: "
                "Harbor does not replicate deletions for manual or scheduled rules"
            ],
        ),
        (
            MINIMAL + "trigger: {type: scheduled, cron: '0 2 * * *'}\nreplicate_deletion: true\n",
            [
                "replicate_deletion: only applies to event_based triggers, not scheduled: "
                "Harbor does not replicate deletions for manual or scheduled rules"
            ],
        ),
        (
            MINIMAL + "destination_namespace: Mirror/\n",
            [
                'destination_namespace: "Mirror/" is not a valid namespace: use a repository '
                'path such as "mirror" or "team/mirror" (lowercase letters, digits and the '
                'separators ".", "_", "-")'
            ],
        ),
        (
            MINIMAL + "destination_namespace_replace_count: 2\n",
            [
                "destination_namespace_replace_count: only applies with destination_namespace "
                "(without a namespace the repository name is kept as it is)"
            ],
        ),
        (
            MINIMAL
            + "filters: {name: '{library,team/tools}/*'}\n"
            + "destination_namespace: n\ndestination_namespace_replace_count: 3\n",
            [
                "destination_namespace_replace_count: replacing 3 leading namespace part(s) "
                "needs repositories with at least 4 parts (the name itself is kept), but "
                'filters.name "{library,team/tools}/*" matches names of 2 part(s)'
            ],
        ),
        (
            MINIMAL + "destination_namespace_replace_count: -2\ndestination_namespace: n\n",
            [
                "destination_namespace_replace_count: Input should be greater than or equal "
                "to -1 (got -2)"
            ],
        ),
        (
            "name: m\nsource: reg\ndestination: reg\n",
            [
                'destination_namespace: source and destination are both "reg": without a '
                "destination namespace every resource would be copied onto itself"
            ],
        ),
        (
            MINIMAL + "retries: -1\nenabled: maybe\n",
            [
                "enabled: Input should be a valid boolean, unable to interpret input (got 'maybe')",
                "retries: Input should be greater than or equal to 0 (got -1)",
            ],
        ),
    ],
)
def test_validation_errors(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert problems(tmp_path, text) == expected


def test_every_problem_is_reported(tmp_path: Path) -> None:
    text = "name: -bad\nsource: s\noveride: true\nfilters: {tag: 'v['}\n"
    assert [line.split(":")[0] for line in problems(tmp_path, text)] == [
        "name",
        'missing required field "destination"',
        "filters.tag",
        'unknown field "overide" (did you mean "override"?)',
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: m\nsource: s\n  destination: d\n",
            "line 3: invalid YAML: mapping values are not allowed here",
        ),
        (
            "name: m\nsource: [s\n",
            "line 3: invalid YAML: expected ',' or ']', but got '<stream end>'",
        ),
        ("name: m\nsource: s\nname: n\n", 'line 3: invalid YAML: duplicate key "name"'),
        ("- name: m\n", "the top level must be a mapping of rule fields, not a list"),
        ("just text\n", "the top level must be a mapping of rule fields, not a str"),
        ("# nothing\n", "the file is empty: expected a mapping of rule fields"),
    ],
)
def test_file_level_errors(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(tmp_path, text) == [expected]


def test_unreadable_files(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(RuleError, match=r"binary.yaml: not a UTF-8 text file"):
        load_rule(binary)
    with pytest.raises(RuleError, match=r"missing.yaml: cannot read: No such file"):
        load_rule(tmp_path / "missing.yaml")


def test_load_rules_keeps_good_rules_beside_bad_ones(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL.replace("name: m", "name: alpha"), "a.yaml")
    write(tmp_path, "name: beta\nsource: s\n", "b.yaml")
    write(tmp_path, MINIMAL.replace("name: m", "name: gamma"), "c.yml")
    write(tmp_path, MINIMAL.replace("name: m", "name: alpha"), "d.yaml")
    write(tmp_path, "not: [a rule", ".editor-backup.yaml")
    write(tmp_path, "not a rule", "notes.txt")
    (tmp_path / "nested").mkdir()
    write(tmp_path / "nested", MINIMAL, "ignored.yaml")

    rules, errors = load_rules(tmp_path)

    assert [rule.name for rule in rules] == ["alpha", "gamma"]
    assert [str(error) for error in errors] == [
        f'{tmp_path / "b.yaml"}: missing required field "destination"',
        f'{tmp_path / "d.yaml"}: name: rule "alpha" is already defined in {tmp_path / "a.yaml"}',
    ]


def test_load_rules_of_a_missing_directory(tmp_path: Path) -> None:
    rules, errors = load_rules(tmp_path / "absent")
    assert rules == []
    assert [str(error) for error in errors] == [f"{tmp_path / 'absent'}: no such file or directory"]


def test_rules_dir_honours_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RULES_DIR_ENV, raising=False)
    assert rules_dir(Path("dags/rules")) == Path("dags/rules")
    monkeypatch.setenv(RULES_DIR_ENV, str(tmp_path))
    assert rules_dir(Path("dags/rules")) == tmp_path


def test_rules_are_immutable() -> None:
    rule = Rule(name="m", source="s", destination="d")
    with pytest.raises(ValueError, match="frozen"):
        rule.name = "other"
