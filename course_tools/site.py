"""Build the course's static web site: one HTML page per executed notebook and an index in syllabus order.

``make site`` runs this. For each ``notebooks/NN_x.ipynb`` the page is rendered (nbconvert, JupyterLab
template) from the executed copy that ``make course`` wrote to ``build/notebooks/`` when that copy is at
least as new as the notebook, otherwise from the notebook as committed (they are committed executed).
``index.html`` lists the notebooks in syllabus order with the title of each notebook's first heading and,
when ``build/course_times.json`` exists, the CPU seconds ``make course`` measured. README.md,
INSTRUCTORS.md, GLOSSARY.md and CONTRIBUTING.md, when present, become pages too (``markdown`` package).

Local links are rewritten so that the site works offline from ``build/site/``: links to a course notebook
(``02_rnn.ipynb``) point at its page, links to one of those Markdown files at its page, and links to
any other file of the repository (an image, a ``.py`` file) at a copy under ``files/``. A link to a
file that does not exist is left alone and reported (``tests/test_site.py`` fails on it).

Usage::

    python -m course_tools.site [--out build/site] [--source auto|build|notebooks]

Taught in INSTRUCTORS.md (not in a notebook).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from course_utils.paths import ROOT

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
DOCS = ("README.md", "INSTRUCTORS.md", "GLOSSARY.md", "CONTRIBUTING.md")
COURSE_TITLE = "Distributed deep learning: a notebook course"

__all__ = ["Page", "notebook_title", "local_links", "course_map", "build_site", "main"]

_LINK_ATTR = re.compile(r"""(?P<attr>\b(?:href|src))=(?P<q>["'])(?P<url>[^"']*)(?P=q)""", re.I)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}code,pre{background:#f6f8fa;font-size:90%}pre{padding:.6rem;overflow-x:auto}
img{max-width:100%}
"""


@dataclass(frozen=True)
class Page:
    """One notebook page of the site."""

    name: str  # notebook file name, e.g. 01_cnn_from_scratch.ipynb
    title: str
    source: Path  # the .ipynb rendered
    executed_by: str  # "make course" or "committed"

    @property
    def html_name(self) -> str:
        return Path(self.name).with_suffix(".html").name


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


class _Linker:
    """Rewrites the local links of one page (whose source file lived in ``base``) to site paths."""

    def __init__(self, root: Path, out: Path, notebooks: set[str], docs: set[str]):
        self.root, self.out, self.notebooks, self.docs = root, out, notebooks, docs
        self.site_pages = {"index.html"} | {Path(n).with_suffix(".html").name for n in notebooks | docs}
        self.broken: list[str] = []

    def rewrite(self, page_html: str, base: Path, page: str) -> str:
        def fix(m: re.Match) -> str:
            url = html.unescape(m.group("url")).strip()
            parts = urlsplit(url)
            if not url or url.startswith("#") or parts.scheme or parts.netloc or url.startswith("//"):
                return m.group(0)
            new = self._target(unquote(parts.path), base)
            if new is None:
                self.broken.append(f"{page}: {url}")
                return m.group(0)
            frag = f"#{parts.fragment}" if parts.fragment else ""
            return f"{m.group('attr')}={m.group('q')}{html.escape(new + frag, quote=True)}{m.group('q')}"

        return _LINK_ATTR.sub(fix, page_html)

    def _target(self, path: str, base: Path) -> str | None:
        name = Path(path).name
        if path.endswith(".ipynb") and name in self.notebooks:
            return Path(name).with_suffix(".html").name
        if name in self.docs and path.endswith(".md"):
            return Path(name).with_suffix(".html").name
        if path in self.site_pages:  # our own navigation links
            return path
        target = (base / path).resolve()
        try:
            rel = target.relative_to(self.root)
        except ValueError:
            return None
        if not target.is_file() or rel.parts[0] in (".git", ".venv"):
            return None
        dest = self.out / "files" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target, dest)
        return (Path("files") / rel).as_posix()


def _nav(pages: list[Page], docs: list[str], current: str | None) -> str:
    links = ['<a href="index.html">Contents</a>']
    links += [
        f'<a href="{Path(d).with_suffix(".html").name}">{html.escape(Path(d).stem.title())}</a>' for d in docs
    ]
    if current is not None:
        names = [p.html_name for p in pages]
        i = names.index(current)
        if i > 0:
            links.append(f'<a href="{names[i - 1]}">&larr; {html.escape(pages[i - 1].title)}</a>')
        if i + 1 < len(names):
            links.append(f'<a href="{names[i + 1]}">{html.escape(pages[i + 1].title)} &rarr;</a>')
    return (
        "<style>nav.course{font-family:system-ui,sans-serif;font-size:90%;padding:.5rem 1rem;"
        "border-bottom:1px solid #ddd}nav.course a{margin-right:1rem}</style>"
        '<nav class="course">' + " ".join(links) + "</nav>"
    )


def _standalone(title: str, body: str, nav: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n{nav}\n{body}\n</body></html>\n"
    )


def _render_markdown(text: str) -> str:
    import markdown

    return markdown.markdown(text, extensions=["tables", "fenced_code", "toc", "sane_lists"])


def _index(pages: list[Page], docs: list[str], times: dict[str, float]) -> str:
    rows = []
    for p in pages:
        num = p.name[:2]
        secs = f"{times[p.name]:.0f}" if p.name in times else ""
        rows.append(
            f'<tr><td>{num}</td><td><a href="{p.html_name}">{html.escape(p.title)}</a></td>'
            f"<td><code>{html.escape(p.name)}</code></td><td>{secs}</td><td>{p.executed_by}</td></tr>"
        )
    doc_links = "".join(
        f'<li><a href="{Path(d).with_suffix(".html").name}">{html.escape(d)}</a></li>' for d in docs
    )
    body = (
        f"<h1>{html.escape(COURSE_TITLE)}</h1>\n"
        "<p>The notebooks in the order a learner walks them, rendered with their outputs. Open the "
        "<code>.ipynb</code> files in JupyterLab to run them (widgets are live only there).</p>\n"
        "<h2>Notebooks</h2>\n<table><thead><tr><th>#</th><th>Title</th><th>Notebook</th>"
        "<th>CPU s (make course)</th><th>Outputs from</th></tr></thead><tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table>\n"
        + (f"<h2>Documents</h2>\n<ul>{doc_links}</ul>\n" if docs else "")
    )
    return _standalone(COURSE_TITLE, body, _nav(pages, docs, None))


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


def build_site(out: Path = ROOT / "build" / "site", source: str = "auto", root: Path = ROOT) -> dict:
    """Write the site into ``out`` (replaced); return ``{"pages", "docs", "broken", "seconds"}``."""
    import nbformat
    from nbconvert import HTMLExporter

    t0 = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    pages = _choose_sources(source, root)
    docs = [d for d in DOCS if (root / d).is_file()]
    times = _course_times(root)
    linker = _Linker(root, out, {p.name for p in pages}, set(docs))
    exporter = HTMLExporter(template_name="lab")
    for page in pages:
        nb = nbformat.read(page.source, as_version=4)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": page.title}})
        body = linker.rewrite(body, root / "notebooks", page.html_name)
        nav = _nav(pages, docs, page.html_name)
        body = re.sub(r"(<body[^>]*>)", lambda m, nav=nav: m.group(1) + "\n" + nav, body, count=1)
        (out / page.html_name).write_text(body, encoding="utf-8")
    for d in docs:
        text = (root / d).read_text(encoding="utf-8")
        title = notebook_title(
            nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)]), Path(d).stem
        )
        page_html = _standalone(title, _render_markdown(text), _nav(pages, docs, None))
        (out / Path(d).with_suffix(".html").name).write_text(
            linker.rewrite(page_html, root, d), encoding="utf-8"
        )
    (out / "index.html").write_text(_index(pages, docs, times), encoding="utf-8")
    return {"pages": pages, "docs": docs, "broken": linker.broken, "seconds": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m course_tools.site", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    ap.add_argument(
        "--source",
        choices=("auto", "build", "notebooks"),
        default="auto",
        help="auto: build/notebooks/ copies newer than the notebook, else notebooks/ (default)",
    )
    ap.add_argument(
        "--course-map",
        action="store_true",
        help="only print a Markdown table (notebook, title, CPU s from build/course_times.json) for the README",
    )
    args = ap.parse_args(argv)
    if args.course_map:
        print(course_map())
        return 0
    result = build_site(args.out, args.source)
    if not result["pages"]:
        print("no notebooks/NN_*.ipynb to render", file=sys.stderr)
        return 1
    width = max(len(p.name) for p in result["pages"])
    for p in result["pages"]:
        print(f"{p.name:<{width}}  {p.executed_by:<11}  {p.title}")
    for d in result["docs"]:
        print(f"{d:<{width}}  document")
    for b in result["broken"]:
        print(f"warning: broken link {b}", file=sys.stderr)
    print(
        f"\nsite: {os.path.relpath(args.out / 'index.html')}  ({len(result['pages'])} notebooks, "
        f"{len(result['docs'])} documents, built in {result['seconds']:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
