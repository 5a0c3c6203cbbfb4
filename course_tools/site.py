"""Build the course web site: the executed notebooks as a book with a sidebar, search and offline math.

``make site`` runs this. It writes a Sphinx project into ``build/site-src/`` and builds it into
``build/site/`` (open ``build/site/index.html``; the folder can be copied to any static host as it is).

Why this tool
    Sphinx with **myst-nb** and **sphinx-book-theme**: all three are well kept (Sphinx, the Executable Books
    project), pure Python and pinned in ``requirements.txt``, so the site builds offline from the course
    environment. myst-nb renders a notebook's *stored* outputs (``nb_execution_mode = "off"``: the
    notebooks are committed executed, nothing is re-run), figures included; the book theme gives the
    sidebar (the syllabus), previous/next links, a per-page outline, the download of each ``.ipynb``, and
    - from one repository URL - the repository, source and launch (Colab) buttons; Sphinx gives a
    full-text search that runs in the browser from a static index (``searchindex.js``), so it works from
    a file or any static host with no server. (Jupyter Book 2 needs Node.js and a MyST server build;
    Jupyter Book 1 is this same stack with a CLI around it.)

Math without a network
    Sphinx's default loads MathJax from a CDN when the page is read (offline: raw ``\\(2\\frac{N-1}{N}\\)``).
    The site ships MathJax itself: the PyPI package ``jupyter-server-mathjax`` (Jupyter organisation)
    carries MathJax 2.7's static files; the needed part (about 4 MB of 12: ``MathJax.js``, the combined
    ``TeX-AMS-MML_HTMLorMML-full`` configuration, TeX input, HTML-CSS output with the STIX-Web web font,
    the extensions, English messages) is copied into ``_static/mathjax/`` and ``mathjax_path`` points at it
    with ``?config=TeX-AMS-MML_HTMLorMML-full`` (MathJax 2 reads its configuration from the script URL;
    ``site_conf.py`` adds the tex2jax and font settings).

What is built (``build/site-src/`` mirrors the repository, so relative links keep their meaning)
    * ``index.md``: the course title and two toctrees - the notebooks ``notebooks/NN_*.ipynb`` in file
      order (the syllabus; whatever notebooks exist, nothing is hard-coded) and the documents README,
      ERRATA, GLOSSARY, INSTRUCTORS, CONTRIBUTING (those that exist). They are the sidebar and the
      previous/next order.
    * each notebook from the executed copy that ``make course`` wrote to ``build/notebooks/`` when that
      copy is at least as new as the notebook, otherwise the committed notebook (``--source`` chooses).
      A widget output (``application/vnd.jupyter.widget-view+json``) becomes a static HTML snapshot drawn
      from the widget state stored in the notebook (sliders at their values, labels, progress bars, the
      Output widget's figure): no widget JavaScript, nothing from a CDN.
    * ``conf.py`` (copied from ``course_tools/site_conf.py``) and ``site.json`` (title, repository URL,
      MathJax path).

Links (rewritten in the built HTML, after Sphinx)
    A link to a course notebook (``08_ddp_mechanics.ipynb``, ``notebooks/03_gru.ipynb#Gates``) or to one
    of the documents (``../ERRATA.md#erratum-5``) points at its page; a Jupyter-style anchor
    (``#Learning-rate-at-a-larger-global-batch``) at the section id Sphinx gave that heading; a link to any
    other file of the repository (``LICENSE``, ``docs/notebook_template.ipynb``) at a copy in the site at
    the same path; a link to a folder at the repository's tree view when the repository URL is set. A
    link that points at nothing is turned into plain text (no dead link in the site) and reported
    (``result["broken"]``; ``tests/test_site.py`` fails on it); so is a link to a folder while no
    repository URL is set (not reported: the folder exists).

Repository URL, source and launch links
    Set once, in ``pyproject.toml``::

        [project.urls]
        Repository = "https://github.com/OWNER/NAME"

    (``Source`` or ``Homepage`` are read too). While no such URL is set the site has no repository,
    source or launch links at all - never a dead or placeholder one; every page still offers its
    ``.ipynb``/``.md`` download from the site. When it is set (a github.com or gitlab.com URL): the
    repository button, a "show source" link per page, and for GitHub "Colab" and "Kaggle" launch buttons
    per notebook (the notebook on the ``main`` branch; ``[tool.course-site] branch`` overrides), plus a
    table of those links on the index page.

Usage::

    python -m course_tools.site [--out build/site] [--source auto|build|notebooks] [--course-map]

About a minute on 2 cores (a rebuild with unchanged notebooks: seconds, Sphinx keeps its doctrees in
``build/site-src/_build/``). Taught in INSTRUCTORS.md (not in a notebook).
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import os
import re
import shutil
import sys
import time
import warnings as warnings_module
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from course_utils.paths import ROOT

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
#: Documents that become pages (those that exist), in the sidebar's order.
DOCS = ("README.md", "ERRATA.md", "GLOSSARY.md", "INSTRUCTORS.md", "CONTRIBUTING.md")
DOC_LABELS = {"README.md": "README: overview, quick start, course map"}
COURSE_TITLE = "Distributed deep learning: a notebook course"
CONF_TEMPLATE = Path(__file__).with_name("site_conf.py")
DEFAULT_BRANCH = "main"
#: MathJax 2's combined configuration (TeX and MathML input, HTML-CSS output) in jupyter-server-mathjax.
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full"
#: Repository folders never copied into the site (a link into them is reported as broken).
NOT_COPIED = {".git", ".venv", "build", "data"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

__all__ = [
    "Page",
    "notebook_title",
    "plain_title",
    "repository_url",
    "launch_links",
    "widget_snapshot_html",
    "local_links",
    "course_map",
    "build_site",
    "main",
]

_LINK_ATTR = re.compile(r"""(?P<attr>\b(?:href|src))=(?P<q>["'])(?P<url>[^"']*)(?P=q)""", re.I)
_ID_ATTR = re.compile(r"""\bid=["']([^"']+)["']""")
_MD_IMAGE = re.compile(r"""!\[[^\]]*\]\(\s*<?([^)\s>]+)>?[^)]*\)|<img\b[^>]*\bsrc=["']([^"']+)["']""", re.I)

_CSS = """
/* course site: small additions to sphinx-book-theme */
.course-widget-snapshot{border:1px solid var(--pst-color-border,#ccc);border-radius:4px;padding:.5rem .75rem;
  margin:.25rem 0 .5rem}
.course-widget-snapshot .cw-note{font-size:80%;opacity:.75;margin:.25rem 0 0}
.course-widget-snapshot .cw-row{display:flex;align-items:center;gap:.5rem;margin:.15rem 0}
.course-widget-snapshot .cw-hbox{display:flex;align-items:center;gap:.5rem;flex-wrap:wrap}
.course-widget-snapshot .cw-desc{min-width:6rem;text-align:right}
.course-widget-snapshot input[type=range]{width:14rem}
.course-widget-snapshot img{max-width:100%}
.course-launch-table td,.course-launch-table th{padding:.2rem .6rem}
"""


# ---------------------------------------------------------------------------------------------------------
# notebooks and titles


@dataclass(frozen=True)
class Page:
    """One notebook page of the site."""

    name: str  # notebook file name, e.g. 01_cnn_from_scratch.ipynb
    title: str  # the first heading, as written (Markdown)
    source: Path  # the .ipynb rendered
    executed_by: str  # "make course" or "committed"

    @property
    def docname(self) -> str:
        return f"notebooks/{Path(self.name).stem}"

    @property
    def html_name(self) -> str:
        """The page's path in the site, e.g. ``notebooks/01_cnn_from_scratch.html``."""
        return f"{self.docname}.html"


def notebook_title(nb, fallback: str) -> str:
    """The text of the notebook's first Markdown heading (any level), else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            m = re.match(r"\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m and m.group(1):
                return m.group(1)
    return fallback


def plain_title(title: str) -> str:
    """A Markdown heading as the text a reader sees: no backticks, emphasis marks or link syntax."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", title)
    text = re.sub(r"`+([^`]*)`+", r"\1", text)
    text = re.sub(r"(\*\*|__|\*|_)(\S(?:.*?\S)?)\1", r"\2", text)
    return text.strip()


def _choose_sources(source: str, root: Path) -> list[Page]:
    import nbformat

    pages = []
    for nb_path in sorted((root / "notebooks").glob(NOTEBOOK_GLOB)):
        built = root / "build" / "notebooks" / nb_path.name
        use_build = built.is_file() and (
            source == "build" or (source == "auto" and built.stat().st_mtime >= nb_path.stat().st_mtime)
        )
        chosen = built if use_build else nb_path
        nb = nbformat.read(chosen, as_version=4)
        pages.append(
            Page(
                nb_path.name,
                notebook_title(nb, nb_path.stem),
                chosen,
                "make course" if use_build else "committed",
            )
        )
    return pages


# ---------------------------------------------------------------------------------------------------------
# repository URL (pyproject.toml) and launch links


def _pyproject(root: Path) -> dict:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


_PLACEHOLDER = re.compile(r"example\.(com|org)|\bOWNER\b|\bUSER(NAME)?\b|<|>|your[-_]|TODO|xxx", re.I)


def repository_url(root: Path = ROOT) -> str | None:
    """The repository URL of ``[project.urls]`` (Repository, Source or Homepage), or None.

    Only an ``https://github.com/...`` or ``https://gitlab.com/...`` URL of an owner and a project counts
    (the book theme builds its links from those); a placeholder (``OWNER``, ``example.com``) does not.
    """
    urls = _pyproject(root).get("project", {}).get("urls", {}) or {}
    by_key = {k.lower().replace("-", " ").replace("_", " "): v for k, v in urls.items() if isinstance(v, str)}
    for key in ("repository", "source", "source code", "code", "homepage"):
        url = by_key.get(key, "").strip().removesuffix(".git").rstrip("/")
        if not url or _PLACEHOLDER.search(url):
            continue
        if re.fullmatch(r"https://(github|gitlab)\.com/[\w.-]+/[\w.-]+", url):
            return url
    return None


def repository_branch(root: Path = ROOT) -> str:
    """``[tool.course-site] branch`` of pyproject.toml, else ``main``."""
    branch = _pyproject(root).get("tool", {}).get("course-site", {}).get("branch")
    return branch if isinstance(branch, str) and branch.strip() else DEFAULT_BRANCH


def launch_links(repo: str | None, branch: str, path: str) -> dict[str, str]:
    """Source and hosted-notebook links of repository file ``path`` (empty without a repository URL)."""
    if not repo:
        return {}
    rel = quote(path)
    links = {"source": f"{repo}/blob/{branch}/{rel}"}
    if repo.startswith("https://github.com/") and path.endswith(".ipynb"):
        org_repo = repo.removeprefix("https://github.com/")
        links["colab"] = f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/{rel}"
        links["kaggle"] = "https://kaggle.com/kernels/welcome?src=" + quote(links["source"], safe="")
    return links


# ---------------------------------------------------------------------------------------------------------
# widget snapshots


def widget_snapshot_html(view: dict, state: dict) -> str | None:
    """Static HTML of the widget ``view`` (a widget-view+json output) from the notebook's widget ``state``.

    Draws what JupyterLab showed when the notebook was saved: boxes, sliders (disabled, at their values),
    labels and HTML, progress bars, check boxes, drop-downs, buttons, and the Output widget's outputs
    (text and images). None when the view's model is not in the stored state.
    """
    models = state.get("state", {}) if isinstance(state, dict) else {}
    root_id = view.get("model_id")
    if root_id not in models:
        return None
    body = _widget_html(root_id, models, depth=0)
    return (
        '<div class="course-widget-snapshot">'
        + body
        + '<p class="cw-note">Snapshot of an interactive widget, as saved with the notebook; '
        "it is live in JupyterLab.</p></div>"
    )


def _widget_html(model_id: str, models: dict, depth: int) -> str:
    if depth > 20 or model_id not in models:
        return ""
    model = models[model_id]
    name = model.get("model_name", "")
    st = model.get("state", {})
    esc = html.escape
    desc = st.get("description") or ""
    desc_html = f'<span class="cw-desc">{esc(str(desc))}</span>' if desc else ""

    def child(ref: str) -> str:
        return _widget_html(str(ref).removeprefix("IPY_MODEL_"), models, depth + 1)

    if name in ("VBoxModel", "BoxModel", "GridBoxModel", "AccordionModel", "TabModel", "StackModel"):
        return '<div class="cw-vbox">' + "".join(child(c) for c in st.get("children", [])) + "</div>"
    if name == "HBoxModel":
        return '<div class="cw-hbox">' + "".join(child(c) for c in st.get("children", [])) + "</div>"
    if name in ("IntSliderModel", "FloatSliderModel", "FloatLogSliderModel"):
        v, lo, hi, step = (st.get(k) for k in ("value", "min", "max", "step"))
        attrs = " ".join(
            f'{k}="{esc(str(x))}"' for k, x in (("min", lo), ("max", hi), ("step", step)) if x is not None
        )
        return (
            f'<div class="cw-row">{desc_html}<input type="range" {attrs} value="{esc(str(v))}" disabled '
            f'aria-label="{esc(str(desc))}"><span class="cw-value">{esc(str(v))}</span></div>'
        )
    if name in ("IntRangeSliderModel", "FloatRangeSliderModel"):
        v = st.get("value") or ["", ""]
        return f'<div class="cw-row">{desc_html}<span class="cw-value">{esc(str(v[0]))} – {esc(str(v[-1]))}</span></div>'
    if name in ("IntProgressModel", "FloatProgressModel"):
        v, hi = st.get("value", 0), st.get("max", 100)
        return f'<span class="cw-row">{desc_html}<progress value="{esc(str(v))}" max="{esc(str(hi))}"></progress></span>'
    if name == "LabelModel":
        return f'<div class="cw-label">{esc(str(st.get("value", "")))}</div>'
    if name in ("HTMLModel", "HTMLMathModel"):  # the notebook's own HTML (tqdm's text, a caption)
        return f'<span class="cw-html">{desc_html}{st.get("value", "")}</span>'
    if name in ("CheckboxModel", "ToggleButtonModel"):
        checked = " checked" if st.get("value") else ""
        return f'<label class="cw-row"><input type="checkbox" disabled{checked}> {esc(str(desc))}</label>'
    if name in ("DropdownModel", "SelectModel", "RadioButtonsModel", "ToggleButtonsModel"):
        labels = st.get("_options_labels", [])
        i = st.get("index")
        shown = labels[i] if isinstance(i, int) and 0 <= i < len(labels) else ""
        return f'<div class="cw-row">{desc_html}<select disabled><option>{esc(str(shown))}</option></select></div>'
    if name in (
        "TextModel",
        "TextareaModel",
        "IntTextModel",
        "FloatTextModel",
        "BoundedIntTextModel",
        "BoundedFloatTextModel",
    ):
        return f'<div class="cw-row">{desc_html}<input type="text" disabled value="{esc(str(st.get("value", "")))}"></div>'
    if name == "ButtonModel":
        return f'<button type="button" disabled>{esc(str(desc))}</button>'
    if name == "OutputModel":
        return '<div class="cw-output">' + "".join(_output_html(o) for o in st.get("outputs", [])) + "</div>"
    return ""  # layouts, styles and anything unknown draw nothing


def _output_html(out: dict) -> str:
    esc = html.escape
    if out.get("output_type") == "stream":
        text = out.get("text", "")
        return f"<pre>{esc(text if isinstance(text, str) else ''.join(text))}</pre>"
    data = out.get("data", {})
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            b64 = data[mime] if isinstance(data[mime], str) else "".join(data[mime])
            b64 = "".join(b64.split())
            base64.b64decode(b64[:64] + "=" * (-len(b64[:64]) % 4))  # raises on anything but base64
            alt = esc(str(data.get("text/plain", "figure")))
            return f'<img src="data:{mime};base64,{b64}" alt="{alt}">'
    if "image/svg+xml" in data:
        svg = data["image/svg+xml"]
        return svg if isinstance(svg, str) else "".join(svg)
    if "text/html" in data:
        h = data["text/html"]
        return h if isinstance(h, str) else "".join(h)
    if "text/plain" in data:
        t = data["text/plain"]
        return f"<pre>{esc(t if isinstance(t, str) else ''.join(t))}</pre>"
    return ""


def _static_notebook(nb):
    """``nb`` with widget outputs replaced by static HTML snapshots and the widget state removed.

    myst-nb would otherwise load the ipywidgets embed scripts from a CDN for a notebook with widget state.
    """
    widgets = nb.metadata.pop("widgets", None) or {}
    state = widgets.get(WIDGET_STATE, {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW not in data:
                continue
            view = data.pop(WIDGET_VIEW)
            snap = widget_snapshot_html(view, state)
            if snap is not None:
                data.clear()
                data["text/html"] = snap
            # without a stored state the text/plain repr ("VBox(children=...") is what is left
    return nb


# ---------------------------------------------------------------------------------------------------------
# the Sphinx source tree


def _write_if_changed(path: Path, text: str | bytes) -> None:
    """Write ``path`` only when its content changes (Sphinx rebuilds what is newer than its doctree)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _mathjax_source() -> Path:
    import jupyter_server_mathjax

    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").is_file() or not (static / "config" / f"{MATHJAX_CONFIG}.js").is_file():
        raise FileNotFoundError(f"MathJax 2 is not where jupyter-server-mathjax keeps it: {static}")
    return static


def _copy_mathjax(dest: Path) -> None:
    """The part of MathJax 2.7 the site needs (about 4 MB of its 12 MB) into ``dest``."""
    src = _mathjax_source()
    marker = dest.parent.parent / "_build" / "mathjax-source.txt"  # outside the site
    if (dest / "MathJax.js").is_file() and marker.is_file() and marker.read_text() == str(src):
        return
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(src / "MathJax.js", dest / "MathJax.js")
    if (src / "LICENSE").is_file():
        shutil.copy2(src / "LICENSE", dest / "LICENSE")
    (dest / "config").mkdir()
    shutil.copy2(src / "config" / f"{MATHJAX_CONFIG}.js", dest / "config" / f"{MATHJAX_CONFIG}.js")
    for sub in (
        "jax/input",
        "jax/element",
        "jax/output/HTML-CSS",
        "fonts/HTML-CSS/STIX-Web/woff",
        "localization/en",
    ):
        shutil.copytree(src / sub, dest / sub)
    shutil.copytree(src / "extensions", dest / "extensions", ignore=shutil.ignore_patterns("mathmaps"))
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(src))


def _local_images(text: str) -> list[str]:
    """Local image paths of a Markdown text (``![..](x.png)`` and ``<img src=...>``)."""
    out = []
    for m in _MD_IMAGE.finditer(text):
        url = (m.group(1) or m.group(2) or "").strip()
        parts = urlsplit(url)
        if (
            url
            and not parts.scheme
            and not parts.netloc
            and not url.startswith(("#", "attachment:", "data:"))
        ):
            out.append(unquote(parts.path))
    return out


def _copy_images(text: str, rel_dir: PurePosixPath, root: Path, src: Path) -> None:
    """Copy the repository images a Markdown text shows into the source tree (Sphinx copies them on)."""
    for path in _local_images(text):
        target = (root / rel_dir / path).resolve()
        try:
            rel = target.relative_to(root.resolve())
        except ValueError:
            continue
        if target.is_file() and rel.parts[0] not in NOT_COPIED:
            _write_if_changed(src / rel, target.read_bytes())


def _index_md(
    pages: list[Page], docs: list[str], repo: str | None, branch: str, titles: dict[str, str]
) -> str:
    lines = [
        f"# {COURSE_TITLE}",
        "",
        "The course's notebooks in the order a learner walks them, with the outputs and figures of their "
        "last run. To run and change them, clone the repository and use `make lab` (README); widgets are "
        "live only in JupyterLab (here they are snapshots). The search box finds any word of any page.",
        "",
        "```{toctree}",
        ":caption: Notebooks",
        ":maxdepth: 1",
        "",
        *[p.docname for p in pages],
        "```",
        "",
    ]
    if docs:
        lines += ["```{toctree}", ":caption: About the course", ":maxdepth: 1", ""]
        for d in docs:
            label = DOC_LABELS.get(d)
            lines.append(f"{label} <{Path(d).stem}>" if label else Path(d).stem)
        lines += ["```", ""]
    if repo:
        lines += [
            "## Run a notebook in the cloud",
            "",
            "Each notebook opens in a hosted runtime with one click (its first cell installs the course).",
            "",
            "| # | notebook | source | Colab | Kaggle |",
            "|---|---|---|---|---|",
        ]
        for p in pages:
            links = launch_links(repo, branch, f"notebooks/{p.name}")
            cells = [
                f"[{label}]({links[k]})" if k in links else ""
                for k, label in (
                    ("source", "GitHub" if "github.com" in repo else "source"),
                    ("colab", "Open in Colab"),
                    ("kaggle", "Open in Kaggle"),
                )
            ]
            lines.append(
                f"| {p.name[:2]} | [{plain_title(titles[p.name])}](notebooks/{p.name}) | "
                + " | ".join(cells)
                + " |"
            )
        lines.append("")
    return "\n".join(lines)


def _generate_source(pages: list[Page], docs: list[str], root: Path, src: Path) -> dict:
    """Write the Sphinx project into ``src``; return the settings written to ``site.json``."""
    import nbformat

    repo = repository_url(root)
    branch = repository_branch(root)
    src.mkdir(parents=True, exist_ok=True)
    keep = {"conf.py", "site.json", "index.md", "_static", "_build", "notebooks"} | set(docs)
    for old in src.iterdir():  # a document removed from the repository leaves the site
        if old.name not in keep:
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    nb_dir = src / "notebooks"
    nb_dir.mkdir(exist_ok=True)
    wanted = {p.name for p in pages}
    for old in nb_dir.iterdir():  # a renamed notebook leaves no stale page behind
        if old.name not in wanted:
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    titles = {}
    for p in pages:
        nb = _static_notebook(nbformat.read(p.source, as_version=4))
        titles[p.name] = p.title
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                _copy_images(cell.source, PurePosixPath("notebooks"), root, src)
        _write_if_changed(nb_dir / p.name, nbformat.writes(nb) + "\n")
    for d in docs:
        text = (root / d).read_text(encoding="utf-8")
        _copy_images(text, PurePosixPath("."), root, src)
        _write_if_changed(src / d, text)
    _write_if_changed(src / "index.md", _index_md(pages, docs, repo, branch, titles))
    _copy_mathjax(src / "_static" / "mathjax")
    _write_if_changed(src / "_static" / "course.css", _CSS.lstrip())
    settings = {
        "title": COURSE_TITLE,
        "author": "the course's authors",
        "repository_url": repo,
        "branch": branch,
        "launch": bool(repo and repo.startswith("https://github.com/")),
        "mathjax_path": f"mathjax/MathJax.js?config={MATHJAX_CONFIG}",
        "repo_pages": [p.docname for p in pages] + [Path(d).stem for d in docs],
        "kaggle": {
            p.docname: launch_links(repo, branch, f"notebooks/{p.name}").get("kaggle")
            for p in pages
            if launch_links(repo, branch, f"notebooks/{p.name}").get("kaggle")
        },
    }
    _write_if_changed(src / "site.json", json.dumps(settings, indent=1) + "\n")
    _write_if_changed(src / "conf.py", CONF_TEMPLATE.read_text(encoding="utf-8"))
    return settings


def _run_sphinx(src: Path, jobs: int) -> tuple[Path, list[str]]:
    """Build HTML from ``src`` into ``src/_build/html``; return that folder and Sphinx's warnings.

    Sphinx's output, its doctrees and myst-nb's ``jupyter_execute`` folder stay in ``src/_build``, so that
    a rebuild reads only the notebooks that changed; ``build_site`` copies the HTML to its ``out``.
    """
    from sphinx.application import Sphinx
    from sphinx.util.console import nocolor
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    nocolor()
    status, warnings = io.StringIO(), io.StringIO()
    html_dir = src / "_build" / "html"
    with patch_docutils(src), docutils_namespace(), warnings_module.catch_warnings():
        # the themes still call Sphinx APIs that Sphinx 11 removes: not the reader's concern
        warnings_module.filterwarnings("ignore", message=r".*Check CHANGES for Sphinx API modifications")
        app = Sphinx(
            srcdir=src,
            confdir=src,
            outdir=html_dir,
            doctreedir=src / "_build" / "doctrees",
            buildername="html",
            status=status,
            warning=warnings,
            freshenv=False,
            parallel=jobs,
            keep_going=True,
        )
        app.build()
    return html_dir, [w for w in warnings.getvalue().splitlines() if w.strip()]


# ---------------------------------------------------------------------------------------------------------
# links in the built HTML


def local_links(page_html: str) -> list[str]:
    """Every ``href``/``src`` of a page that points inside the site (no scheme, not ``#...``, not data:)."""
    out = []
    for m in _LINK_ATTR.finditer(page_html):
        url = html.unescape(m.group("url")).strip()
        parts = urlsplit(url)
        if not url or url.startswith("#") or parts.scheme or parts.netloc or url.startswith("//"):
            continue
        out.append(url)
    return out


def _make_id(fragment: str) -> str:
    from docutils.nodes import make_id

    return make_id(unquote(fragment))


class _Linker:
    """Rewrites the links of the built pages that do not resolve in the site (see the module docstring)."""

    def __init__(self, root: Path, out: Path, repo: str | None, branch: str, pages: dict[str, str]):
        self.root, self.out, self.repo, self.branch = root.resolve(), out.resolve(), repo, branch
        # repository path -> site path, e.g. notebooks/03_gru.ipynb -> notebooks/03_gru.html
        self.pages = pages
        self.ids: dict[Path, set[str]] = {}
        self.broken: list[str] = []

    def _ids(self, page: Path) -> set[str]:
        if page not in self.ids:
            self.ids[page] = (
                set(_ID_ATTR.findall(page.read_text(encoding="utf-8"))) if page.is_file() else set()
            )
        return self.ids[page]

    def _anchor(self, page: Path, fragment: str, where: str, url: str) -> str:
        if not fragment:
            return ""
        ids = self._ids(page)
        for cand in (unquote(fragment), _make_id(fragment)):
            if cand in ids:
                return "#" + quote(cand, safe="-_.~")
        self.broken.append(f"{where}: {url} (no such section)")
        return ""

    def rewrite(self, page: Path, repo_dir: PurePosixPath) -> None:
        """Rewrite ``page`` (a built HTML file whose source lived in ``repo_dir`` of the repository)."""
        text = page.read_text(encoding="utf-8")
        where = page.relative_to(self.out).as_posix()
        dead: list[str] = []

        def fix(m: re.Match) -> str:
            raw = m.group("url")
            url = html.unescape(raw).strip()
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or url.startswith("//") or not url:
                return m.group(0)
            if url.startswith("#"):  # a section of this page
                if not parts.fragment or parts.fragment in self._ids(page):
                    return m.group(0)
                new = self._anchor(page, parts.fragment, where, url) or "#"
                return self._attr(m, new)
            path = unquote(parts.path)
            if (page.parent / path).is_file():
                if parts.fragment and (page.parent / path).suffix == ".html":
                    frag = self._anchor((page.parent / path).resolve(), parts.fragment, where, url)
                    return self._attr(m, parts.path + frag)
                return m.group(0)  # Sphinx's own links (_static, _images, other pages)
            new = self._target(path, parts.fragment, repo_dir, page, where, url)
            if new is None:
                dead.append(raw)
                return m.group(0)
            return self._attr(m, new)

        text = _LINK_ATTR.sub(fix, text)
        for raw in dead:  # no dead link in the site: the link becomes its text
            text = re.sub(
                r"<a\b[^>]*\bhref=([\"'])" + re.escape(raw) + r"\1[^>]*>(.*?)</a>",
                r'<span class="course-unlinked">\2</span>',
                text,
                flags=re.S,
            )
        page.write_text(text, encoding="utf-8")

    @staticmethod
    def _attr(m: re.Match, new: str) -> str:
        return f"{m.group('attr')}={m.group('q')}{html.escape(new, quote=True)}{m.group('q')}"

    def _target(self, path: str, fragment: str, repo_dir: PurePosixPath, page: Path, where: str, url: str):
        target = (self.root / repo_dir / path).resolve()
        try:
            rel = target.relative_to(self.root).as_posix()
        except ValueError:
            self.broken.append(f"{where}: {url} (outside the repository)")
            return None
        here = page.parent
        if rel in self.pages:
            dest = (self.out / self.pages[rel]).resolve()
            return os.path.relpath(dest, here).replace(os.sep, "/") + self._anchor(dest, fragment, where, url)
        top = rel.split("/", 1)[0]
        if target.is_file() and top not in NOT_COPIED:
            dest = self.out / rel
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(target, dest)
            return os.path.relpath(dest, here).replace(os.sep, "/")
        if target.is_dir() and top not in NOT_COPIED:
            if self.repo:
                return f"{self.repo}/tree/{self.branch}/{quote(rel)}"
            return None  # a folder of the repository: plain text until a repository URL is set
        self.broken.append(f"{where}: {url} (no such file)")
        return None


def _rewrite_links(
    out: Path, root: Path, repo: str | None, branch: str, pages: list[Page], docs: list[str]
) -> list[str]:
    page_map = {f"notebooks/{p.name}": p.html_name for p in pages}
    page_map.update({d: f"{Path(d).stem}.html" for d in docs})
    linker = _Linker(root, out, repo, branch, page_map)
    for p in pages:
        linker.rewrite(out / p.html_name, PurePosixPath("notebooks"))
    for d in docs:
        linker.rewrite(out / f"{Path(d).stem}.html", PurePosixPath("."))
    linker.rewrite(out / "index.html", PurePosixPath("."))
    return linker.broken


# ---------------------------------------------------------------------------------------------------------
# README's course map, and the build


def _course_times(root: Path) -> dict[str, float]:
    """Seconds per notebook that ``make course`` measured (``build/course_times.json``), ok runs only."""
    times_file = root / "build" / "course_times.json"
    if not times_file.is_file():
        return {}
    try:
        return {
            r["notebook"]: float(r["seconds"])
            for r in json.loads(times_file.read_text())
            if r.get("status") == "ok"
        }
    except (ValueError, KeyError, TypeError):
        return {}


def course_map(root: Path = ROOT) -> str:
    """A Markdown table of the notebooks: number, linked title, CPU seconds measured by ``make course``."""
    import nbformat

    times = _course_times(root)
    lines = ["| # | notebook | CPU s (`make course`) |", "|---|---|---|"]
    for nb_path in sorted((root / "notebooks").glob(NOTEBOOK_GLOB)):
        title = notebook_title(nbformat.read(nb_path, as_version=4), nb_path.stem)
        title = re.sub(r"^\d\d\s*[·.:-]\s*", "", title)
        secs = f"{times[nb_path.name]:.0f}" if nb_path.name in times else "not run (or failed)"
        lines.append(f"| {nb_path.name[:2]} | [{title}](notebooks/{nb_path.name}) | {secs} |")
    return "\n".join(lines)


def build_site(
    out: Path = ROOT / "build" / "site",
    source: str = "auto",
    root: Path = ROOT,
    src: Path | None = None,
    jobs: int | None = None,
) -> dict:
    """Generate the Sphinx project in ``src`` (default: ``<out>-src``), build it into ``out`` (replaced).

    Returns ``{"pages", "docs", "broken", "warnings", "repository_url", "seconds"}``: ``broken`` lists the
    links that point nowhere (made plain text in the site), ``warnings`` Sphinx's warnings.
    """
    t0 = time.perf_counter()
    out = Path(out)
    src = Path(src) if src is not None else out.with_name(out.name + "-src")
    pages = _choose_sources(source, root)
    docs = [d for d in DOCS if (root / d).is_file()]
    settings = _generate_source(pages, docs, root, src)
    jobs = jobs if jobs is not None else min(2, os.cpu_count() or 1)
    html_dir, warnings = _run_sphinx(src, jobs)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(html_dir, out, ignore=shutil.ignore_patterns(".buildinfo", "*.map"))
    for p in pages:  # the download button offers the notebook itself (the page's copy lost its widget state)
        shutil.copy2(p.source, out / "_sources" / "notebooks" / p.name)
    broken = _rewrite_links(out, root, settings["repository_url"], settings["branch"], pages, docs)
    return {
        "pages": pages,
        "docs": docs,
        "broken": broken,
        "warnings": warnings,
        "repository_url": settings["repository_url"],
        "seconds": time.perf_counter() - t0,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m course_tools.site", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    ap.add_argument(
        "--source",
        choices=("auto", "build", "notebooks"),
        default="auto",
        help="auto: build/notebooks/ copies newer than the notebook, else notebooks/ (default)",
    )
    ap.add_argument("--jobs", type=int, default=None, help="Sphinx processes (default: up to 2)")
    ap.add_argument(
        "--course-map",
        action="store_true",
        help="only print a Markdown table (notebook, title, CPU s from build/course_times.json) for the README",
    )
    args = ap.parse_args(argv)
    if args.course_map:
        print(course_map())
        return 0
    result = build_site(args.out, args.source, jobs=args.jobs)
    if not result["pages"]:
        print("no notebooks/NN_*.ipynb to render", file=sys.stderr)
        return 1
    width = max(len(p.name) for p in result["pages"])
    for p in result["pages"]:
        print(f"{p.name:<{width}}  {p.executed_by:<11}  {plain_title(p.title)}")
    for d in result["docs"]:
        print(f"{d:<{width}}  document")
    for w in result["warnings"]:
        print(f"sphinx: {w}", file=sys.stderr)
    for b in result["broken"]:
        print(f"warning: link to nothing, shown as plain text: {b}", file=sys.stderr)
    repo = result["repository_url"]
    print(
        f"\nsite: {os.path.relpath(args.out / 'index.html')}  ({len(result['pages'])} notebooks, "
        f"{len(result['docs'])} documents, built in {result['seconds']:.1f} s; "
        + (
            f"source and launch links from {repo})"
            if repo
            else "no repository URL in pyproject.toml: no source or launch links)"
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
