"""The student edition of the book: a Sphinx extension that removes the solutions, and its build command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .markers import BEGIN_HIDDEN, HIDDEN_TAG, remove_hidden_tests

def setup(app) -> dict[str, Any]:
    """Sphinx extension: render the book without solutions (the student edition).

    sphinx-exercise's own ``hide_solutions`` drops a gated ``{solution-start}`` but leaves
    its content and crashes on the orphaned ``{solution-end}`` (sphinx-exercise issue 89);
    this removes the whole solution after sphinx-exercise has merged the gated parts into
    one node, and drops hidden tests as the student notebooks do.
    """
    from docutils import nodes
    from sphinx.transforms import SphinxTransform
    from sphinx_exercise.nodes import solution_node

    class RemoveSolutions(SphinxTransform):
        default_priority = 20  # after sphinx-exercise's MergeGatedSolutions (10)

        def apply(self, **kwargs: Any) -> None:
            for node in list(self.document.findall(solution_node)):
                node.parent.remove(node)
            for cell in list(self.document.findall(nodes.container)):
                if cell.get("nb_element") != "cell_code":
                    continue
                tags = (cell.get("cell_metadata") or {}).get("tags", [])
                if HIDDEN_TAG in tags:
                    cell.parent.remove(cell)
                    continue
                for block in list(cell.findall(nodes.literal_block)):
                    if BEGIN_HIDDEN in block.astext():
                        text = remove_hidden_tests(block.astext())
                        block.replace_self(nodes.literal_block(text, text, **block.attributes))

    app.setup_extension("sphinx_exercise")
    app.add_transform(RemoveSolutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def student_book_config(root: str | os.PathLike = ".") -> dict:
    """The book's ``_config.yml`` turned into the student edition's configuration."""
    import yaml

    root = Path(root).resolve()
    cfg = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    cfg["title"] = f"{cfg.get('title', 'Book')} — student edition"
    sphinx = cfg.setdefault("sphinx", {})
    sphinx["extra_extensions"] = [*(sphinx.get("extra_extensions") or []), "stn_course.classroom"]
    # local extension folders are relative to the config file, which will live elsewhere
    sphinx["local_extensions"] = {name: str((root / rel).resolve())
                                  for name, rel in (sphinx.get("local_extensions") or {}).items()}
    if not sphinx["local_extensions"]:
        del sphinx["local_extensions"]
    execute = cfg.setdefault("execute", {})
    if not execute.get("cache"):
        execute["cache"] = str(root / "_build" / ".jupyter_cache")  # share the main build's outputs
    return cfg


def build_student_book(root: str | os.PathLike = ".", out: str | os.PathLike = "_build/student",
                       jb_args: Sequence[str] = ()) -> int:
    """Build the student edition with jupyter-book into ``out`` (HTML in ``out/_build/html``)."""
    import yaml

    root, out = Path(root).resolve(), Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    config = out / "_config_student.yml"
    config.write_text(yaml.safe_dump(student_book_config(root), sort_keys=False, allow_unicode=True),
                      encoding="utf-8")
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(root), "--config", str(config),
           "--path-output", str(out), *jb_args]
    print("$", " ".join(cmd), flush=True)
    return subprocess.call(cmd)
