"""Harbor's name and tag patterns, evaluated with wcmatch.

Harbor matches replication filters with Go's ``doublestar`` (v1): ``*`` is any run of
characters except ``/``, ``**`` (a whole path component) is any run including ``/``, ``?``
is one character except ``/``, ``[...]`` a character class and ``{a,b}`` alternatives. An
empty pattern matches everything (Harbor's ``util.Match``).

wcmatch's ``globmatch`` gives the same answers with ``GLOBSTAR | BRACE | DOTMATCH | CASE``
(``NEGATE``, ``EXTGLOB`` and ``SPLIT`` stay off, so ``!``, ``@(...)`` and ``|`` are literal
characters as they are in doublestar). Where the two libraries disagree wcmatch is more
forgiving: it reads an unclosed ``[`` or ``{`` literally, drops a trailing ``\\``, expands
``{a}`` to itself and ``{1..3}`` to a sequence, whereas doublestar rejects or reads them
otherwise. :func:`validate_pattern` refuses exactly those forms, so every pattern a rule
accepts means the same thing here as in Harbor.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import bracex
from wcmatch import glob

Decoration = Literal["matches", "excludes"]
"""Harbor's tag filter decoration: keep the tags that match, or the ones that don't."""

_FLAGS = glob.GLOBSTAR | glob.BRACE | glob.DOTMATCH | glob.CASE
_EXPANSION_LIMIT = 1000  # wcmatch's default pattern limit


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> glob.WcMatcher[str]:
    """Compile once per pattern: planning matches one pattern against thousands of tags."""
    return glob.compile(pattern, flags=_FLAGS)


def match(pattern: str, value: str) -> bool:
    """Return whether ``value`` (a repository name or a tag) matches ``pattern``.

    An empty pattern matches everything, as an absent filter does in Harbor.
    """
    if not pattern:
        return True
    return _compiled(pattern).match(value)


def accepts(pattern: str, value: str, decoration: Decoration = "matches") -> bool:
    """Apply a decorated filter: ``excludes`` keeps the values that do not match.

    An empty pattern keeps everything whatever the decoration (Harbor skips the filter).
    """
    if not pattern:
        return True
    return match(pattern, value) == (decoration == "matches")


def validate_pattern(pattern: str) -> None:
    """Raise ``ValueError`` naming ``pattern`` if Harbor would reject or read it differently."""
    problem = _syntax_problem(pattern)
    if problem is None:
        try:
            _alternatives(pattern)
        except bracex.ExpansionLimitException:
            problem = f"expands to more than {_EXPANSION_LIMIT} alternatives"
    if problem is not None:
        raise ValueError(f'pattern "{pattern}": {problem}')


def _alternatives(pattern: str) -> list[str]:
    """Expand ``{a,b}`` alternatives with the same limit wcmatch applies when matching."""
    return bracex.expand(pattern, keep_escapes=True, limit=_EXPANSION_LIMIT)


def fixed_depths(pattern: str) -> list[int]:
    """Return the path depths (number of ``/``-separated parts) the pattern pins down.

    Each ``{a,b}`` alternative without a ``**`` component only matches names with exactly
    as many parts as it has, since ``*``, ``?`` and classes never match ``/``. Alternatives
    with ``**`` match names of any depth and contribute nothing. The rule model uses this to
    reject, before anything runs, a namespace flattening that would fail on every name some
    alternative can match. ``pattern`` must already be valid.
    """
    if not pattern:
        return []
    depths = set()
    for alternative in _alternatives(pattern):
        parts = alternative.split("/")
        if "**" not in parts:
            depths.add(len(parts))
    return sorted(depths)


def fixed_namespaces(pattern: str) -> list[str] | None:
    """The first path components every name matching ``pattern`` must start with.

    ``library/*`` gives ``["library"]`` and ``{library,team}/**`` gives both; a pattern
    whose first component has a wildcard (or an empty pattern) gives None. Registries that
    can only list one namespace at a time (Docker Hub, GHCR, Artifactory) list these, as
    Harbor's adapters do (``util.IsSpecificPathComponent``). ``pattern`` must be valid.
    """
    if not pattern:
        return None
    names = {alternative.split("/", 1)[0] for alternative in _alternatives(pattern)}
    if any(not name or any(char in name for char in "*?[\\") for name in names):
        return None
    return sorted(names)


def _syntax_problem(pattern: str) -> str | None:
    """Scan ``pattern`` like doublestar does and describe the first problem found."""
    brace_commas: list[bool] = []  # one entry per open brace: has it seen a top-level comma?
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 == len(pattern):
                return "ends with a lone escape character '\\'"
            i += 2
            continue
        if char == "[":
            end, problem = _scan_class(pattern, i)
            if problem is not None:
                return problem
            i = end + 1
            continue
        if char == "{":
            brace_commas.append(False)
        elif char == "," and brace_commas:
            brace_commas[-1] = True
        elif char == "}":
            if not brace_commas:
                return "'}' without a matching '{'"
            if not brace_commas.pop():
                return "braces need at least two comma-separated alternatives, e.g. {a,b}"
        i += 1
    if brace_commas:
        return "unclosed '{'"
    return None


def _scan_class(pattern: str, start: int) -> tuple[int, str | None]:
    """Check the character class opening at ``start``; return the index of its ``]``."""
    i = start + 1
    if i < len(pattern) and pattern[i] in "!^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        return i, "empty character class '[]'"
    members: list[tuple[str, bool]] = []  # (character, was it escaped?)
    while i < len(pattern) and pattern[i] != "]":
        escaped = pattern[i] == "\\"
        if escaped:
            i += 1
            if i == len(pattern):
                break
        members.append((pattern[i], escaped))
        i += 1
    if i >= len(pattern):
        return i, "unclosed character class '['"
    if any(char == "/" for char, _ in members):
        return i, "a character class cannot match '/'"
    for (low, _), dash, (high, _) in zip(members, members[1:], members[2:], strict=False):
        if dash == ("-", False) and low > high:
            return i, f"reversed range '{low}-{high}' in a character class"
    return i, None
