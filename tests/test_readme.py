"""The README's Python examples name only what exists: every hepsift module, function, class
and attribute they use resolves, and every keyword they pass to a hepsift callable is one of
its parameters. A rename or a removed parameter that the README still shows fails here.

(The examples themselves need generated samples, trained models or a GPU; what they compute
is tested by the test of each feature.)"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def _bind_imports(tree: ast.AST) -> dict[str, Any]:
    """Names bound by the block's hepsift imports (an import of a missing name fails)."""
    env: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "hepsift":
                    continue
                module = importlib.import_module(alias.name)
                env[alias.asname or "hepsift"] = module if alias.asname else importlib.import_module("hepsift")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "hepsift":
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):
                    importlib.import_module(f"{node.module}.{alias.name}")  # a sub-module
                env[alias.asname or alias.name] = getattr(module, alias.name)
    return env


def _resolve(node: ast.AST, env: dict[str, Any]) -> tuple[bool, Any]:
    """(True, object) for a name or attribute chain rooted in ``env``; (False, None) otherwise.
    A chain rooted in ``env`` that does not resolve raises AttributeError."""
    if isinstance(node, ast.Name):
        return (node.id in env, env.get(node.id))
    if isinstance(node, ast.Attribute):
        ok, base = _resolve(node.value, env)
        if not ok:
            return False, None
        if inspect.ismodule(base) and not hasattr(base, node.attr):
            with warnings.catch_warnings():
                warnings.simplefilter("error", DeprecationWarning)
                try:
                    importlib.import_module(f"{base.__name__}.{node.attr}")
                except ModuleNotFoundError:
                    pass
        if not hasattr(base, node.attr):
            raise AttributeError(f"README line '{ast.unparse(node)}': {base!r} has no attribute {node.attr!r}")
        return True, getattr(base, node.attr)
    return False, None


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_names_exist(index):
    code = BLOCKS[index]
    tree = ast.parse(code)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the README uses current names only
        env = _bind_imports(tree)
        if "hepsift" not in env and re.search(r"\bhepsift\.", code):  # a block continuing an earlier one
            env["hepsift"] = importlib.import_module("hepsift")
    checked = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            checked += _resolve(node, env)[0]
        if isinstance(node, ast.Call):
            ok, func = _resolve(node.func, env)
            if not ok or not callable(func):
                continue
            try:
                sig = inspect.signature(func)
            except (TypeError, ValueError):
                continue
            if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
                continue
            names = {k.arg for k in node.keywords if k.arg}
            unknown = sorted(names - set(sig.parameters))
            assert not unknown, f"README: {ast.unparse(node.func)}(...) has no parameter(s) {unknown}"
            checked += 1
    assert checked > 0 or not env, "no hepsift name of this example was checked"
