"""Sphinx configuration of the course site (a template: not imported by the course).

``course_tools/site.py`` copies this file to ``build/site-src/conf.py`` and writes ``site.json`` beside it
with what changes from build to build (the course title, the repository URL read from ``pyproject.toml``
and the branch, the MathJax file). Read ``course_tools/site.py`` for why the site is built this way.
"""

from __future__ import annotations

import json
from pathlib import Path

_SITE = json.loads((Path(__file__).parent / "site.json").read_text(encoding="utf-8"))

project = _SITE["title"]
author = _SITE.get("author", "")
copyright = _SITE.get("copyright", "")
root_doc = "index"
language = "en"

extensions = ["myst_nb", "sphinx.ext.githubpages"]  # githubpages: .nojekyll, so Pages serves _static/

# The notebooks are committed executed (or fresh from `make course`): the site shows those outputs and never
# runs a kernel.
nb_execution_mode = "off"
nb_merge_streams = False  # outputs in the order the notebook shows them (a widget between two prints)
# $...$ and $$...$$ in Markdown cells, and LaTeX environments, become math nodes (MathJax renders them).
myst_enable_extensions = ["dollarmath", "amsmath"]
# MyST would add mathjax_ignore classes and a MathJax 4 configuration; the site ships MathJax 2 (below),
# whose tex2jax looks for \( \) and \[ \] only (what Sphinx writes), never in <pre>/<code>.
myst_update_mathjax = False
# Links in the notebooks and documents point at repository files (../ERRATA.md#erratum-5,
# notebooks/08_x.ipynb, LICENSE). site.py rewrites them after the build (pages, copies, anchors) and
# reports the ones that point nowhere, so MyST leaves them as written.
myst_all_links_external = True
suppress_warnings = [
    "myst.header",  # a box in a notebook may jump from ## to ####
    "misc.highlighting_failure",  # %%writefile cells of shell scripts are not Python: shown unhighlighted
]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "site.json"]

# ---- HTML: sphinx-book-theme (sidebar = the toctree of index.md, previous/next, search) ----------------
html_theme = "sphinx_book_theme"
html_title = _SITE["title"]
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_last_updated_fmt = None
html_copy_source = True  # the download button offers each notebook's .ipynb from the site itself
html_show_sourcelink = False

# MathJax 2.7 from the site's own _static/mathjax (copied from the jupyter-server-mathjax package): math
# renders with the network off. The "-full" combined configuration holds TeX input and HTML-CSS output;
# the web font is STIX-Web (the one the package ships) and no image fonts are used.
mathjax_path = _SITE["mathjax_path"]
mathjax2_config = {
    "tex2jax": {
        "inlineMath": [["\\(", "\\)"]],
        "displayMath": [["\\[", "\\]"]],
        "processEscapes": False,
        "processEnvironments": True,
    },
    "HTML-CSS": {
        "availableFonts": [],
        "preferredFont": None,
        "webFont": "STIX-Web",
        "imageFont": None,
    },
    "showMathMenu": False,
    "menuSettings": {"zoom": "None"},
    "messageStyle": "none",
}

_repo = _SITE.get("repository_url")
html_theme_options = {
    "home_page_in_toc": False,  # the title above the sidebar links the index
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
}
if _repo:
    # Set only when pyproject.toml's [project.urls] names the repository: then the header has the
    # repository button, each page a "source" link, and each notebook launch buttons (Colab; Kaggle is
    # added below). Without it the site shows none of these (never a dead or placeholder link).
    html_theme_options.update(
        {
            "repository_url": _repo,
            "repository_branch": _SITE["branch"],
            "path_to_docs": "",  # build/site-src mirrors the repository's layout
            "use_repository_button": True,
            "use_source_button": True,
        }
    )
    if _SITE.get("launch"):
        html_theme_options["launch_buttons"] = {
            "colab_url": "https://colab.research.google.com",
            "notebook_interface": "jupyterlab",
        }


def _kaggle_and_source_buttons(app, pagename, templatename, context, doctree):
    """Add "Kaggle" to a notebook's launch menu; drop source links of pages that are not in the repo."""
    buttons = context.get("header_buttons")
    if not buttons or not _repo:
        return
    if pagename not in _SITE.get("repo_pages", []):  # index, search, genindex: no file in the repository
        for b in buttons:
            if "buttons" in b:
                b["buttons"] = [x for x in b["buttons"] if x.get("label") != "source-file-button"]
        buttons[:] = [b for b in buttons if b.get("label") != "source-file-button" and b.get("buttons") != []]
        return
    kaggle = _SITE.get("kaggle", {}).get(pagename)
    if not kaggle:
        return
    for b in buttons:
        if b.get("label") == "launch-buttons":
            b["buttons"].append(
                {
                    "type": "link",
                    "text": "Kaggle",
                    "tooltip": "Launch on Kaggle",
                    "icon": "fab fa-kaggle",
                    "url": kaggle,
                }
            )


def setup(app):
    app.connect("html-page-context", _kaggle_and_source_buttons, priority=600)
