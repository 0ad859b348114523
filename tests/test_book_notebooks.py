"""The book's sources: committed notebooks carry no outputs, the toc points at real files,
and exercises follow the team format (sphinx-exercise + nbgrader metadata)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))


def _toc_files(node) -> list[str]:
    files = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("file", "root") and isinstance(value, str):
                files.append(value)
            else:
                files.extend(_toc_files(value))
    elif isinstance(node, list):
        for item in node:
            files.extend(_toc_files(item))
    return files


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {BOOK}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: code cells {dirty} carry outputs or execution counts; clear them "
                       f"(e.g. `jupyter nbconvert --clear-output --inplace {path.relative_to(ROOT)}`)")
    assert "widgets" not in nb.metadata, f"{path.name}: notebook metadata carries saved widget state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_kernel_and_title(path: Path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", f"{path.name}: kernel must be python3"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and re.match(r"#\s+\d+\.\s+\S", first.source), (
        f"{path.name}: the first cell must be the title '# N. Title', got {first.source[:60]!r}")


def test_toc_points_at_existing_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = _toc_files(toc)
    assert "book/intro" in files and "book/bibliography" in files
    missing = [f for f in files if not any((ROOT / f"{f}{ext}").exists() for ext in ("", ".md", ".ipynb"))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"
    assert len(files) == len(set(files)), "_toc.yml lists a file twice"


def _exercises(nb) -> list[tuple[int, str]]:
    found = []
    for i, cell in enumerate(nb.cells):
        m = re.match(r"```\{exercise\}.*\n:label: (\S+)", cell.source) if cell.cell_type == "markdown" else None
        if m:
            found.append((i, m.group(1)))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_follow_the_team_format(path: Path):
    nb = nbformat.read(path, as_version=4)
    exercises = _exercises(nb)
    assert len(exercises) >= 2, f"{path.name}: a chapter needs at least two exercises, found {len(exercises)}"
    checked = 0
    for i, label in exercises:
        following = nb.cells[i + 1:i + 5]
        if not following or not following[0].source.startswith("```{solution-start}"):
            continue  # an open question, without a solution to hide
        assert len(following) == 4, f"{path.name}, exercise {label}: solution-start, solution, solution-end, check"
        start, solution, end, check = following
        where = f"{path.name}, exercise {label}"
        checked += 1
        assert start.cell_type == "markdown" and start.source.startswith(f"```{{solution-start}} {label}"), where
        assert ":class: dropdown" in start.source, f"{where}: solutions must be in a dropdown"
        assert solution.cell_type == "code", where
        meta = solution.metadata.get("nbgrader", {})
        assert meta.get("solution") is True and meta.get("grade_id") == label, f"{where}: solution metadata"
        assert "exercise-solution" in solution.metadata.get("tags", []), where
        assert "### BEGIN SOLUTION" in solution.source and "### END SOLUTION" in solution.source, where
        assert end.cell_type == "markdown" and end.source.startswith("```{solution-end}"), where
        cmeta = check.metadata.get("nbgrader", {})
        assert check.cell_type == "code" and cmeta.get("grade") is True and cmeta.get("locked") is True, where
        assert cmeta.get("grade_id") == f"check-{label}" and "exercise-check" in check.metadata.get("tags", []), where
    assert checked >= 1, f"{path.name}: at least one exercise needs a solution and an automatic check"


# -- one chapter template (issue 17) -------------------------------------------------------

CHAPTERS = [p for p in NOTEBOOKS if re.match(r"\d\d_", p.name)]
FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1\s*$", re.MULTILINE | re.DOTALL)


def _headings(nb) -> list[str]:
    """The chapter's `## ` headings in order, outside code fences (directives are fenced too)."""
    found = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text = FENCE.sub("", cell.source)
            found += [line[3:].strip() for line in text.splitlines() if line.startswith("## ")]
    return found


def _admonition(source: str, title: str) -> str | None:
    """The body of the ```{admonition} <title> block in ``source``, or None."""
    m = re.search(r"^(`{3,})\{admonition\} " + re.escape(title) + r"\s*\n(.*?)^\1\s*$", source, re.MULTILINE | re.DOTALL)
    return m.group(2) if m else None


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_follows_the_template(path: Path):
    """Title, a header (learning goals box; prerequisites and how to run it), numbered sections
    ``## N.1``, ``## N.2``, …, then ``## Exercises``, and ``## Summary`` last."""
    nb = nbformat.read(path, as_version=4)
    number = int(path.name[:2])
    header = nb.cells[0].source
    assert re.match(rf"# {number}\. \S", header), f"{path.name}: the first cell starts with '# {number}. Title'"
    goals = _admonition(header, "Learning goals")
    assert goals is not None, f"{path.name}: the title cell needs a ```{{admonition}} Learning goals box"
    assert re.search(r"^- \S", goals, re.MULTILINE), f"{path.name}: the learning goals are a bullet list"
    before = _admonition(header, "Before you start")
    assert before is not None, f"{path.name}: the title cell needs a ```{{admonition}} Before you start box"
    assert header.index("{admonition} Learning goals") < header.index("{admonition} Before you start"), path.name
    for part in ("**Prerequisites**", "**Run it**"):
        assert part in before, f"{path.name}: the 'Before you start' box needs a {part} line"
    assert "python -m stn_course.classroom start" in before, f"{path.name}: 'Run it' gives the one command to start"
    assert f"student/{path.name}" in before, f"{path.name}: 'Run it' names the learner's copy of the chapter"
    assert ":class: stn-before-you-start" in before, f"{path.name}: the box carries the class the book fills in"

    headings = _headings(nb)
    assert headings and headings[-1] == "Summary", f"{path.name}: '## Summary' must be the last section, got {headings[-1:]}"
    assert headings.count("Exercises") == 1, f"{path.name}: exactly one '## Exercises' section, got {headings}"
    numbered = headings[:headings.index("Exercises")]
    assert numbered, f"{path.name}: numbered sections come before '## Exercises'"
    for k, title in enumerate(numbered, 1):
        assert re.match(rf"{number}\.{k} \S", title), (
            f"{path.name}: section {k} should read '## {number}.{k} Title', got '## {title}' (all: {headings})")
    assert headings[len(numbered):] == ["Exercises", "Summary"], (
        f"{path.name}: after the numbered sections come only '## Exercises' and '## Summary', got {headings}")


def test_the_template_test_catches_a_chapter_that_breaks_it(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 3. A title\n\nNo box.\n\n## Exercises\n\n## Summary")])
    nb.metadata["kernelspec"] = {"name": "python3"}
    path = tmp_path / "03_broken.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(AssertionError, match="Learning goals"):
        test_chapter_follows_the_template(path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_prose_inside_solutions_is_tagged_for_nbgrader(path: Path):
    """The reasoning written into a {solution-start} cell and a {solution} model answer are solution
    text: our student notebooks drop them with the wrapper, and nbgrader (which keeps markdown)
    drops them by this tag, with the instructor guide's config. Untagged, they would reach learners."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        m = re.match(r"```\{solution-start\}[^\n]*\n(?::[^\n]*\n)*```", cell.source)
        holds_text = (m and cell.source[m.end():].strip()) or re.search(r"^```\{solution\}", cell.source, re.MULTILINE)
        if holds_text:
            assert "exercise-solution-text" in cell.metadata.get("tags", []), (
                f"{path.name}, cell {i}: solution text needs the tag 'exercise-solution-text' "
                "(stn_course.classroom.SOLUTION_TEXT_TAG), or nbgrader's student version shows it")


# -- figures are named, captioned and read from the text (issue 26) ------------------------

FIGURE_DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{(?:figure|glue:figure)\}[^\n]*\n(.*?)^\1\s*$", re.MULTILINE | re.DOTALL)


def _figures(nb) -> list[tuple[int, str | None, str]]:
    """(cell, name, caption) of every figure of a chapter: a code cell's output named through
    its ``mystnb.figure`` metadata, or a ```{figure} directive in a markdown cell."""
    found = []
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("mystnb", {}).get("figure")
        if meta is not None:
            found.append((i, meta.get("name"), (meta.get("caption") or "").strip()))
        if cell.cell_type == "markdown":
            for m in FIGURE_DIRECTIVE.finditer(cell.source):
                name = re.search(r"^:name:\s*(\S+)", m.group(2), re.MULTILINE)
                caption = "\n".join(line for line in m.group(2).splitlines() if not line.startswith(":")).strip()
                found.append((i, name.group(1) if name else None, caption))
    return found


def _references(nb) -> set[str]:
    """The targets of every {numref} and {ref} in the chapter's markdown (`name` or `text <name>`)."""
    text = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    return {m.group(2) or m.group(1) for m in re.finditer(r"\{(?:num)?ref\}`([^`<]*?)\s*(?:<([^`>]+)>)?`", text)}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_figure_is_named_captioned_and_referenced(path: Path):
    """Every figure has a name, its own caption, and the chapter's prose points the reader at it
    with {numref}`name` (or {ref}), so no figure stands unread beside the text."""
    nb = nbformat.read(path, as_version=4)
    figures = _figures(nb)
    unnamed = [i for i, name, _ in figures if not name]
    assert not unnamed, f"{path.name}: the figures of cells {unnamed} have no name to reference them by"
    uncaptioned = [name for _, name, caption in figures if not caption]
    assert not uncaptioned, f"{path.name}: figures without a caption: {uncaptioned}"
    captions: dict[str, list[str]] = {}
    for _, name, caption in figures:
        captions.setdefault(" ".join(caption.split()), []).append(name)
    shared = [names for names in captions.values() if len(names) > 1]
    assert not shared, f"{path.name}: figures share a caption (each needs its own): {shared}"
    referenced = _references(nb)
    unread = [name for _, name, _ in figures if name not in referenced]
    assert not unread, (f"{path.name}: {len(unread)} of {len(figures)} figures are not referenced from the text "
                        f"(write {{numref}}`name` where the prose reads them): {unread}")


def test_the_figure_test_catches_an_unreferenced_figure(tmp_path):
    cells = [nbformat.v4.new_markdown_cell("# 3. A title\n\nThe loss falls, as {numref}`fig-a` shows."),
             nbformat.v4.new_code_cell("plot()"), nbformat.v4.new_code_cell("plot()")]
    cells[1].metadata["mystnb"] = {"figure": {"name": "fig-a", "caption": "The loss."}}
    cells[2].metadata["mystnb"] = {"figure": {"name": "fig-b", "caption": "The error."}}
    nb = nbformat.v4.new_notebook(cells=cells)
    path = tmp_path / "03_unread.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(AssertionError, match="fig-b"):
        test_every_figure_is_named_captioned_and_referenced(path)
    cells[0].source += " {numref}`The error <fig-b>`"
    cells[2].metadata["mystnb"]["figure"]["caption"] = "The loss."
    nbformat.write(nb, path)
    with pytest.raises(AssertionError, match="share a caption"):
        test_every_figure_is_named_captioned_and_referenced(path)
