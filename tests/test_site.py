"""The course site (course_tools/site.py): Sphinx + myst-nb + sphinx-book-theme, offline, no dead link.

A small fixture repository is built once per module (two notebooks, README, INSTRUCTORS, an image, a
helper file, links of every kind) and checked in detail; the real course is built once per session
(``course_site()``, shared with ``tests/test_site_browser.py``) and checked as a reader would need it:
the index lists every notebook in syllabus order, no local link is dead, the search index knows
"DistributedSampler" and sends it to the DDP notebook, math is set up to render from the site's own
MathJax, nothing is loaded from the network.
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import nbformat
import pytest

from course_tools import site

ROOT = Path(__file__).resolve().parent.parent
COURSE_NOTEBOOKS = sorted((ROOT / "notebooks").glob(site.NOTEBOOK_GLOB))
PNG_1x1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
#: Anything a page would fetch from the network when it is read.
REMOTE_ASSET = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""", re.I)


# ---------------------------------------------------------------------------------------------------------
# helpers (also used by test_site_browser.py)


def dead_links(out: Path) -> list[str]:
    """Every local href/src in the site's HTML files whose target file does not exist in the site."""
    dead = []
    for page in sorted(out.rglob("*.html")):
        for url in site.local_links(page.read_text(encoding="utf-8")):
            target = (page.parent / unquote(urlsplit(url).path)).resolve()
            if not target.is_file() or out.resolve() not in target.parents:
                dead.append(f"{page.relative_to(out)} -> {url}")
    return dead


def index_entries(out: Path) -> list[tuple[str, str]]:
    """(href, text) of the index page's "Notebooks" toctree, in order."""
    text = (out / "index.html").read_text(encoding="utf-8")
    main = text[text.index('id="main-content"') :]
    main = re.search(r'<span class="caption-text">Notebooks</span>.*?</ul>', main, re.S).group(0)
    entries = re.findall(
        r'<li class="toctree-l1"><a class="reference internal" href="([^"]+)">(.*?)</a>', main
    )
    return [(href, html.unescape(re.sub(r"<[^>]+>", "", label))) for href, label in entries]


def search_docs(out: Path, word: str) -> list[str]:
    """Pages (docnames) that Sphinx's search index lists for ``word`` (stemmed like the search page)."""
    import snowballstemmer

    text = (out / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    stem = snowballstemmer.stemmer("english").stemWord(word.lower())
    hits = index["terms"].get(stem, [])
    hits = [hits] if isinstance(hits, int) else hits
    return [index["docnames"][i] for i in hits]


_SITE_CACHE: dict[str, tuple[Path, dict]] = {}


def course_site(tmp_path_factory) -> tuple[Path, dict]:
    """The real course's site, built once per test session: (output folder, build_site's result)."""
    if "course" not in _SITE_CACHE:
        out = tmp_path_factory.mktemp("course-site") / "site"
        t0 = time.perf_counter()
        result = site.build_site(out, source="notebooks")
        print(f"\ncourse site: {len(result['pages'])} notebooks built in {time.perf_counter() - t0:.1f} s")
        _SITE_CACHE["course"] = (out, result)
    return _SITE_CACHE["course"]


def ddp_pages(pages: list[site.Page]) -> list[site.Page]:
    """The DDP notebook(s): title names DDP or DistributedDataParallel (whatever the file is called)."""
    return [p for p in pages if re.search(r"\bDDP\b|DistributedDataParallel", site.plain_title(p.title))]


# ---------------------------------------------------------------------------------------------------------
# a fixture repository


def _notebook(path: Path, title: str, extra_md: str = "", outputs: list | None = None, metadata=None) -> None:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(
                f"# {title}\n\nIntro: each rank sends $2\\frac{{N-1}}{{N}}$ times the gradient. {extra_md}\n\n"
                "## Gates and `code`\n\nA section."
            ),
            nbformat.v4.new_code_cell(
                "print(1 + 1)",
                outputs=outputs or [nbformat.v4.new_output("stream", text="2\n")],
                execution_count=1,
            ),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            **(metadata or {}),
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _widget_notebook(path: Path) -> None:
    """A notebook whose output is a widget (a slider and an Output widget with a figure) with stored state."""
    state = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_sl", "IPY_MODEL_out"]}},
        "sl": {
            "model_name": "IntSliderModel",
            "state": {"description": "kernel", "value": 3, "min": 1, "max": 7, "step": 1},
        },
        "out": {
            "model_name": "OutputModel",
            "state": {
                "outputs": [
                    {
                        "output_type": "display_data",
                        "data": {"image/png": base64.b64encode(PNG_1x1).decode(), "text/plain": "<Figure>"},
                        "metadata": {},
                    }
                ]
            },
        },
    }
    view = nbformat.v4.new_output(
        "display_data",
        data={
            site.WIDGET_VIEW: {"model_id": "box", "version_major": 2, "version_minor": 0},
            "text/plain": "VBox(children=(IntSlider(value=3)...",
        },
    )
    _notebook(
        path,
        "02 · Widgets",
        outputs=[view],
        metadata={"widgets": {site.WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}},
    )


def _fixture_repo(root: Path, repository: str | None = None) -> Path:
    _notebook(
        root / "notebooks" / "01_second.ipynb",
        "01 · Second: `DistributedSampler` and DDP",
        "Back to [the first](00_first.ipynb#Gates-and-code), [a folder](../course_utils/), "
        "[this section](#Gates-and-code), [gone](02_gone.ipynb).",
    )
    _notebook(
        root / "notebooks" / "00_first.ipynb",
        "00 · First",
        "Next: [second](01_second.ipynb), [readme](../README.md), ![fig](img/fig.png), "
        "[helper](../course_utils/helper.py)",
    )
    _widget_notebook(root / "notebooks" / "02_widgets.ipynb")
    _notebook(root / "notebooks" / "notes.ipynb", "Not a course notebook")  # not NN_*: no page
    (root / "notebooks" / "img").mkdir()
    (root / "notebooks" / "img" / "fig.png").write_bytes(PNG_1x1)
    (root / "course_utils").mkdir()
    (root / "course_utils" / "helper.py").write_text("x = 1\n")
    (root / "README.md").write_text(
        "# Course\n\n| nb | topic |\n|---|---|\n| [00](notebooks/00_first.ipynb) | first |\n\n"
        "See [instructors](INSTRUCTORS.md), [the glossary](GLOSSARY.md#terms) and the "
        "[licence](LICENSE).\n"
    )
    (root / "LICENSE").write_text("MIT\n")
    (root / "INSTRUCTORS.md").write_text("# Instructors\n\n[missing](notebooks/99_nowhere.ipynb)\n")
    urls = f'\n[project.urls]\nRepository = "{repository}"\n' if repository else ""
    (root / "pyproject.toml").write_text(f'[project]\nname = "x"\nversion = "0"\n{urls}')
    return root


@pytest.fixture(scope="module")
def fixture_site(tmp_path_factory) -> tuple[Path, Path, dict]:
    """(repository, site, result) of the fixture repository without a repository URL, built once."""
    root = _fixture_repo(tmp_path_factory.mktemp("fixture") / "repo")
    out = root / "build" / "site"
    return root, out, site.build_site(out, root=root, jobs=1)


@pytest.fixture(scope="module")
def fixture_site_with_repo(tmp_path_factory) -> tuple[Path, Path, dict]:
    root = _fixture_repo(
        tmp_path_factory.mktemp("fixture-repo") / "repo", "https://github.com/someone/dl-course"
    )
    out = root / "build" / "site"
    return root, out, site.build_site(out, root=root, jobs=1)


def test_fixture_pages_and_index_in_syllabus_order(fixture_site):
    _, out, result = fixture_site
    assert [p.name for p in result["pages"]] == ["00_first.ipynb", "01_second.ipynb", "02_widgets.ipynb"]
    assert result["docs"] == ["README.md", "INSTRUCTORS.md"]
    assert index_entries(out) == [
        ("notebooks/00_first.html", "00 · First"),
        ("notebooks/01_second.html", "01 · Second: DistributedSampler and DDP"),  # no raw backticks
        ("notebooks/02_widgets.html", "02 · Widgets"),
    ]
    for name in ("index.html", "README.html", "INSTRUCTORS.html", "search.html", "searchindex.js"):
        assert (out / name).is_file(), name
    assert not (out / "notebooks" / "notes.html").exists()
    assert (out / ".nojekyll").is_file()  # GitHub Pages serves _static/ and _images/ as they are
    second = (out / "notebooks" / "01_second.html").read_text()
    assert "<title>01 · Second: DistributedSampler and DDP" in second
    # previous / next follow the syllabus
    assert re.search(
        r'class="left-prev"[^>]*href="00_first.html"|href="00_first.html"[^>]*class="left-prev"', second
    )
    assert re.search(
        r'class="right-next"[^>]*href="02_widgets.html"|href="02_widgets.html"[^>]*class="right-next"', second
    )
    assert result["warnings"] == [], result["warnings"]


def test_fixture_links_rewritten_copied_or_reported(fixture_site):
    root, out, result = fixture_site
    first = (out / "notebooks" / "00_first.html").read_text()
    second = (out / "notebooks" / "01_second.html").read_text()
    assert 'href="01_second.html"' in first and 'href="../README.html"' in first
    assert 'href="../course_utils/helper.py"' in first and (out / "course_utils" / "helper.py").is_file()
    assert re.search(r'<img [^>]*src="../_images/fig.png"', first)
    # a Jupyter-style anchor lands on the section id Sphinx gave the heading
    assert 'href="00_first.html#gates-and-code"' in second and 'id="gates-and-code"' in first
    assert 'href="#gates-and-code"' in second
    readme = (out / "README.html").read_text()
    assert (
        'href="notebooks/00_first.html"' in readme
        and 'href="LICENSE"' in readme
        and (out / "LICENSE").is_file()
    )
    assert "<table" in readme
    # links to nothing: reported, and plain text in the site
    assert sorted(result["broken"]) == [
        "INSTRUCTORS.html: notebooks/99_nowhere.ipynb (no such file)",
        "README.html: GLOSSARY.md#terms (no such file)",
        "notebooks/01_second.html: 02_gone.ipynb (no such file)",
    ]
    assert '<span class="course-unlinked">gone</span>' in second
    assert '<span class="course-unlinked">a folder</span>' in second  # no repository URL: no folder link
    assert dead_links(out) == []


def test_fixture_math_is_local_and_nothing_comes_from_the_network(fixture_site):
    _, out, _ = fixture_site
    first = (out / "notebooks" / "00_first.html").read_text()
    assert r'<span class="math notranslate nohighlight">\(2\frac{N-1}{N}\)</span>' in first
    assert 'src="../_static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"' in first
    assert "MathJax.Hub.Config(" in first and '"webFont": "STIX-Web"' in first
    mj = out / "_static" / "mathjax"
    for part in (
        "MathJax.js",
        "config/TeX-AMS-MML_HTMLorMML-full.js",
        "jax/output/HTML-CSS/fonts/STIX-Web/fontdata.js",
    ):
        assert (mj / part).is_file(), part
    assert list((mj / "fonts" / "HTML-CSS" / "STIX-Web" / "woff").glob("*.woff"))
    for page in out.rglob("*.html"):
        assert not REMOTE_ASSET.search(page.read_text()), page


def test_fixture_widget_snapshot_is_static_html(fixture_site):
    _, out, _ = fixture_site
    page = (out / "notebooks" / "02_widgets.html").read_text()
    assert 'class="course-widget-snapshot"' in page
    assert re.search(r'<input type="range" min="1" max="7" step="1" value="3" disabled', page)
    assert "data:image/png;base64," in page
    assert "VBox(children=" not in page  # the text repr is replaced by the snapshot
    assert "widget-state+json" not in page and "html-manager" not in page  # no ipywidgets scripts
    # the download button offers the notebook itself, widget state included
    downloaded = nbformat.read(out / "_sources" / "notebooks" / "02_widgets.ipynb", as_version=4)
    assert "widgets" in downloaded.metadata


def test_fixture_without_repository_url_has_no_source_or_launch_links(fixture_site):
    _, out, result = fixture_site
    assert result["repository_url"] is None
    for page in out.rglob("*.html"):
        text = page.read_text()
        for needle in (
            "colab.research.google.com",
            "kaggle.com",
            "github.com/",
            "launch-buttons",
            "Show source",
        ):
            assert needle not in text, (page, needle)
    # the download button offers the page's .ipynb from the site itself
    assert 'href="../_sources/notebooks/00_first.ipynb"' in (out / "notebooks" / "00_first.html").read_text()


def test_fixture_with_repository_url_has_repository_source_colab_and_kaggle(fixture_site_with_repo):
    _, out, result = fixture_site_with_repo
    repo = "https://github.com/someone/dl-course"
    assert result["repository_url"] == repo
    first = (out / "notebooks" / "00_first.html").read_text()
    assert f'href="{repo}"' in first  # the repository button
    assert f"{repo}/blob/main/notebooks/00_first.ipynb?plain=1" in first  # this page's source
    assert (
        "https://colab.research.google.com/github/someone/dl-course/blob/main/notebooks/00_first.ipynb"
        in first
    )
    kaggle = "https://kaggle.com/kernels/welcome?src=" + quote(
        f"{repo}/blob/main/notebooks/00_first.ipynb", safe=""
    )
    assert html.escape(kaggle) in first or kaggle in first
    second = (out / "notebooks" / "01_second.html").read_text()
    assert f'href="{repo}/tree/main/course_utils"' in second  # a folder link goes to the repository
    index = (out / "index.html").read_text()
    assert "Open in Colab" in index and "Open in Kaggle" in index
    assert "/blob/main/index.md" not in index  # the generated index has no source file to show
    readme = (out / "README.html").read_text()
    assert f"{repo}/blob/main/README.md?plain=1" in readme and "colab.research" not in readme


# ---------------------------------------------------------------------------------------------------------
# pieces without a build


def test_repository_url_from_pyproject(tmp_path):
    def url(text: str) -> str | None:
        (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n' + text)
        return site.repository_url(tmp_path)

    assert url("") is None
    assert url('[project.urls]\nRepository = "https://github.com/a/b.git"\n') == "https://github.com/a/b"
    assert url('[project.urls]\nSource = "https://gitlab.com/a/b/"\n') == "https://gitlab.com/a/b"
    assert url('[project.urls]\nHomepage = "https://example.com/course"\n') is None
    assert url('[project.urls]\nRepository = "https://github.com/OWNER/REPO"\n') is None
    assert url('[project.urls]\nRepository = "https://github.com/<you>/course"\n') is None
    assert url('[project.urls]\nDocumentation = "https://github.com/a/b"\n') is None
    assert site.repository_branch(tmp_path) == "main"
    (tmp_path / "pyproject.toml").write_text('[tool.course-site]\nbranch = "gh-main"\n')
    assert site.repository_branch(tmp_path) == "gh-main"
    assert site.repository_url(ROOT) in (None, site.repository_url(ROOT))  # the course's own file parses


def test_launch_links():
    assert site.launch_links(None, "main", "notebooks/00_a.ipynb") == {}
    links = site.launch_links("https://github.com/o/r", "main", "notebooks/00_a.ipynb")
    assert links == {
        "source": "https://github.com/o/r/blob/main/notebooks/00_a.ipynb",
        "colab": "https://colab.research.google.com/github/o/r/blob/main/notebooks/00_a.ipynb",
        "kaggle": "https://kaggle.com/kernels/welcome?src=https%3A%2F%2Fgithub.com%2Fo%2Fr%2Fblob%2Fmain%2Fnotebooks%2F00_a.ipynb",
    }
    assert set(site.launch_links("https://gitlab.com/o/r", "main", "notebooks/00_a.ipynb")) == {"source"}


def test_plain_title():
    assert site.plain_title("07 · `MirroredStrategy` and **DDP**") == "07 · MirroredStrategy and DDP"
    assert site.plain_title("[a link](x.md) and _it_") == "a link and it"


def test_widget_snapshot_of_a_progress_bar_and_unknown_models():
    state = {
        "state": {
            "h": {
                "model_name": "HBoxModel",
                "state": {"children": ["IPY_MODEL_p", "IPY_MODEL_t", "IPY_MODEL_z"]},
            },
            "p": {"model_name": "FloatProgressModel", "state": {"value": 171.0, "max": 171.0}},
            "t": {"model_name": "HTMLModel", "state": {"value": "171/171 [00:01&lt;00:00]"}},
            "z": {"model_name": "SomeCustomModel", "state": {}},
        }
    }
    snap = site.widget_snapshot_html({"model_id": "h"}, state)
    assert '<progress value="171.0" max="171.0">' in snap and "171/171 [00:01&lt;00:00]" in snap
    assert site.widget_snapshot_html({"model_id": "missing"}, state) is None


def test_executed_copy_preferred_when_newer(tmp_path):
    root = tmp_path / "repo"
    _notebook(root / "notebooks" / "00_first.ipynb", "00 · First")
    _notebook(root / "notebooks" / "01_second.ipynb", "01 · Second")
    _notebook(root / "build" / "notebooks" / "00_first.ipynb", "00 · First (executed)")
    pages = {p.name: p for p in site._choose_sources("auto", root)}
    assert pages["00_first.ipynb"].executed_by == "make course"
    assert pages["00_first.ipynb"].title == "00 · First (executed)"
    assert pages["01_second.ipynb"].executed_by == "committed"
    assert all(p.executed_by == "committed" for p in site._choose_sources("notebooks", root))


def test_course_map_for_the_readme(tmp_path):
    root = tmp_path / "repo"
    _notebook(root / "notebooks" / "00_first.ipynb", "00 · First")
    _notebook(root / "notebooks" / "01_second.ipynb", "01 · Second")
    (root / "build").mkdir()
    (root / "build" / "course_times.json").write_text(
        '[{"notebook": "00_first.ipynb", "status": "ok", "seconds": 12.34, "error": ""},'
        ' {"notebook": "01_second.ipynb", "status": "FAILED", "seconds": 3.0, "error": "boom"}]'
    )
    assert site.course_map(root).splitlines()[2:] == [
        "| 00 | [First](notebooks/00_first.ipynb) | 12 |",
        "| 01 | [Second](notebooks/01_second.ipynb) | not run (or failed) |",
    ]


# ---------------------------------------------------------------------------------------------------------
# the real course


@pytest.fixture(scope="module")
def built_course(tmp_path_factory) -> tuple[Path, dict]:
    if not COURSE_NOTEBOOKS:
        pytest.skip("no course notebooks yet")
    return course_site(tmp_path_factory)


@pytest.mark.slow
def test_course_index_lists_every_notebook_in_order(built_course):
    out, result = built_course
    expected = [
        (
            f"notebooks/{p.stem}.html",
            site.plain_title(site.notebook_title(nbformat.read(p, as_version=4), p.stem)),
        )
        for p in COURSE_NOTEBOOKS
    ]
    assert index_entries(out) == expected
    for href, _ in expected:
        page = (out / href).read_text(encoding="utf-8")
        assert len(page) > 10_000, href
        title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
        assert "`" not in title, title
    print(f"built in {result['seconds']:.1f} s")


@pytest.mark.slow
def test_course_has_no_dead_link(built_course):
    out, result = built_course
    assert dead_links(out) == []
    assert result["broken"] == [], "links to nothing in the course's sources:\n" + "\n".join(result["broken"])


@pytest.mark.slow
def test_course_search_index_finds_distributed_sampler_in_the_ddp_notebook(built_course):
    out, result = built_course
    docs = search_docs(out, "DistributedSampler")
    ddp = [p.docname for p in ddp_pages(result["pages"])]
    assert ddp, "no notebook title names DDP or DistributedDataParallel"
    assert set(ddp) & set(docs), (ddp, docs)


@pytest.mark.slow
def test_course_math_figures_and_no_network(built_course):
    out, result = built_course
    with_math = 0
    for p in result["pages"]:
        text = (out / p.html_name).read_text(encoding="utf-8")
        assert not REMOTE_ASSET.search(text), p.name
        if 'class="math notranslate' in text:
            with_math += 1
            assert "../_static/mathjax/MathJax.js?config=" in text, p.name
    assert with_math >= 1
    assert list((out / "_images").glob("*.png")), "no figure in the site"
    assert not list(out.rglob("*.ipynb_checkpoints"))
