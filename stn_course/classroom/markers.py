"""The exercise format: the tags of exercise cells, the markers of solution and hidden-test regions, and
the functions that find and replace those regions (read by :mod:`.chapters`, written by :mod:`.student`)."""

from __future__ import annotations

import re

SOLUTION_TAG = "exercise-solution"
CHECK_TAG = "exercise-check"
HIDDEN_TAG = "exercise-hidden"
#: Markdown inside a solution (the reasoning in a {solution-start} cell, a {solution} model answer):
#: our student notebooks drop it with its wrapper; nbgrader keeps markdown, so its config removes
#: cells with this tag (instructor guide).
SOLUTION_TEXT_TAG = "exercise-solution-text"
BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
CODE_STUB_COMMENT = "# YOUR CODE HERE"
TEXT_STUB = "YOUR ANSWER HERE"
DEFAULT_HINT = "replace this line with your code, then run the check cell below."


def solution_regions(source: str) -> list[str]:
    """The lines between BEGIN/END SOLUTION markers."""
    lines, inside, out = source.split("\n"), False, []
    for line in lines:
        if BEGIN_SOLUTION in line:
            inside = True
        elif END_SOLUTION in line:
            inside = False
        elif inside:
            out.append(line)
    return out


def stub_source(source: str, message: str) -> str:
    """Replace each BEGIN/END SOLUTION region by a stub raising ``NotImplementedError(message)``.

    The stub keeps the indentation of its BEGIN line (as nbgrader does); a solution cell
    without markers is replaced whole.
    """
    out, inside, replaced = [], False, False
    for line in source.split("\n"):
        if BEGIN_SOLUTION in line:
            if inside:
                raise ValueError("nested '### BEGIN SOLUTION' markers")
            indent = re.match(r"\s*", line)[0]
            out += [indent + CODE_STUB_COMMENT, f"{indent}raise NotImplementedError({message!r})"]
            inside = replaced = True
        elif END_SOLUTION in line:
            if not inside:
                raise ValueError("'### END SOLUTION' without a matching BEGIN")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError("'### BEGIN SOLUTION' without a matching END")
    if not replaced:
        return f"{CODE_STUB_COMMENT}\nraise NotImplementedError({message!r})"
    return "\n".join(out)


def text_stub(source: str) -> str:
    out, inside, replaced = [], False, False
    for line in source.split("\n"):
        if BEGIN_SOLUTION in line:
            out.append(re.match(r"\s*", line)[0] + TEXT_STUB)
            inside = replaced = True
        elif END_SOLUTION in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out) if replaced else TEXT_STUB


def remove_hidden_tests(source: str) -> str:
    """Drop ``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN TESTS`` regions of a check cell."""
    out, inside = [], False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)
