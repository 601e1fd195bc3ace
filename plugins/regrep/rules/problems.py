"""Rule errors in the user's words: the file, the field path and the problem, one per line.

pydantic reports locations such as ``("trigger", "scheduled", "cronn")`` and messages meant
for programmers; this module walks the location through the rule models to show the path a
user wrote (``trigger``), suggests the field a typo probably meant, and rewords the
messages that would otherwise leak pydantic's internals (union tags, "Value error, ...").
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from regrep.rules.model import Rule


class RuleError(Exception):
    """Why one rule file is invalid: ``str()`` is one ``<file>: <problem>`` line per problem."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        super().__init__(path, list(problems))
        self.path = path
        self.problems = list(problems)

    def __str__(self) -> str:
        return "\n".join(f"{self.path}: {problem}" for problem in self.problems)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The rule models an annotation refers to (through ``Optional``, unions, ``Annotated``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def _trigger_tag(model: type[BaseModel]) -> str | None:
    """The ``type`` literal that selects ``model`` in a discriminated union, if any."""
    field = model.model_fields.get("type")
    if field is None or typing.get_origin(field.annotation) is not Literal:
        return None
    tag: str = typing.get_args(field.annotation)[0]
    return tag


def _walk(loc: Sequence[int | str]) -> tuple[str, list[type[BaseModel]]]:
    """Follow a pydantic error location through the models.

    Returns the dotted field path a user wrote (union tags and pydantic's internal location
    parts are dropped) and the models that can appear at that place.
    """
    models: list[type[BaseModel]] = [Rule]
    shown: list[str] = []
    for key in loc:
        fields = {name: f for model in models for name, f in model.model_fields.items()}
        if isinstance(key, str) and key in fields:
            shown.append(key)
            models = _models_in(fields[key].annotation)
        else:
            models = [model for model in models if _trigger_tag(model) == key] or models
    return ".".join(shown), models


def describe(error: Any) -> str:
    """Turn one pydantic error into ``<field path>: <problem>`` in the rule's own words."""
    path, problem = locate(error)
    return f"{path}: {problem}" if path else problem


def locate(error: Any) -> tuple[str, str]:
    """One pydantic error as ``(field path, problem)``; the path is empty for the whole rule.

    The rule form shows each problem beside the field it names.
    """
    loc: tuple[int | str, ...] = error["loc"]
    kind: str = error["type"]
    if kind in ("extra_forbidden", "missing"):
        parent, models = _walk(loc[:-1])
        field = str(loc[-1])
        if kind == "missing":
            problem = f'missing required field "{field}"'
        else:
            known = [name for model in models for name in model.model_fields]
            close = difflib.get_close_matches(field, known, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            problem = f'unknown field "{field}"{hint}'
        return parent, problem
    path, models = _walk(loc)
    if kind == "union_tag_not_found":
        tags = ", ".join(t for t in map(_trigger_tag, models) if t)
        problem = f'missing required field "type" (one of: {tags})'
    elif kind == "union_tag_invalid":
        tags = ", ".join(t for t in map(_trigger_tag, models) if t)
        problem = f'type "{error["ctx"]["tag"]}" is not one of: {tags}'
    elif kind == "value_error":
        problem = str(error["ctx"]["error"])
    else:
        shown = repr(error["input"])
        problem = f"{error['msg']} (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
    return path, problem
