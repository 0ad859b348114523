"""The package's size at a glance: its biggest modules, classes and functions, in lines of code.

A line of code is a line that holds code: blank lines, comments and docstrings do not count.

    python scripts/code_metrics.py [--top 5] [PACKAGE_DIR]
"""

from __future__ import annotations

import argparse
import ast
import io
import tokenize
from pathlib import Path


def docstring_lines(tree: ast.AST) -> set[int]:
    """Line numbers taken by the docstrings of a module, its classes and functions."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                out.update(range(first.lineno, first.end_lineno + 1))
    return out


def code_lines(source: str) -> set[int]:
    """Line numbers that hold a token of code (not a comment, not a docstring)."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER, tokenize.ENCODING}
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines - docstring_lines(ast.parse(source))


def measure(package: Path) -> dict[str, list[tuple[int, str]]]:
    """(code lines, name) for every module, class and function, biggest first."""
    found: dict[str, list[tuple[int, str]]] = {"modules": [], "classes": [], "functions": []}
    for path in sorted(package.rglob("*.py")):
        source = path.read_text()
        lines = code_lines(source)
        name = path.relative_to(package.parent).as_posix()
        found["modules"].append((len(lines), name))
        for node in ast.walk(ast.parse(source)):
            kind = "classes" if isinstance(node, ast.ClassDef) else \
                "functions" if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
            if kind:
                body = {n for n in lines if node.lineno <= n <= node.end_lineno}
                found[kind].append((len(body), f"{name}:{node.lineno} {node.name}"))
    return {kind: sorted(rows, reverse=True) for kind, rows in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("package", nargs="?", default=str(Path(__file__).resolve().parents[1] / "stn_course"))
    parser.add_argument("--top", type=int, default=5, help="how many of each to list (default 5)")
    args = parser.parse_args()
    for kind, rows in measure(Path(args.package)).items():
        print(f"biggest {kind} (lines of code, docstrings excluded):")
        for n, name in rows[:args.top]:
            print(f"  {n:5d}  {name}")


if __name__ == "__main__":
    main()
