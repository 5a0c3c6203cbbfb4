"""The course site in a real browser, offline: what a reader opening ``build/site/index.html`` sees.

The site is built once per session (``test_site.course_site``, from the committed notebooks) into a
temporary folder and opened from ``file://`` URLs in headless Chromium (Debian's ``/usr/bin/chromium``
driven by the ``playwright`` package, as in ``tests/test_browser.py``; no browser is downloaded). Every
request that is not a ``file:`` URL is aborted, so the pages must work with the network off: the index
lists every notebook in syllabus order; searching "DistributedSampler" on the search page finds the DDP
notebook (the notebook whose title names DDP or DistributedDataParallel) and the result opens it; the
formulas are typeset by the site's own MathJax (no raw ``\\(...\\)`` left); the figures load; a widget
snapshot shows its figure; no link or resource of any page is missing. Two screenshots are saved:
``build/screenshots/site_index.png`` and ``build/screenshots/site_lesson.png`` (the DDP notebook).

Skipped, with the reason, only when ``/usr/bin/chromium`` is missing (``.ci/run`` installs it).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from browser_helpers import chromium_missing_reason, launch_chromium
from test_site import COURSE_NOTEBOOKS, course_site, ddp_pages

from course_tools import site

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "build" / "screenshots"
MATHJAX_DONE = (
    "() => window.MathJax !== undefined && MathJax.Hub !== undefined && MathJax.Hub.queue !== undefined"
    " && MathJax.Hub.queue.pending === 0 && MathJax.Hub.queue.running === 0"
    " && document.querySelectorAll('.MathJax_Processing').length === 0"
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_missing_reason() is not None, reason=chromium_missing_reason() or ""),
    pytest.mark.skipif(not COURSE_NOTEBOOKS, reason="no course notebooks yet"),
]


class Offline:
    """A browser context in which only ``file:`` URLs load; what was blocked or failed is recorded."""

    def __init__(self, browser):
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("requestfailed", self._failed)

    def _route(self, route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def _failed(self, request) -> None:
        # MathJax 2 probes web-font support with a font at about:blank; the search page fetches each hit's
        # page for a summary, which Chromium refuses for file:// URLs (CORS): neither is a missing file
        if request.url == "about:blank" or request.resource_type in ("fetch", "xhr"):
            return
        parts = urlsplit(request.url)
        if parts.scheme == "file" and Path(unquote(parts.path)).is_file():
            return  # there, but cancelled: the test moved on to the next page while MathJax was loading
        self.failed.append(f"{request.resource_type} {request.url}: {request.failure}")

    def open(self, path: Path) -> None:
        self.page.goto(path.as_uri(), wait_until="load", timeout=60_000)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return course_site(tmp_path_factory)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with launch_chromium(tmp_path_factory.mktemp("chromium-home")) as b:
        yield b


@pytest.fixture
def offline(browser):
    o = Offline(browser)
    yield o
    o.context.close()


def _expected_titles() -> list[str]:
    return [
        site.plain_title(site.notebook_title(nbformat.read(p, as_version=4), p.stem))
        for p in COURSE_NOTEBOOKS
    ]


def test_index_lists_every_notebook_in_order(built, offline):
    out, _ = built
    offline.open(out / "index.html")
    links = offline.page.locator("#main-content .toctree-wrapper").first.locator("li.toctree-l1 > a")
    texts = [" ".join(t.split()) for t in links.all_inner_texts()]
    assert texts == _expected_titles()
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs == [f"notebooks/{p.stem}.html" for p in COURSE_NOTEBOOKS]
    # the sidebar shows the same syllabus
    sidebar = offline.page.locator(".bd-sidebar-primary li.toctree-l1 > a").all_inner_texts()
    assert [" ".join(t.split()) for t in sidebar][: len(texts)] == texts
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    offline.page.screenshot(path=str(SCREENSHOTS / "site_index.png"))
    assert offline.blocked == [] and offline.failed == [], (offline.blocked, offline.failed)


def test_search_finds_distributed_sampler_in_the_ddp_notebook(built, offline):
    out, result = built
    ddp = {p.html_name: site.plain_title(p.title) for p in ddp_pages(result["pages"])}
    assert ddp, "no notebook title names DDP or DistributedDataParallel"
    offline.open(out / "search.html")
    box = offline.page.locator("#main-content input[name='q']").first
    box.fill("DistributedSampler")
    box.press("Enter")
    # Sphinx shows the hits one by one, then says "Search finished, found N pages ..."
    offline.page.locator("#search-results", has_text="Search finished").wait_for(timeout=60_000)
    hits = offline.page.locator("#search-results ul.search li > a")
    found = {}
    for i in range(hits.count()):
        href = hits.nth(i).get_attribute("href") or ""
        page = unquote(urlsplit(href).path)
        for name in ddp:
            if page.endswith(name):
                found[name] = i
    assert found, f"no search result on {sorted(ddp)}: {hits.all_inner_texts()}"
    name, i = next(iter(found.items()))
    hits.nth(i).click()
    offline.page.wait_for_url(re.compile(re.escape(Path(name).name)), timeout=60_000)
    offline.page.wait_for_load_state("load")
    assert offline.page.url.split("?")[0].endswith(name)
    assert "DistributedSampler" in offline.page.locator("#main-content").inner_text()
    assert offline.page.locator("#main-content h1").first.inner_text().strip().startswith(ddp[name][:20])
    assert offline.blocked == [] and offline.failed == [], (offline.blocked, offline.failed)


def test_formulas_are_typeset_offline_and_the_lesson_page_looks_right(built, offline):
    out, result = built
    pages = ddp_pages(result["pages"]) + result["pages"]
    lesson = next(p for p in pages if 'class="math notranslate' in (out / p.html_name).read_text())
    offline.open(out / lesson.html_name)
    offline.page.wait_for_function(MATHJAX_DONE, timeout=60_000)
    typeset = offline.page.evaluate(
        """() => {
            const main = document.querySelector('#main-content');
            const shown = Array.from(main.querySelectorAll('.MathJax, .MathJax_Display'))
                .filter(e => e.getBoundingClientRect().width > 0).length;
            const scripts = main.querySelectorAll('script[type^="math/tex"]').length;
            const raw = /\\\\\\(|\\\\\\)|\\\\frac/.test(main.innerText);
            const font = MathJax.OutputJax['HTML-CSS'] ? MathJax.OutputJax['HTML-CSS'].fontInUse : null;
            return {shown, scripts, raw, font};
        }"""
    )
    assert typeset["scripts"] > 0 and typeset["shown"] >= typeset["scripts"] * 0.9, typeset
    assert not typeset["raw"], "raw TeX left on the page"
    assert typeset["font"] == "STIX-Web", typeset  # the site's own web font, not a fallback
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    offline.page.screenshot(path=str(SCREENSHOTS / "site_lesson.png"))
    assert offline.blocked == [] and offline.failed == [], (offline.blocked, offline.failed)


def _images_loaded(page) -> list[tuple[str, int]]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('#main-content img'))
              .map(i => [i.getAttribute('src').slice(0, 80), i.complete ? i.naturalWidth : -1])"""
    )


def test_figures_and_widget_snapshots_show(built, offline):
    out, result = built
    with_figures = [p for p in result["pages"] if "_images/" in (out / p.html_name).read_text()]
    assert with_figures, "no notebook page has a figure"
    offline.open(out / with_figures[0].html_name)
    images = _images_loaded(offline.page)
    assert images and all(w > 0 for _, w in images), images
    snapshots = [p for p in result["pages"] if "course-widget-snapshot" in (out / p.html_name).read_text()]
    stored = [p for p in result["pages"] if "widgets" in nbformat.read(p.source, as_version=4).metadata]
    assert len(snapshots) == len(stored), (snapshots, stored)  # every stored widget state is drawn
    for p in snapshots:
        offline.open(out / p.html_name)
        snap = offline.page.locator(".course-widget-snapshot").first
        snap.scroll_into_view_if_needed()
        assert snap.is_visible()
        widths = snap.evaluate("s => Array.from(s.querySelectorAll('img')).map(i => i.naturalWidth)")
        assert all(w > 0 for w in widths), (p.name, widths)
        assert snap.locator("input[type=range], progress, .cw-label, .cw-html").count() > 0, p.name
    assert offline.blocked == [] and offline.failed == [], (offline.blocked, offline.failed)


def test_no_link_or_resource_is_missing(built, offline):
    out, result = built
    pages = ["index.html", "search.html", *(p.html_name for p in result["pages"])]
    pages += [f"{Path(d).stem}.html" for d in result["docs"]]
    missing = []
    for name in pages:
        offline.open(out / name)
        hrefs = offline.page.evaluate(
            "() => Array.from(document.querySelectorAll('a[href], img[src], link[href], script[src]'))"
            ".map(e => e.href || e.src)"
        )
        for url in hrefs:
            parts = urlsplit(url)
            if parts.scheme != "file":
                continue
            target = Path(unquote(parts.path))
            if not target.is_file():
                missing.append(f"{name} -> {url}")
    assert missing == []
    assert offline.blocked == [] and offline.failed == [], (offline.blocked, offline.failed)
