"""Small modules with one job: no module of the package over 400 lines, no function over 60.

Read with ``ast`` (a function's lines run from its ``def`` to its last statement, docstring
and nested functions included). ``ALLOWED`` may name a module or function that is truly
better whole, each with its reason; it is empty.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.layout import PLUGINS_FOLDER

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
ALLOWED: dict[str, str] = {}  # "path" or "path:function" -> why it is longer


def python_files() -> list[Path]:
    return sorted(PLUGINS_FOLDER.rglob("*.py"))


def test_the_package_was_found() -> None:
    assert len(python_files()) > 100


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(PLUGINS_FOLDER)): lines
        for path in python_files()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert {name: n for name, n in long.items() if name not in ALLOWED} == {}


def test_no_function_is_over_60_lines() -> None:
    long: dict[str, int] = {}
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                name = f"{path.relative_to(PLUGINS_FOLDER)}:{node.name}"
                if lines > MAX_FUNCTION_LINES and name not in ALLOWED:
                    long[name] = lines
    assert long == {}
