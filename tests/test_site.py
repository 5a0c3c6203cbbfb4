"""The static course site: a page per notebook, an index in syllabus order, and no dead local links."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from course_tools import site

ROOT = Path(__file__).resolve().parent.parent
COURSE_NOTEBOOKS = sorted((ROOT / "notebooks").glob(site.NOTEBOOK_GLOB))


def dead_links(out: Path) -> list[str]:
    """Every local href/src in the site's HTML files whose target file does not exist."""
    dead = []
    for page in sorted(out.rglob("*.html")):
        for url in site.local_links(page.read_text(encoding="utf-8")):
            target = (page.parent / unquote(urlsplit(url).path)).resolve()
            if not target.is_file() or out.resolve() not in target.parents:
                dead.append(f"{page.relative_to(out)} -> {url}")
    return dead


def index_entries(out: Path) -> list[tuple[str, str]]:
    """(page, title) of the index's notebook table, in order."""
    text = (out / "index.html").read_text(encoding="utf-8")
    return re.findall(r'<tr><td>\d\d</td><td><a href="([^"]+)">([^<]+)</a>', text)


def _notebook(path: Path, title: str, extra_md: str = "") -> None:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(f"# {title}\n\nIntro. {extra_md}"),
            nbformat.v4.new_code_cell(
                "print(1 + 1)", outputs=[nbformat.v4.new_output("stream", text="2\n")], execution_count=1
            ),
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def fixture_repo(tmp_path) -> Path:
    root = tmp_path / "repo"
    _notebook(root / "notebooks" / "01_second.ipynb", "01 · Second", "Back to [the first](00_first.ipynb).")
    _notebook(
        root / "notebooks" / "00_first.ipynb",
        "00 · First",
        "Next: [second](01_second.ipynb#Intro), [readme](../README.md), ![fig](img/fig.png), "
        "[helper](../course_utils/helper.py)",
    )
    (root / "notebooks" / "img").mkdir()
    (root / "notebooks" / "img" / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / "course_utils").mkdir()
    (root / "course_utils" / "helper.py").write_text("x = 1\n")
    (root / "README.md").write_text(
        "# Course\n\n| nb | topic |\n|---|---|\n| [00](notebooks/00_first.ipynb) | first |\n\n"
        "See [instructors](INSTRUCTORS.md) and [the glossary](GLOSSARY.md#terms).\n"
    )
    (root / "INSTRUCTORS.md").write_text("# Instructors\n\n[missing](notebooks/99_nowhere.ipynb)\n")
    return root


def test_fixture_site_pages_index_and_links(fixture_repo):
    out = fixture_repo / "build" / "site"
    result = site.build_site(out, root=fixture_repo)
    assert [p.name for p in result["pages"]] == ["00_first.ipynb", "01_second.ipynb"]
    assert index_entries(out) == [("00_first.html", "00 · First"), ("01_second.html", "01 · Second")]
    for name in ("index.html", "00_first.html", "01_second.html", "README.html", "INSTRUCTORS.html"):
        assert (out / name).is_file(), name
    first = (out / "00_first.html").read_text()
    assert 'href="01_second.html#Intro"' in first and 'href="README.html"' in first
    assert 'src="files/notebooks/img/fig.png"' in first and 'href="files/course_utils/helper.py"' in first
    assert 'href="00_first.html"' in (out / "README.html").read_text()  # README's table links the page
    assert "<table>" in (out / "README.html").read_text()
    # GLOSSARY.md does not exist and 99_nowhere.ipynb neither: reported, and left as dead links
    assert sorted(result["broken"]) == [
        "INSTRUCTORS.md: notebooks/99_nowhere.ipynb",
        "README.md: GLOSSARY.md#terms",
    ]
    assert sorted(dead_links(out)) == [
        "INSTRUCTORS.html -> notebooks/99_nowhere.ipynb",
        "README.html -> GLOSSARY.md#terms",
    ]


def test_executed_copy_preferred_when_newer(fixture_repo):
    built = fixture_repo / "build" / "notebooks" / "00_first.ipynb"
    _notebook(built, "00 · First (executed)")
    pages = {p.name: p for p in site.build_site(fixture_repo / "build" / "site", root=fixture_repo)["pages"]}
    assert (
        pages["00_first.ipynb"].executed_by == "make course"
        and pages["00_first.ipynb"].title == "00 · First (executed)"
    )
    assert pages["01_second.ipynb"].executed_by == "committed"
    only_committed = site.build_site(fixture_repo / "build" / "site2", source="notebooks", root=fixture_repo)[
        "pages"
    ]
    assert all(p.executed_by == "committed" for p in only_committed)


@pytest.mark.slow
@pytest.mark.skipif(not COURSE_NOTEBOOKS, reason="no course notebooks yet")
def test_course_site(tmp_path):
    """The real course: every notebook has a page, the index follows the syllabus, no link is dead."""
    out = tmp_path / "site"
    result = site.build_site(out)
    expected = [
        (p.with_suffix(".html").name, site.notebook_title(nbformat.read(p, as_version=4), p.stem))
        for p in COURSE_NOTEBOOKS
    ]
    assert index_entries(out) == [(name, html.escape(title)) for name, title in expected]
    for name, _ in expected:
        assert (out / name).stat().st_size > 1000, name
    assert result["broken"] == [], result["broken"]
    assert dead_links(out) == []
    print(f"site of {len(expected)} notebooks built in {result['seconds']:.1f} s")


def test_course_map_for_the_readme(fixture_repo):
    (fixture_repo / "build").mkdir()
    (fixture_repo / "build" / "course_times.json").write_text(
        '[{"notebook": "00_first.ipynb", "status": "ok", "seconds": 12.34, "error": ""},'
        ' {"notebook": "01_second.ipynb", "status": "FAILED", "seconds": 3.0, "error": "boom"}]'
    )
    table = site.course_map(fixture_repo).splitlines()
    assert table[2:] == [
        "| 00 | [First](notebooks/00_first.ipynb) | 12 |",
        "| 01 | [Second](notebooks/01_second.ipynb) | not run (or failed) |",
    ]
    out = fixture_repo / "build" / "site"
    site.build_site(out, root=fixture_repo)
    assert "<td>12</td>" in (out / "index.html").read_text()
