"""The package's import graph has no cycle, counting imports inside functions too."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "stn_course"


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def imports(path: Path, known: set[str], root: Path = PACKAGE) -> set[str]:
    """The package's modules that ``path`` imports, anywhere in its code (functions included).

    ``from .a import b`` counts as an import of ``a.b`` where ``b`` is a module, else of ``a``.
    A module's own parent packages are not counted: Python imports them first anyway.
    """
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
    parents = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    return {m for m in found if m in known and m != name and m not in parents}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def graph_of(root: Path) -> dict[str, set[str]]:
    found = modules(root)
    return {name: imports(path, set(found), root) for name, path in found.items()}


def test_the_package_has_no_import_cycle():
    assert cycles(graph_of(PACKAGE)) == []


def test_the_graph_sees_the_imports_it_should():
    graph = graph_of(PACKAGE)
    assert "stn_course.training.loop" in graph["stn_course.training"]
    assert "stn_course.classroom.markers" in graph["stn_course.classroom.chapters"]
    assert "stn_course.config" in graph["stn_course.training.devices"]  # from .. import config


@pytest.fixture
def cyclic_package(tmp_path: Path) -> Path:
    """A package whose two modules import each other, one of them inside a function."""
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "a.py").write_text("from .b import g\n\ndef f():\n    return g()\n")
    (root / "b.py").write_text("def g():\n    from .a import f  # imported late, still a cycle\n    return f\n")
    (root / "c.py").write_text("from . import a\n")
    return root


def test_a_cycle_through_a_function_level_import_is_found(cyclic_package: Path):
    assert cycles(graph_of(cyclic_package)) == [["pkg.a", "pkg.b"]]
