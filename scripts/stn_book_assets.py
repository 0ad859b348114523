"""Sphinx extension of the book: quick mode at build time, and where web assets come from.

A rendered page needs four third-party scripts: MathJax (maths), RequireJS, the Jupyter
widgets HTML manager (``@jupyter-widgets/html-manager``, which renders the widget state that
myst-nb embeds in the page) and anywidget's front end (which runs our widgets' JavaScript).
By default they come from a CDN, as myst-nb and Sphinx set them up. With
``STN_BOOK_ASSETS=local`` (or ``STN_BOOK_ASSETS=/some/folder``) the build serves copies
instead, fetched from the npm registry by ``python scripts/fetch_web_assets.py`` into the
ignored folder ``_static_vendor/`` — that is how the book renders offline and how the
browser test runs. The versions are pinned here, once, for both routes.

The extension also sets ``STN_COURSE_QUICK=1`` for the notebook kernels unless the variable
is already set, so a build runs the chapters in quick mode (``STN_COURSE_QUICK=0`` builds
with full settings), and makes the kernels draw figures inline even where ``MPLBACKEND`` is
set to a non-interactive backend such as ``Agg``.

A chapter's outputs depend on the run records in ``results/`` as well as on its code, but
myst-nb's cache (``execute_notebooks: cache``) is keyed on the code alone, so new records
would leave a stale page. The extension keeps a digest of ``results/`` in the build
environment; when it changes, it empties the execution cache and has every notebook read
(and so executed) again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VENDOR_DIR = ROOT / "_static_vendor"
ENV_VAR = "STN_BOOK_ASSETS"

# npm package -> (version, files to copy: source path inside the package -> target under vendor/)
NPM_ASSETS: dict[str, tuple[str, dict[str, str]]] = {
    "requirejs": ("2.3.7", {"require.js": "require.js"}),
    "@jupyter-widgets/html-manager": ("1.0.6", {"dist/embed-amd.js": "html-manager/embed-amd.js"}),
    "anywidget": ("0.11.0", {"dist/index.js": "anywidget/index.js"}),
    "mathjax": ("3.2.2", {"es5": "mathjax"}),
}

# Files that must exist for a local build (relative to <vendor dir>/vendor).
REQUIRED = ("require.js", "html-manager/embed-amd.js", "anywidget/index.js", "mathjax/tex-mml-chtml.js")

CDN = "https://cdn.jsdelivr.net/npm/"


def cdn_widget_scripts() -> dict[str, dict[str, str]]:
    """The widget scripts from the CDN (myst-nb's defaults, with our pinned versions)."""
    html_manager = NPM_ASSETS["@jupyter-widgets/html-manager"][0]
    requirejs = NPM_ASSETS["requirejs"][0]
    anywidget = NPM_ASSETS["anywidget"][0]
    return {
        f"{CDN}requirejs@{requirejs}/require.js": {"crossorigin": "anonymous"},
        "stn_widget_paths.js": {"data-anywidget": f"{CDN}anywidget@{anywidget}/dist/index"},
        f"{CDN}@jupyter-widgets/html-manager@{html_manager}/dist/embed-amd.js": {
            "data-jupyter-widgets-cdn": CDN,
            "crossorigin": "anonymous",
        },
    }


def local_widget_scripts() -> dict[str, dict[str, str]]:
    """The widget scripts from ``_static/vendor`` (paths relative to ``_static``).

    ``stn_widget_paths.js`` tells RequireJS where anywidget's front end lives, so the HTML
    manager finds it locally instead of falling back to the CDN.
    """
    return {
        "vendor/require.js": {},
        "stn_widget_paths.js": {},
        "vendor/html-manager/embed-amd.js": {"data-jupyter-widgets-cdn": "vendor/npm-missing/"},
    }


def vendor_dir() -> Path | None:
    """The folder holding ``vendor/`` when local assets are selected, else None (CDN)."""
    value = os.environ.get(ENV_VAR, "").strip()
    if value in ("", "cdn"):
        return None
    folder = DEFAULT_VENDOR_DIR if value == "local" else Path(value).expanduser().resolve()
    missing = [f for f in REQUIRED if not (folder / "vendor" / f).exists()]
    if missing:
        raise RuntimeError(
            f"{ENV_VAR}={value!r} selects local web assets, but {folder / 'vendor'} lacks "
            f"{', '.join(missing)}. Fetch them with `python scripts/fetch_web_assets.py "
            f"--dest {folder}` (needs npm), or unset {ENV_VAR} to use the CDN.")
    return folder


def _on_config_inited(app, config) -> None:
    config.html_static_path = [*config.html_static_path, str(Path(__file__).parent / "static")]
    folder = vendor_dir()
    if folder is None:
        config.nb_ipywidgets_js = cdn_widget_scripts()
        return
    config.html_static_path = [*config.html_static_path, str(folder)]
    config.mathjax_path = "vendor/mathjax/tex-mml-chtml.js"
    config.nb_ipywidgets_js = local_widget_scripts()


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep one copy of each script tag: sphinx-thebe's inline configuration is added twice
    under Jupyter Book 1 and the second copy throws "THEBE_JS_URL has already been declared"."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        # an inline script is registered once with filename None and once with ""
        key = (str(getattr(js, "filename", js) or ""), repr(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    scripts[:] = kept


RESULTS_DIR = ROOT / "results"


def results_digest(folder: Path | None = None) -> str:
    """A SHA-256 over every file under ``folder`` (default ``results/``: names and bytes), "" where there is none."""
    folder = Path(folder if folder is not None else RESULTS_DIR)
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    if not files:
        return ""
    h = hashlib.sha256()
    for p in files:
        h.update(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _rerun_after_new_records(app, env, added, changed, removed) -> list[str]:
    """``env-get-outdated``: every notebook, with the execution cache emptied, when the records
    under results/ differ from those of the environment's last build; else nothing."""
    digest = results_digest()
    before = getattr(env, "stn_results_digest", None)
    env.stn_results_digest = digest
    if before is None or before == digest:  # a fresh environment reads (and executes) everything anyway
        return []
    cache = getattr(getattr(env, "mystnb_config", None), "execution_cache_path", "")
    if cache:
        shutil.rmtree(cache, ignore_errors=True)
    return sorted(d for d in env.found_docs if str(env.doc2path(d)).endswith(".ipynb"))


INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def setup(app):
    os.environ.setdefault("STN_COURSE_QUICK", "1")
    # The notebook kernels inherit this process's environment; a non-interactive backend
    # such as MPLBACKEND=Agg (set by CI for the tests) would silently drop every figure.
    if os.environ.get("MPLBACKEND", INLINE_BACKEND) != INLINE_BACKEND:
        os.environ["MPLBACKEND"] = INLINE_BACKEND
    app.connect("config-inited", _on_config_inited, priority=900)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    app.connect("env-get-outdated", _rerun_after_new_records)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
