"""Imports point one way: the indexing side (embeddings/) never reaches into the question side
(qa/), each module of either imports only modules of its own rank or an earlier one, and no
module imports itself back through others. Every import counts: at the top of a module, inside
a function, under TYPE_CHECKING, or by name through importlib."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from embeddings.readers import READERS

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("embeddings", "qa")

# The flow, first to last: text ← readers ← index ← qa's common ground ← retrieve ← answering ←
# verify ← pipeline ← the doors. Each entry is a module (qa/api) or a folder (qa/retrieve), as a
# path below the repository; a module takes the rank of its longest entry. A new module with no
# entry fails test_every_module_has_a_rank, so that whoever adds it places it.
RANKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "text",
        (
            "embeddings/__init__",
            "embeddings/errors",
            "embeddings/bounds",
            "embeddings/urls",
            "embeddings/records",
            "embeddings/cleaning",
            "embeddings/decoding",
            "embeddings/chunking",
            "embeddings/lexical",
            "embeddings/embedders",
            "embeddings/use_cache",
        ),
    ),
    ("readers", ("embeddings/readers", "embeddings/loading")),
    ("index", ("embeddings/store", "embeddings/distributed", "embeddings/indexer")),
    (
        "qa's common ground",
        (
            "qa/lang",
            "qa/rules",
            "qa/settings",
            "qa/config",
            "qa/records",
            "qa/markers",
            "qa/overlap",
            "qa/script",
            "qa/question",
            "qa/context",
        ),
    ),
    ("retrieve", ("qa/retrieve",)),
    ("answering", ("qa/answering",)),
    ("verify", ("qa/verify",)),
    ("pipeline", ("qa/pipeline",)),
    (
        "doors",
        (
            "qa/__init__",
            "qa/__main__",
            "qa/api",
            "qa/followup",
            "qa/chat",
            "qa/evaluation",
            "qa/cli",
        ),
    ),
    # Launchers beside the product (make local-model): no module of it may import them.
    ("tools", ("qa/tools",)),
)

# Modules that import others by a name made at run time, and the modules those names can be.
_IMPORTED_BY_NAME = {
    "embeddings/readers/__init__": {
        f"embeddings/readers/{module}" for module, _ in READERS.values()
    },
}


def _sources() -> dict[str, Path]:
    """Every module of PACKAGES by its path below ROOT without .py: qa/retrieve/__init__."""
    found = {
        path.relative_to(ROOT).with_suffix("").as_posix(): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {f"{package}/__init__" for package in PACKAGES} <= set(found), "no sources found"
    return found


def _module(name: str, modules: dict[str, Path]) -> str | None:
    """The module a dotted name imports (a package's name means its __init__), or None when it is
    not one of PACKAGES'."""
    path = name.replace(".", "/")
    for candidate in (path, f"{path}/__init__"):
        if candidate in modules:
            return candidate
    return None


def _named_at_run_time(call: ast.Call) -> tuple[str, bool] | None:
    """What importlib.import_module (or __import__) is given: the name and True when it is written
    out, else its leading text (empty when none is written) and False; None for other calls."""
    func = call.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if called not in ("import_module", "__import__") or not call.args:
        return None
    name = call.args[0]
    if isinstance(name, ast.Constant) and isinstance(name.value, str):
        return name.value, True
    if isinstance(name, ast.JoinedStr) and name.values and isinstance(name.values[0], ast.Constant):
        return str(name.values[0].value), False
    return "", False


def _imports(key: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of PACKAGES that this one imports. `from package import name` imports the
    module package/name where there is one, else the package's __init__."""
    package = key.split("/")[:-1]  # the folder of a module, or of a package's __init__
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            source = ".".join(part for part in (base, node.module or "") if part)
            for alias in node.names:
                submodule = _module(f"{source}.{alias.name}", modules)
                names.append(f"{source}.{alias.name}" if submodule else source)
        elif isinstance(node, ast.Call):
            named = _named_at_run_time(node)
            if named is None:
                continue
            name, whole = named
            ours = [f"{package}." for package in PACKAGES]
            if whole:
                names += [name] if name.startswith(tuple(ours)) else []
            elif any(name.startswith(p) or p.startswith(name) for p in ours):
                assert key in _IMPORTED_BY_NAME, f"{key} imports {name}… by a name made at run time"
                names += [m.replace("/", ".") for m in _IMPORTED_BY_NAME[key]]
    found = {_module(name, modules) for name in names}
    return {module for module in found if module and module != key}


def _graph() -> dict[str, set[str]]:
    modules = _sources()
    return {key: _imports(key, path, modules) for key, path in modules.items()}


def _rank(module: str) -> int | None:
    matches = [
        (len(entry), rank)
        for rank, (_, entries) in enumerate(RANKS)
        for entry in entries
        if module == entry or module.startswith(f"{entry}/")
    ]
    return max(matches)[1] if matches else None


def test_every_module_has_a_rank():
    assert [module for module in _sources() if _rank(module) is None] == []


def test_every_entry_names_a_module_or_folder():
    modules = _sources()
    entries = [entry for _, group in RANKS for entry in group]
    assert len(entries) == len(set(entries))
    assert [e for e in entries if not any(m == e or m.startswith(f"{e}/") for m in modules)] == []


def test_embeddings_never_imports_qa():
    offenders = {
        module: sorted(m for m in imported if m.startswith("qa/"))
        for module, imported in _graph().items()
        if module.startswith("embeddings/")
    }
    assert {module: found for module, found in offenders.items() if found} == {}


def test_each_module_imports_only_its_rank_or_earlier_ones():
    offenders = {}
    for module, imported in sorted(_graph().items()):
        rank = _rank(module)
        assert rank is not None, f"{module} has no rank"
        later = sorted(
            f"{m} ({RANKS[r][0]})" for m in imported if (r := _rank(m)) is not None and r > rank
        )
        if later:
            offenders[f"{module} ({RANKS[rank][0]})"] = later
    assert offenders == {}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph[module]):
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return circles


def test_circles_are_found():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back_through_others():
    assert _circles(_graph()) == []


def test_every_package_is_in_the_wheel():
    # pyproject.toml names the packages one by one; one left out installs qa without its modules.
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    shipped = set(setuptools["setuptools"]["packages"])
    packages = {
        m.removesuffix("/__init__").replace("/", ".") for m in _sources() if m.endswith("/__init__")
    }
    assert sorted(packages - shipped) == []
