"""Sphinx extension of the book: how a page reads (issues 17, 26).

- the book's stylesheet and the script that fits wide display maths into the text column
  (``scripts/static/stn_book.css``, ``stn_fit_math.js``); tables that scroll sideways in their
  own box rather than break a number, and long ones that show their first rows until asked
  (``stn_tables.js``);
- a note on the page where MathJax or the widget scripts did not load (offline, a blocked CDN),
  instead of raw TeX and an empty space (``stn_script_notice.js``);
- figures, tables, exercises and equations numbered per chapter ("Fig. 9.3", "Exercise 9.1"),
  from the number each chapter's title starts with, instead of across the whole book;
- reference solutions shown without their grading markers: nbgrader needs
  ``### BEGIN SOLUTION`` / ``### END SOLUTION`` in the notebook (they are where the student
  edition puts its stubs), but a reader of the rendered solution only needs the code;
- each chapter's "Before you start" box (``:class: stn-before-you-start``) completed with what
  is computed rather than written: the time to read the chapter and to work its exercises
  (estimates, from the length of its text, its visible code and its reference solutions) and
  the time its cells took to run when the page was built (measured by the build, with how busy
  the build machine was: on a busy one, the kernel's processor time rather than the clock);
- exercise checks that say "not attempted yet" on the page (``STN_COURSE_BOOK=1`` for the
  kernels): the page ran the reference solution, but its reader has written nothing;
- launch buttons (Binder, Colab) only where ``repository.url`` is set in ``_config.yml``: the
  theme needs a repository to launch from.

The notebooks themselves are unchanged: this only changes what the HTML shows.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
from docutils import nodes

SOLUTION_TAG = "exercise-solution"  # the tag of a reference-solution cell (stn_course.classroom)
MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


def strip_markers(source: str) -> str:
    """``source`` without the lines that hold only a grading marker."""
    return MARKER.sub("", source)


def _is_solution_cell(node: nodes.Node) -> bool:
    if not isinstance(node, nodes.container) or node.get("nb_element") != "cell_code":
        return False
    return SOLUTION_TAG in (node.get("cell_metadata") or {}).get("tags", [])


def _strip_solution_markers(app, doctree: nodes.document) -> None:
    for cell in doctree.findall(_is_solution_cell):
        for block in cell.findall(nodes.literal_block):
            text = block.astext()
            stripped = strip_markers(text)
            if stripped != text:
                block.rawsource = stripped
                block.children = [nodes.Text(stripped)]


HEADER_CLASS = "stn-before-you-start"
WORDS_PER_MINUTE = 150  # technical prose, read with care
CODE_LINES_PER_MINUTE = 15
LAUNCHERS = ("binderhub_url", "colab_url", "jupyterhub_url", "deepnote_url", "jupyterlite_url")


def reading_minutes(nb) -> int:
    """Estimated minutes to read a chapter: its prose, and the code it shows (not hidden input,
    not reference solutions), rounded up to 5 minutes."""
    words = sum(len(c.source.split()) for c in nb.cells if c.cell_type == "markdown")
    shown = [c for c in nb.cells if c.cell_type == "code" and not {"hide-input", "remove-input", "remove-cell",
                                                                     SOLUTION_TAG} & set(c.metadata.get("tags", []))]
    lines = sum(1 for c in shown for line in c.source.splitlines() if line.strip())
    return 5 * math.ceil((words / WORDS_PER_MINUTE + lines / CODE_LINES_PER_MINUTE) / 5)


def exercise_minutes(path: Path) -> int:
    """The instructor guide's working time of a chapter's exercises (``stn_course.classroom``)."""
    from stn_course.classroom import read_chapter

    return sum(ex.minutes for ex in read_chapter(path).exercises.values())


@dataclass
class Run:
    """How a chapter's cells ran when the book was built: the clock, the processor time of its
    kernel, and how busy the build machine was (1-minute load average, number of cores)."""

    wall_s: float
    cpu_s: float
    load: float
    cores: int

    @property
    def busy(self) -> bool:
        """More work than cores: the kernel had to wait for a core, and the clock ran on."""
        return self.load > self.cores


def run_phrase(wall_s: float, run: Run | None) -> str:
    """The run-time part of a chapter's Time line: the clock where the build machine had a core
    to spare, the kernel's processor time where it was busy with other work (the clock then says
    more about that work than about the chapter)."""
    if run is None:  # executed by an earlier build that did not record how
        return (f"running all its cells took {wall_s:.0f} s in quick mode when this page was built "
                "(by the clock, on a build machine whose other work was not recorded)")
    if not run.busy:
        return (f"running all its cells took {wall_s:.0f} s in quick mode when this page was built, "
                f"on a {run.cores}-core machine that had a core to spare")
    return (f"running all its cells in quick mode took {run.cpu_s:.0f} s of processor time when this page was built "
            f"(the {run.cores}-core build machine was busy with other work, so the clock showed {wall_s:.0f} s)")


def _children_cpu_s() -> float | None:
    """User + system time of this process's finished children (a notebook's kernel, once shut down)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _runs_dir(app) -> Path:
    """Where a chapter's Run is kept: beside its executed copy, in the execution cache, so that
    it lives exactly as long as that copy (and goes with it when results/ change)."""
    cache = getattr(getattr(app.env, "mystnb_config", None), "execution_cache_path", "") or ".jupyter_cache"
    return Path(cache) / "stn_runs"


def _exec_data(app, docname: str) -> dict:
    from myst_nb.sphinx_ import NbMetadataCollector

    return NbMetadataCollector.get_exec_data(app.env, docname) or {}


_STARTED: dict[str, tuple[float, float | None]] = {}  # docname -> (clock, children's CPU time) when its read began


def _before_reading(app, docname: str, source: list[str]) -> None:
    """``source-read``: the clock and the children's processor time before a notebook runs."""
    _STARTED[docname] = (time.time(), _children_cpu_s())


def _record_run(app, doctree: nodes.document) -> None:
    """``doctree-read``: where the notebook's cells ran in this read (not taken from the cache),
    keep how: its kernel's processor time (it has exited by now), the load and the cores."""
    docname = app.env.docname
    began, cpu_before = _STARTED.pop(docname, (None, None))
    data = _exec_data(app, docname)
    if cpu_before is None or not data.get("runtime") or not hasattr(os, "getloadavg"):
        return
    if data.get("mtime", 0) < began:  # the cells did not run now: the outputs came from the cache
        return
    run = Run(wall_s=data["runtime"], cpu_s=_children_cpu_s() - cpu_before, load=os.getloadavg()[0],
              cores=os.cpu_count() or 1)
    path = _runs_dir(app) / f"{docname.replace('/', '__')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(run)))


def _recorded_run(app, docname: str, wall_s: float) -> Run | None:
    path = _runs_dir(app) / f"{docname.replace('/', '__')}.json"
    try:
        run = Run(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return run if abs(run.wall_s - wall_s) < 1e-6 else None  # a record of another execution


def _time_paragraph(app, docname: str) -> nodes.paragraph | None:
    path = Path(app.env.doc2path(docname))
    if path.suffix != ".ipynb":
        return None
    nb = nbformat.read(path, as_version=4)
    text = (f"about {reading_minutes(nb)} minutes to read and {exercise_minutes(path)} for the exercises "
            "(estimated from the length of the text, the code and the reference solutions)")
    runtime = _exec_data(app, docname).get("runtime")
    if runtime:
        text += "; " + run_phrase(runtime, _recorded_run(app, docname, runtime))
    para = nodes.paragraph()
    para += nodes.strong(text="Time")
    para += nodes.Text(f": {text}.")
    return para


def _fill_headers(app, doctree: nodes.document, docname: str) -> None:
    for box in doctree.findall(lambda n: isinstance(n, nodes.Admonition) and HEADER_CLASS in n.get("classes", [])):
        para = _time_paragraph(app, docname)
        if para is not None:
            box.insert(2 if len(box.children) > 2 else len(box.children), para)  # after Prerequisites
        if app.config.html_theme_options.get("repository_url"):
            launch = nodes.paragraph()
            launch += nodes.strong(text="Or in the cloud")
            launch += nodes.Text(": the launch button (the rocket at the top of this page) opens this notebook "
                                 "on Binder or Colab.")
            box += launch


CHAPTER_TITLE = re.compile(r"^\s*(\d+)\.\s")  # "9. The MNIST benchmark"

FigNumbers = dict[str, dict[str, dict[str, tuple[int, ...]]]]  # docname -> figtype -> id -> number


def chapter_number(title: str) -> int | None:
    """The number a chapter's title starts with ("9. The MNIST benchmark" -> 9), else None."""
    match = CHAPTER_TITLE.match(title)
    return int(match.group(1)) if match else None


def number_per_chapter(fignumbers: FigNumbers, chapters: dict[str, int]) -> FigNumbers:
    """Figures, tables, listings, equations and exercises numbered within their page, in the
    order Sphinx numbered them: (9, 1), (9, 2) … on the page of chapter 9 ("Fig. 9.2",
    "Exercise 9.1"), (1,), (2,) … on a page that is no chapter."""
    renumbered: FigNumbers = {}
    for docname, by_type in fignumbers.items():
        prefix = (chapters[docname],) if docname in chapters else ()
        renumbered[docname] = {figtype: {ident: (*prefix, k + 1) for k, ident in enumerate(sorted(ids, key=ids.get))}
                               for figtype, ids in by_type.items()}
    return renumbered


def _sphinx_numbers_back(app, env) -> list[str]:
    """``env-get-updated``, before Sphinx numbers figures: give it back its own numbers of the
    last build, so that it compares like with like when it decides which pages to rewrite."""
    if hasattr(env, "stn_sphinx_fignumbers"):
        env.toc_fignumbers = env.stn_sphinx_fignumbers
    return []


def _number_per_chapter(app, env) -> list[str]:
    """``env-get-updated``, after Sphinx numbered figures across the whole book (Fig. 72,
    Exercise 31: the toctree is not numbered, because the chapters' titles carry their numbers
    themselves): number them per chapter instead, from the number in the chapter's title.
    Returns the pages whose numbers changed, to be written again."""
    chapters = {doc: n for doc, title in env.titles.items() if (n := chapter_number(title.astext())) is not None}
    before = getattr(env, "stn_chapter_fignumbers", {})
    env.stn_sphinx_fignumbers = env.toc_fignumbers
    env.toc_fignumbers = env.stn_chapter_fignumbers = number_per_chapter(env.toc_fignumbers, chapters)
    return sorted(d for d in env.toc_fignumbers.keys() | before.keys() if env.toc_fignumbers.get(d) != before.get(d))


STATIC = Path(__file__).resolve().parent / "static"


def static_digest(folder: Path = STATIC) -> str:
    """A SHA-256 over the names and bytes of the book's own CSS and scripts (``scripts/static``)."""
    h = hashlib.sha256()
    for p in sorted(q for q in Path(folder).rglob("*") if q.is_file()):
        h.update(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _launch_buttons_need_a_repository(app, config) -> None:
    options = dict(config.html_theme_options or {})
    if not options.get("repository_url"):
        buttons = dict(options.get("launch_buttons") or {})
        for key in LAUNCHERS:
            buttons.pop(key, None)
        options["launch_buttons"] = buttons
        config.html_theme_options = options


def setup(app):
    # the notebook kernels inherit this: a passing exercise check then says "not attempted yet",
    # which is what the page's reader, who has written nothing, needs to read (stn_course.exercises)
    os.environ["STN_COURSE_BOOK"] = "1"
    app.add_css_file("stn_book.css")
    # an "html" config value: when the CSS or a script changes (or one is added, which changes
    # every page's <head>), Sphinx writes every page again, not only those whose source changed
    app.add_config_value("stn_book_static_digest", static_digest(), "html")
    app.add_js_file("stn_fit_math.js")
    app.add_js_file("stn_tables.js")
    # before MathJax and the widget scripts (priority 500), so that it hears their load errors
    app.add_js_file("stn_script_notice.js", priority=150)
    app.connect("config-inited", _launch_buttons_need_a_repository, priority=950)
    app.connect("doctree-read", _strip_solution_markers)
    app.connect("source-read", _before_reading)
    app.connect("doctree-read", _record_run)
    app.connect("doctree-resolved", _fill_headers)
    # Sphinx's TocTreeCollector numbers figures on env-get-updated at the default priority (500)
    app.connect("env-get-updated", _sphinx_numbers_back, priority=400)
    app.connect("env-get-updated", _number_per_chapter, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
