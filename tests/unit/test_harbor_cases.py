"""Harbor's own test cases, run against regrep: one row per case, the next difference is a row.

Each row names the Harbor file and line it comes from (``file:line``, the line of the case's
opening brace or comment), its input, and Harbor's expected answer. Where regrep answers
otherwise on purpose, the row says so in ``differs`` and holds regrep's answer instead;
each such reason is also in the README's "Where regrep differs from Harbor" table.

Read through the code index, goharbor/harbor at these commits:

- ``src/pkg/reg/util/pattern_test.go`` 14d84d7753127786e24d4545c3565ed7e03ce5d3 (its
  ``pattern.go``, d76dcadac7c8, delegates to doublestar v1, vendored as
  ``src/vendor/github.com/bmatcuk/doublestar/doublestar.go`` 64e4c85273a8);
- ``src/pkg/reg/filter/resource_test.go`` (the artifact tag and label filters) and
  ``src/controller/replication/flow/stage_test.go`` 09371b48e85aa588e7ddf7bbfc351f93693bec23;
- ``src/pkg/reg/filter/repository_test.go`` b95318379e7bcd5a3579a201f240aefe15b631ac;
- ``src/controller/replication/model/model_test.go``: the version with the case "* is not
  allowed for the Minutes field" (Harbor 2.9+, goharbor/harbor#18923);
- ``src/common/utils/utils_test.go`` (248be37c3e75) has no cron case: the cron rows come
  from ``utils.go``'s ``ValidateCronString`` and ``CronParser`` (seconds first, six fields).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from regrep.rules import Filters, LabelFilter, NameFilter, Rule, TagFilter
from regrep.rules.model import replace_namespace
from regrep.rules.patterns import fixed_namespaces, match, validate_pattern
from regrep.rules.triggers import normalise_cron

PATTERN_TEST = "src/pkg/reg/util/pattern_test.go"
RESOURCE_TEST = "src/pkg/reg/filter/resource_test.go"
REPOSITORY_TEST = "src/pkg/reg/filter/repository_test.go"
MODEL_TEST = "src/controller/replication/model/model_test.go"
STAGE_TEST = "src/controller/replication/flow/stage_test.go"
UTILS = "src/common/utils/utils.go"
ARTIFACT_FILTER = "src/pkg/reg/filter/artifact.go"


@dataclass(frozen=True)
class Case:
    """One Harbor case: where it is, what goes in, what Harbor expects (or regrep answers,
    with the reason, where it ``differs``)."""

    where: str
    given: Any
    expected: Any
    differs: str | None = None


def cases(*rows: Case) -> Any:
    return pytest.mark.parametrize("case", rows, ids=[f"{c.where} {c.given!r}" for c in rows])


# -- pattern_test.go: which projects a name filter lists (ListProjects) -----------------

NESTED = (
    "nested braces: regrep expands them as doublestar matches them and lists that project; "
    "Harbor lists every project, and its name filter then keeps the same repositories"
)
WHOLE_PATTERN = (
    "regrep takes the first path part of the whole pattern, as Harbor's ListProjects does "
    "(IsSpecificPathComponent of the part before the first '/')"
)


@cases(
    # TestIsSpecificPathComponent: the projects named by a pattern's first part
    Case(f"{PATTERN_TEST}:100", "", None),
    Case(f"{PATTERN_TEST}:105", "library/hello-world", ["library"], WHOLE_PATTERN),
    Case(f"{PATTERN_TEST}:110", "library", ["library"]),
    Case(f"{PATTERN_TEST}:115", "lib*", None),
    Case(f"{PATTERN_TEST}:120", "{library}", ["library"]),
    Case(f"{PATTERN_TEST}:125", "{library,test}", ["library", "test"]),
    Case(f"{PATTERN_TEST}:130", "{library{a}c}", ["libraryac"], NESTED),
    # TestIsSpecificPath, read as ListProjects reads a pattern: its first part decides
    Case(f"{PATTERN_TEST}:153", "", None),
    Case(f"{PATTERN_TEST}:158", "library", ["library"]),
    Case(f"{PATTERN_TEST}:163", "library/hello-world", ["library"]),
    Case(f"{PATTERN_TEST}:168", "library/**", ["library"]),
    Case(f"{PATTERN_TEST}:173", "{library}", ["library"]),
    Case(f"{PATTERN_TEST}:178", "library/{hello-world,busybox}", ["library"]),
    # the adapters trim each name (harbor/base/adapter.go ListProjects: strings.TrimSpace)
    Case("src/pkg/reg/adapter/harbor/base/adapter.go ListProjects", "{p1, p2}/**", ["p1", "p2"]),
)
def test_projects_a_name_filter_lists(case: Case) -> None:
    assert fixed_namespaces(case.given) == case.expected


# -- pattern_test.go: TestMatch, and doublestar v1 as Harbor vendors it (the README's forms)

DOUBLESTAR = "src/vendor/github.com/bmatcuk/doublestar/doublestar.go"
SPACES = (
    "spaces around an alternative are trimmed: Harbor lists the trimmed projects but its "
    "name filter then drops their repositories (' p2/**' never matches 'p2/x')"
)


@cases(
    Case(f"{PATTERN_TEST}:31", ("", "library"), True),
    Case(f"{PATTERN_TEST}:36", ("", ""), True),
    Case(f"{PATTERN_TEST}:41", ("*", "library"), True),
    Case(f"{PATTERN_TEST}:46", ("*", "library/hello-world"), False),
    Case(f"{PATTERN_TEST}:51", ("**", "library/hello-world"), True),
    Case(f"{PATTERN_TEST}:56", ("{library,harbor}/**", "library/hello-world"), True),
    Case(f"{PATTERN_TEST}:61", ("{library,harbor}/**", "harbor/hello-world"), True),
    Case(f"{PATTERN_TEST}:66", ("1.?", "1.0"), True),
    Case(f"{PATTERN_TEST}:71", ("1.?", "1.01"), False),
    Case(f"{PATTERN_TEST}:76", ("v2.[4-6].*", "v2.4.0"), True),
    Case(f"{PATTERN_TEST}:81", ("v2.[4-7].*", "v2.7.0"), True),
    Case(f"{DOUBLESTAR} matchComponent: [^...]", ("[^a]*", "busybox"), True),
    Case(f"{DOUBLESTAR} matchComponent: [!...] is a class", ("[!a]*", "alpine"), True),
    Case(f"{DOUBLESTAR} matchComponent: [!...] is a class", ("[!a]*", "busybox"), False),
    Case(f"{DOUBLESTAR} splitAlternatives: one", ("{library}/*", "library/x"), True),
    Case(f"{DOUBLESTAR} splitAlternatives: nested", ("{a,{b,c}}x", "cx"), True),
    Case(f"{DOUBLESTAR} splitAlternatives: empty", ("v{,1}", "v"), True),
    Case(f"{DOUBLESTAR} splitAlternatives: no ranges", ("v{1..3}", "v1..3"), True),
    Case(f"{DOUBLESTAR} splitAlternatives: spaces", ("{p1, p2}/**", "p2/x"), True, SPACES),
    Case(f"{DOUBLESTAR} isZeroLengthPattern", ("*", ""), True),
    Case(f"{DOUBLESTAR} isZeroLengthPattern", ("**/*", ""), True),
    Case(f"{DOUBLESTAR} isZeroLengthPattern", ("v*", ""), False),
    Case(f"{DOUBLESTAR} doMatching: **", ("a/**/z", "a/z"), True),
    Case(f"{DOUBLESTAR} doMatching: **", ("a/**", "a"), False),
    Case(f"{DOUBLESTAR} escapes", ("a\\*", "a*"), True),
)
def test_match(case: Case) -> None:
    pattern, value = case.given
    validate_pattern(pattern)
    assert match(pattern, value) is case.expected


REFUSED_EARLY = (
    "refused when the rule is validated: Harbor fails only when matching reaches it, and "
    "then fails the whole execution"
)
NEVER_MATCHES = "refused when the rule is validated: Harbor accepts it and it never matches"


@cases(
    Case(f"{DOUBLESTAR} ErrBadPattern: '-' in a class", "[a-z0-9-]*", "refused", REFUSED_EARLY),
    Case(f"{DOUBLESTAR} ErrBadPattern: unclosed class", "v[", "refused", REFUSED_EARLY),
    Case(f"{DOUBLESTAR} ErrBadPattern: empty class", "v[]", "refused", REFUSED_EARLY),
    Case(f"{DOUBLESTAR} ErrBadPattern: unclosed brace", "{a,b", "refused", REFUSED_EARLY),
    Case(f"{DOUBLESTAR} ErrBadPattern: lone escape", "v1\\", "refused", REFUSED_EARLY),
    Case(f"{DOUBLESTAR} reversed range", "v[9-0]", "refused", NEVER_MATCHES),
    Case(f"{DOUBLESTAR} literal '}}'", "v1}", "refused", NEVER_MATCHES),
)
def test_patterns_harbor_fails_on_are_refused_early(case: Case) -> None:
    with pytest.raises(ValueError, match=re.escape(f'pattern "{case.given}"')):
        validate_pattern(case.given)


# -- resource_test.go: the artifact tag and label filters --------------------------------

TAGGED: list[tuple[str, list[str], list[str]]] = [  # digest, tags, labels (resource_test.go)
    ("aaaaa", ["test1", "test2", "harbor1"], ["label1"]),
    ("bbbbb", ["test3", "harbor2"], ["label1", "label2"]),
    ("ccccc", ["harbor3"], ["label3"]),
    ("ddddd", [], []),
]


def _tag_filtered(wanted: TagFilter) -> list[tuple[str, list[str] | None]]:
    """Harbor's artifactTagFilter result as (digest, kept tags; None untagged), per regrep."""
    kept: list[tuple[str, list[str] | None]] = []
    for digest, tags, _ in TAGGED:
        if not tags:
            if wanted.selects_untagged:
                kept.append((digest, None))
        elif passing := [tag for tag in tags if wanted.accepts(tag)]:
            kept.append((digest, passing))
    return kept


@cases(
    Case(
        f"{RESOURCE_TEST}:43",
        TagFilter(pattern="test*"),
        [("aaaaa", ["test1", "test2"]), ("bbbbb", ["test3"])],
    ),
    Case(
        f"{RESOURCE_TEST}:61",
        TagFilter(pattern="test*", decoration="excludes"),
        [("aaaaa", ["harbor1"]), ("bbbbb", ["harbor2"]), ("ccccc", ["harbor3"]), ("ddddd", None)],
    ),
)
def test_tag_filter(case: Case) -> None:
    assert _tag_filtered(case.given) == case.expected


@cases(
    Case(f"{RESOURCE_TEST}:127", LabelFilter(include=("label1",)), ["aaaaa", "bbbbb"]),
    Case(f"{RESOURCE_TEST}:145", LabelFilter(exclude=("label1",)), ["ccccc", "ddddd"]),
    # artifactLabelFilter with excludes: dropped only when it carries every listed label
    Case(
        f"{ARTIFACT_FILTER} artifactLabelFilter",
        LabelFilter(exclude=("label1", "label2")),
        [
            "aaaaa",
            "ccccc",
            "ddddd",
        ],
    ),
)
def test_label_filter(case: Case) -> None:
    assert [digest for digest, _, labels in TAGGED if case.given.accepts(set(labels))] == (
        case.expected
    )


# -- repository_test.go: the name filter -------------------------------------------------

REPOSITORIES = ["library/nginx", "library/redis", "jar/app", "demo/app"]


@cases(
    Case(f"{REPOSITORY_TEST}:19", NameFilter(pattern="library/**"), REPOSITORIES[:2]),
    Case(
        f"{REPOSITORY_TEST}:35",
        NameFilter(pattern="jar/**", decoration="excludes"),
        ["library/nginx", "library/redis", "demo/app"],
    ),
)
def test_name_filter(case: Case) -> None:
    assert [name for name in REPOSITORIES if case.given.accepts(name)] == case.expected


@cases(
    Case(f"{REPOSITORY_TEST}:55", {"name": {"pattern": "jar/**", "decoration": "excludes"}}, True),
    Case(
        f"{REPOSITORY_TEST}:62", {"resource": {"value": "image", "decoration": "excludes"}}, False
    ),
)
def test_filter_validation(case: Case) -> None:
    assert _valid(Filters, case.given) is case.expected


def _valid(model: type[BaseModel], data: dict[str, Any]) -> bool:
    try:
        model.model_validate(data)
    except ValidationError:
        return False
    return True


# -- model_test.go: TestValidate -----------------------------------------------------------

BASE = {"name": "policy01", "source": "src", "destination": "dst"}
BOTH_REMOTE = (
    "regrep runs beside the registries, not inside one: both ends are connections, and "
    "neither has to be the local Harbor"
)


@cases(
    Case(f"{MODEL_TEST}:67 empty name", {**BASE, "name": ""}, False),
    Case(f"{MODEL_TEST}:72 no registries", {"name": "policy01"}, False),
    Case(f"{MODEL_TEST}:79 both registries", BASE, True, BOTH_REMOTE),
    Case(f"{MODEL_TEST}:92 invalid filter", {**BASE, "filters": {"invalid_type": "x"}}, False),
    Case(f"{MODEL_TEST}:110", {**BASE, "filters": {"resource": "invalid_resource_type"}}, False),
    Case(f"{MODEL_TEST}:129", {**BASE, "trigger": {"type": "invalid_type"}}, False),
    Case(f"{MODEL_TEST}:151 no cron", {**BASE, "trigger": {"type": "scheduled"}}, False),
    *(
        Case(
            f"{MODEL_TEST}:{line}",
            {
                **BASE,
                "filters": {"resource": "image", "name": "library/**"},
                "trigger": {"type": "scheduled", "cron": cron},
            },
            valid,
        )
        for line, cron, valid in (
            (173, "* * *", False),
            (202, "* * * * * *", False),
            (231, "0 * * * * *", False),
            (260, "0 0 * * * *", True),
        )
    ),
)
def test_policy_validation(case: Case) -> None:
    assert _valid(Rule, case.given) is case.expected


FIVE_FIELDS = (
    "regrep also reads the five-field crons Airflow schedules with (minute first); Harbor's "
    "parser wants six, seconds first"
)


@cases(
    Case(f"{UTILS} ValidateCronString: empty", "", "error"),
    Case(f"{UTILS} ValidateCronString: seconds", "30 0 2 * * *", "error"),
    Case(f"{UTILS} ValidateCronString", "0 0 2 * * *", "0 2 * * *"),
    Case(f"{UTILS} CronParser: five fields", "0 2 * * *", "0 2 * * *", FIVE_FIELDS),
    Case(f"{MODEL_TEST}:231 (five fields)", "* 2 * * *", "error"),
)
def test_cron(case: Case) -> None:
    try:
        answer = normalise_cron(case.given)
    except ValueError:
        answer = "error"
    assert answer == case.expected


def test_harbor_s_cron_reasons_are_given() -> None:
    with pytest.raises(ValueError, match="must be 0"):
        normalise_cron("* * * * * *")
    with pytest.raises(ValueError, match=r"\* is not allowed for the Minutes field"):
        normalise_cron("0 * * * * *")


# -- stage_test.go: replaceNamespace ---------------------------------------------------------

DESTINATION_RULES = (
    "regrep maps names without the destination's path rules and checks those when copying "
    "(the Docker Hub and Harbor hooks' ensure_namespace), failing that resource alone"
)


@cases(
    Case(f"{STAGE_TEST}:124", ("c", "", 0), "c"),
    Case(f"{STAGE_TEST}:134", ("c", "n", -1), "n/c"),
    Case(f"{STAGE_TEST}:142", ("b/c", "n", -1), "n/c"),
    Case(f"{STAGE_TEST}:150", ("a/b/c", "n", -1), "n/c"),
    Case(f"{STAGE_TEST}:158", ("a/b", "n", 2), "error"),
    Case(f"{STAGE_TEST}:165", ("a/b/c", "n", 0), "n/a/b/c"),
    Case(f"{STAGE_TEST}:173", ("a/b/c", "n", 1), "n/b/c"),
    Case(f"{STAGE_TEST}:181", ("a/b/c", "n", 2), "n/c"),
    Case(f"{STAGE_TEST}:189 only two parts", ("a/b/c", "n", 1), "n/b/c", DESTINATION_RULES),
    Case(f"{STAGE_TEST}:196", ("a", "n", 0), "n/a"),
    Case(
        f"{STAGE_TEST}:108 assembleDestinationResources",
        ("library/hello-world", "test", -1),
        ("test/hello-world"),
    ),
)
def test_replace_namespace(case: Case) -> None:
    try:
        answer = replace_namespace(*case.given)
    except ValueError:
        answer = "error"
    assert answer == case.expected


# -- every difference is documented -------------------------------------------------------

README = Path(__file__).parents[2] / "README.md"


@pytest.mark.parametrize(
    "reason",
    [
        WHOLE_PATTERN,
        NESTED,
        SPACES,
        REFUSED_EARLY,
        NEVER_MATCHES,
        BOTH_REMOTE,
        FIVE_FIELDS,
        DESTINATION_RULES,
    ],
)
def test_each_difference_is_in_the_readme(reason: str) -> None:
    text = " ".join(README.read_text().split())
    assert re.sub(r"\s+", " ", reason) in text
