"""Harbor's name/tag pattern semantics (the table in Harbor's replication docs and more)."""

from __future__ import annotations

import pytest

from regrep.rules.patterns import Decoration, accepts, fixed_depths, match, validate_pattern

MATCHES = [
    # Harbor's documented table
    ("library/*", "library/hello-world", True),
    ("library/*", "library/my/hello-world", False),
    ("library/**", "library/hello-world", True),
    ("library/**", "library/my/hello-world", True),
    ("{library,goharbor}/**", "library/hello-world", True),
    ("{library,goharbor}/**", "goharbor/harbor-core", True),
    ("{library,goharbor}/**", "google/hello-world", False),
    ("1.?", "1.0", True),
    ("1.?", "1.01", False),
    # an empty pattern is an absent filter: everything
    ("", "library/hello-world", True),
    ("", "v1.0", True),
    # ** alone matches any depth; * alone only one part
    ("**", "a", True),
    ("**", "a/b/c", True),
    ("*", "hello-world", True),
    ("*", "library/hello-world", False),
    # ** in the middle also matches zero parts
    ("a/**/z", "a/z", True),
    ("a/**/z", "a/b/c/z", True),
    ("a/**/z", "a/b/c", False),
    # ** that is not a whole part is a plain *
    ("lib**", "library", True),
    ("lib**", "lib/x", False),
    # tags: dots, dashes, underscores are ordinary characters
    ("v*", "v1.2.3-rc.1", True),
    ("v*", "1.2.3", False),
    ("*-alpine", "3.19-alpine", True),
    ("*-alpine", "3.19-alpine-slim", False),
    ("1.2.?", "1.2.x", True),
    ("*_amd64", "v1_amd64", True),
    ("*", ".hidden", True),
    # whole-string match, case-sensitive
    ("v1", "v1.0", False),
    ("latest", "Latest", False),
    # classes and nested alternatives
    ("v[0-9].*", "v1.0", True),
    ("v[0-9].*", "vx.0", False),
    ("[^a]*", "busybox", True),
    ("[^a]*", "alpine", False),
    # doublestar negates with ^ only: [!a] is the class of '!' and 'a'
    ("[!a]*", "alpine", True),
    ("[!a]*", "busybox", False),
    ("[!a]*", "!x", True),
    # one alternative, nested ones, spaces around alternatives trimmed
    ("{library}/*", "library/x", True),
    ("v{1..3}", "v1..3", True),
    ("v{1..3}", "v2", False),
    ("{p1, p2}/**", "p2/x", True),
    ("{a,b{c,d}}", "bd", True),
    # the empty value (an untagged artifact's tag)
    ("*", "", True),
    ("**", "", True),
    ("**/*", "", True),
    ("{,v*}", "", True),
    ("v*", "", False),
    ("*/**", "", False),
    ("?", "", False),
    ("{a,{b,c}}x", "cx", True),
    ("v{,1}", "v", True),
    # characters with a meaning in other glob dialects stay literal
    ("!latest", "latest", False),
    ("!latest", "!latest", True),
    ("a|b", "a", False),
    ("@(a|b)", "a", False),
    ("a\\*", "a*", True),
    ("a\\*", "ab", False),
]


@pytest.mark.parametrize(("pattern", "value", "expected"), MATCHES)
def test_match(pattern: str, value: str, expected: bool) -> None:
    validate_pattern(pattern)
    assert match(pattern, value) is expected


@pytest.mark.parametrize(
    ("pattern", "decoration", "tag", "expected"),
    [
        ("v*", "matches", "v1", True),
        ("v*", "matches", "1", False),
        ("v*", "excludes", "v1", False),
        ("v*", "excludes", "1", True),
        ("", "matches", "v1", True),
        ("", "excludes", "v1", True),  # Harbor skips an empty tag filter entirely
    ],
)
def test_accepts_with_decoration(
    pattern: str, decoration: Decoration, tag: str, expected: bool
) -> None:
    assert accepts(pattern, tag, decoration) is expected


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("v[", "unclosed character class '['"),
        ("v[a-", "unclosed character class '['"),
        ("v[]", "empty character class '[]'"),
        ("v[^]x]", "empty character class '[]'"),
        ("[a-z0-9-]*", "a '-' that starts no range in a character class (Harbor: syntax error"),
        ("[-a]", "a '-' that starts no range"),
        ("[a-]", "a '-' that ends no range"),
        ("{**,x}/y", "'**' as a brace alternative at the start of a path part"),
        ("v[z-a]", "reversed range 'z-a' in a character class"),
        ("a[/]b", "a character class cannot match '/'"),
        ("{library,goharbor", "unclosed '{'"),
        ("library}", "'}' without a matching '{'"),
        ("v1\\", "ends with a lone escape character"),
        ("{a,b,c,d,e,f,g,h,i,j}" * 4, "expands to more than 1000 alternatives"),
    ],
)
def test_invalid_patterns_name_the_pattern(pattern: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        validate_pattern(pattern)
    assert str(caught.value).startswith(f'pattern "{pattern}": ')
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    "pattern", ["[a\\-]", "[\\]]", "v[0-9]*", "{a,}", "a\\{b", "[{]", "{a}", "[!a]", "{a/**,b}"]
)
def test_unusual_but_valid_patterns(pattern: str) -> None:
    validate_pattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "depths"),
    [
        ("", []),
        ("**", []),
        ("library/*", [2]),
        ("{library,goharbor/tools}/*", [2, 3]),
        ("{library/**,a}", [1]),
        ("a/**/b", []),
    ],
)
def test_fixed_depths(pattern: str, depths: list[int]) -> None:
    assert fixed_depths(pattern) == depths
