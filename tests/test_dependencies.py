"""Declared runtime dependencies and the package's imports agree, both ways.

Every distribution in `[project].dependencies` is imported by the installed code
(auditor/, checks/, reports/, fixtures/), and every third-party module that code imports
comes from a declared distribution. Which distribution provides a module is read from the
installed distributions' own file lists (RECORD), so `azure-mgmt-network` is matched by
`azure.mgmt.network`, `py-ocsf-models` by `py_ocsf_models`, `pyyaml` by `yaml`, with
no hand-kept map, and namespace packages such as `azure` are told apart by sub-package.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import importlib.util
import re
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
PACKAGE_FOLDERS = ("auditor", "checks", "reports", "fixtures")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# Declared only to bound a version another dependency needs, never imported by us. Each
# names why; the test below fails if the pin outlives its reason (the package is no
# longer installed as someone's requirement).
CONSTRAINT_ONLY = {"hishel": "githubkit 0.16 imports names hishel 2.0 removed"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> list[str]:
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = []
    for requirement in project["dependencies"]:
        match = _NAME.match(requirement)
        assert match, requirement
        names.append(_normalise(match.group(1)))
    return names


def _module_name(path: str) -> str | None:
    """`a/b/__init__.py` -> `a.b`, `a/b/c.py` -> `a.b.c`, `a/_c.cpython-311-x86_64-linux-gnu.so` -> `a._c`."""
    parts = path.split("/")
    last = parts[-1]
    if last.endswith(".py"):
        stem = last[:-3]
    elif last.endswith((".so", ".pyd")):
        stem = last.split(".", 1)[0]
    else:
        return None
    if any(not part.isidentifier() for part in parts[:-1]) or not stem.isidentifier():
        return None
    return ".".join(parts[:-1] if stem == "__init__" else [*parts[:-1], stem])


@cache
def provided_modules(distribution: str) -> frozenset[str]:
    files = metadata.distribution(distribution).files or []
    return frozenset(name for file in files if (name := _module_name(str(file).replace("\\", "/"))))


@cache
def module_owners() -> dict[str, frozenset[str]]:
    """Module name -> the installed distributions whose files provide it."""
    owners: dict[str, set[str]] = {}
    for dist in metadata.distributions():
        name = _normalise(dist.metadata["Name"] or "")
        for module in provided_modules(dist.metadata["Name"]):
            owners.setdefault(module, set()).add(name)
    return {module: frozenset(names) for module, names in owners.items()}


def imported_modules() -> Iterator[tuple[str, str]]:
    """(module, where) for every absolute import in the installed package's source, with the
    names of `from X import a, b` tried as X.a and X.b as well (they may be sub-modules)."""
    for folder in PACKAGE_FOLDERS:
        for path in sorted((REPOSITORY / folder).rglob("*.py")):
            where = str(path.relative_to(REPOSITORY))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=where)):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        yield alias.name, where
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    yield node.module, where
                    for alias in node.names:
                        yield f"{node.module}.{alias.name}", where


def _third_party(module: str) -> bool:
    top = module.split(".", 1)[0]
    return top not in sys.stdlib_module_names and top != "amlaudit" and top != "__future__"


def test_every_declared_dependency_is_imported() -> None:
    imports = {module for module, _ in imported_modules()}
    unused = [name for name in declared() if name not in CONSTRAINT_ONLY and not imports & provided_modules(name)]
    assert not unused, f"declared in [project].dependencies but imported nowhere in the package: {unused}"


def test_every_third_party_import_comes_from_a_declared_dependency() -> None:
    owners = module_owners()
    wanted = set(declared())
    undeclared: dict[str, str] = {}
    for module, where in imported_modules():
        if not _third_party(module) or module not in owners:
            continue  # `from X import name` where name is not a module; stdlib; our own package
        if not owners[module] & wanted:
            undeclared.setdefault(module, f"{where} (provided by {', '.join(sorted(owners[module]))})")
    assert not undeclared, f"imported but not declared: {undeclared}"


def test_every_imported_third_party_module_is_installed() -> None:
    """The import scan itself works: each plain `import X` of a third-party module resolves here."""
    missing = sorted({module for module, _ in imported_modules()
                      if _third_party(module) and module in module_owners() and importlib.util.find_spec(module) is None})
    assert not missing


def test_the_scan_finds_distributions_by_their_modules() -> None:
    # The mapping the tests rely on, on distributions whose import names differ from their names.
    assert "azure.mgmt.network" in provided_modules("azure-mgmt-network")
    assert "py_ocsf_models" in provided_modules("py-ocsf-models")
    assert "azure.mgmt.network" not in provided_modules("azure-mgmt-storage")
    imports = {module for module, _ in imported_modules()}
    assert {"orjson", "pandas", "click"} <= imports
    # A distribution the package does not import (a test-only one) would be reported as unused.
    assert not imports & provided_modules("hypothesis")


def test_constraint_only_pins_are_still_someones_requirement() -> None:
    needed_by = {
        _normalise(match.group(1))
        for dist in metadata.distributions()
        for requirement in dist.requires or ()
        if (match := _NAME.match(requirement))
    }
    for name in CONSTRAINT_ONLY:
        assert name in declared(), f"{name} is listed as a constraint but not declared"
        assert name in needed_by, f"{name} is pinned ({CONSTRAINT_ONLY[name]}) but nothing requires it any more"
