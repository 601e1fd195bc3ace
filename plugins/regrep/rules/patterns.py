"""Harbor's name and tag patterns: doublestar's syntax, matched with wcmatch.

Harbor matches replication filters with Go's ``doublestar`` v1 (goharbor/harbor
``src/pkg/reg/util/pattern.go``, doublestar 1.3.4): ``*`` is any run of characters except
``/``, ``**`` (a whole path component) any run including ``/``, ``?`` one character except
``/``, ``[...]`` a character class negated by ``^`` (a ``!`` there is a plain member),
``{a,b}`` alternatives (nested, empty or just one: ``{a}``), ``\\`` escapes the next
character. An empty pattern matches everything, and so does the filter it stands for.

Alternatives are expanded here, as doublestar reads them, and each expansion is matched by
wcmatch's ``globmatch`` (``GLOBSTAR | DOTMATCH | CASE``, no ``BRACE``, ``NEGATE`` or
``EXTGLOB``: ``!``, ``@(...)`` and ``|`` stay literal, as in doublestar); a class opening
with ``!`` is handed over escaped. An empty value (an untagged artifact's tag, which
Harbor's tag filter matches against ``""``) is decided as doublestar does: it matches the
patterns whose parts are all ``**`` but the last, which is empty, ``*`` or ``**``.

:func:`validate_pattern` refuses the patterns doublestar would fail on when matching
(``syntax error in pattern``) and the few forms it reads otherwise than they look; the
README's pattern table lists every form, and where regrep deliberately differs. One
difference is in matching: spaces around an alternative are trimmed (``{p1, p2}`` is
``{p1,p2}``), as Harbor's adapters trim them when listing projects.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from wcmatch import glob

Decoration = Literal["matches", "excludes"]
"""Harbor's tag filter decoration: keep the tags that match, or the ones that don't."""

_FLAGS = glob.GLOBSTAR | glob.DOTMATCH | glob.CASE
EXPANSION_LIMIT = 1000
"""Alternatives one pattern may expand to: a pattern is matched once per expansion."""

BAD_PATTERN = "syntax error in pattern"
"""Go's ``path.ErrBadPattern``: what Harbor reports when matching a malformed pattern."""


class PatternError(ValueError):
    """A pattern Harbor would fail on, or read otherwise than it looks."""


@lru_cache(maxsize=256)
def _expansions(pattern: str) -> tuple[str, ...]:
    """The pattern's alternatives expanded, trimmed and ready for wcmatch."""
    return tuple(_wcmatch_form(expansion) for expansion in _expand(pattern))


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> glob.WcMatcher[str]:
    """Compile once per pattern: planning matches one pattern against thousands of tags."""
    return glob.compile(list(_expansions(pattern)), flags=_FLAGS)


def match(pattern: str, value: str) -> bool:
    """Return whether ``value`` (a repository name or a tag, "" for none) matches ``pattern``.

    An empty pattern matches everything, as an absent filter does in Harbor.
    """
    if not pattern:
        return True
    if not value:
        return any(_matches_nothing(expansion) for expansion in _expand(pattern))
    return _compiled(pattern).match(value)


def accepts(pattern: str, value: str, decoration: Decoration = "matches") -> bool:
    """Apply a decorated filter: ``excludes`` keeps the values that do not match.

    An empty pattern keeps everything whatever the decoration (Harbor skips the filter).
    """
    if not pattern:
        return True
    return match(pattern, value) == (decoration == "matches")


def validate_pattern(pattern: str) -> None:
    """Raise :class:`PatternError` naming ``pattern`` if Harbor would fail on it or misread it."""
    try:
        problem = _syntax_problem(pattern)
        if problem is None:
            _expand(pattern)
    except PatternError as error:
        problem = str(error)
    if problem is not None:
        raise PatternError(f'pattern "{pattern}": {problem}')


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
    for alternative in _expand(pattern):
        parts = alternative.split("/")
        if "**" not in parts:
            depths.add(len(parts))
    return sorted(depths)


def fixed_namespaces(pattern: str) -> list[str] | None:
    """The first path components every name matching ``pattern`` must start with.

    ``library/*`` gives ``["library"]`` and ``{library, team}/**`` gives both, trimmed; a
    pattern whose first component has a wildcard (or an empty pattern) gives None.
    Registries that can only list one namespace at a time (Docker Hub, GHCR, Artifactory)
    list these, as Harbor's adapters do (``util.IsSpecificPathComponent``, then
    ``strings.TrimSpace``). ``pattern`` must be valid.
    """
    if not pattern:
        return None
    names = {alternative.split("/", 1)[0] for alternative in _expand(pattern)}
    if any(not name or any(char in name for char in "*?[\\") for name in names):
        return None
    return sorted(names)


def _matches_nothing(expansion: str) -> bool:
    """Whether an expansion matches the empty string, as doublestar decides it."""
    *leading, last = expansion.split("/")
    return all(part == "**" for part in leading) and last in ("", "*", "**")


# -- alternatives ------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _expand(pattern: str) -> tuple[str, ...]:
    """Every alternative of ``pattern``, braces expanded as doublestar reads them.

    The first brace outside a character class is replaced by each of its options in turn
    (split at the commas outside nested braces, spaces around each option trimmed) and the
    result expanded again. ``PatternError`` past :data:`EXPANSION_LIMIT` alternatives, for an
    unclosed brace, and for ``**`` as the first part of an option that starts a path part:
    doublestar reads it as ``*`` there (it finds a globstar only outside braces).
    """
    done: list[str] = []
    pending = [pattern]
    while pending:
        current = pending.pop()
        start = _first_brace(current)
        if start is None:
            done.append(current)
            if len(done) > EXPANSION_LIMIT:
                raise PatternError(f"expands to more than {EXPANSION_LIMIT} alternatives")
            continue
        options, end = _options(current, start)
        prefix, suffix = current[:start], current[end + 1 :]
        for option in reversed(options):
            starts_part = not prefix or prefix.endswith("/")
            if starts_part and (option + suffix).split("/", 1)[0] == "**":
                raise PatternError(
                    "'**' as a brace alternative at the start of a path part is read as "
                    "'*' by Harbor: write '*', or put '**' outside the braces"
                )
            pending.append(prefix + option + suffix)
    return tuple(done)


def _first_brace(pattern: str) -> int | None:
    """The index of the first ``{`` that is neither escaped nor inside a character class."""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            end = _class_end(pattern, i)
            if end is not None:
                i = end + 1
                continue
        if char == "{":
            return i
        i += 1
    return None


def _options(pattern: str, start: int) -> tuple[list[str], int]:
    """The trimmed options of the brace opening at ``start`` and the index of its ``}``."""
    options: list[str] = []
    depth, begin, i = 1, start + 1, start + 1
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                options.append(pattern[begin:i].strip())
                return options, i
        elif char == "," and depth == 1:
            options.append(pattern[begin:i].strip())
            begin = i + 1
        i += 1
    raise PatternError("unclosed '{'")


def _class_end(pattern: str, start: int) -> int | None:
    """The index of the ``]`` closing the class opened at ``start`` (escapes skipped)."""
    i = start + 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "]":
            return i
        i += 1
    return None


def _wcmatch_form(expansion: str) -> str:
    """An expansion as wcmatch must read it: a class opening with ``!`` has it escaped."""
    out: list[str] = []
    i = 0
    while i < len(expansion):
        char = expansion[i]
        if char == "\\":
            out.append(expansion[i : i + 2])
            i += 2
            continue
        out.append(char)
        if char == "[" and expansion[i + 1 : i + 2] == "!":
            out.append("\\")
        i += 1
    return "".join(out)


# -- syntax --------------------------------------------------------------------------------


def _syntax_problem(pattern: str) -> str | None:
    """Scan ``pattern`` like doublestar does and describe the first problem found."""
    depth = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 == len(pattern):
                return f"ends with a lone escape character '\\' (Harbor: {BAD_PATTERN})"
            i += 2
            continue
        if char == "[":
            end, problem = _scan_class(pattern, i)
            if problem is not None:
                return problem
            i = end + 1
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            if not depth:
                return (
                    "'}' without a matching '{' (Harbor reads it as a literal '}', which no "
                    "repository name or tag contains): escape it as '\\}' if meant"
                )
            depth -= 1
        i += 1
    if depth:
        return f"unclosed '{{' (Harbor: {BAD_PATTERN})"
    return None


def _scan_class(pattern: str, start: int) -> tuple[int, str | None]:
    """Check the character class opening at ``start``; return the index of its ``]``."""
    end = _class_end(pattern, start)
    if end is None:
        return len(pattern), f"unclosed character class '[' (Harbor: {BAD_PATTERN})"
    body = pattern[start + 1 : end]
    if body.startswith("^"):
        body = body[1:]
    if not body:
        return end, "empty character class '[]' (write '?' for any one character)"
    members: list[tuple[str, bool]] = []  # (character, was it escaped?)
    i = 0
    while i < len(body):
        escaped = body[i] == "\\"
        i += escaped
        members.append((body[i], escaped))
        i += 1
    if ("/", False) in members or ("/", True) in members:
        return end, "a character class cannot match '/' (it never matches in Harbor)"
    i = 0
    while i < len(members):
        low = members[i]
        if low == ("-", False):
            return end, (
                f"a '-' that starts no range in a character class (Harbor: {BAD_PATTERN}): "
                "escape it as '\\-'"
            )
        if i + 1 < len(members) and members[i + 1] == ("-", False):
            if i + 2 >= len(members) or members[i + 2] == ("-", False):
                return end, (
                    f"a '-' that ends no range in a character class (Harbor: "
                    f"{BAD_PATTERN}): escape it as '\\-'"
                )
            high = members[i + 2]
            if low[0] > high[0]:
                return end, (
                    f"reversed range '{low[0]}-{high[0]}' in a character class (it never "
                    "matches in Harbor)"
                )
            i += 3
            continue
        i += 1
    return end, None
