"""A learner's JupyterLab, for real: open notebook 01, run the widget explorer, move a slider.

nbval proves that the kernels run; this test proves that the widgets render and react in JupyterLab's
front-end. It starts JupyterLab from this environment on 127.0.0.1 (see ``browser_helpers``), drives
Debian's headless Chromium with Playwright, and saves a screenshot to
``build/screenshots/widget_explorer.png``.

The page works on a copy of the notebook in a temporary folder (JupyterLab autosaves, and the committed
notebook must not change) cut down to its setup cell and its explorer cell, so the test stays under a
minute. Until notebook 01 has an explorer cell, a fixture notebook calls ``course_utils.explorer``.

Skipped, with the reason, only when ``/usr/bin/chromium`` is missing (``.ci/run`` installs it).
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from browser_helpers import (
    chromium_missing_reason,
    jupyter_lab,
    launch_chromium,
    open_notebook,
    run_all,
    wait_kernel_idle,
)

ROOT = Path(__file__).resolve().parent.parent
NB01 = ROOT / "notebooks" / "01_cnn_from_scratch.ipynb"
SCREENSHOTS = ROOT / "build" / "screenshots"
EXPLORER_CALL = "explore_conv("

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_missing_reason() is not None, reason=chromium_missing_reason() or ""),
]


def _kernelspec(nb) -> None:
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }


def explorer_notebook(dest: Path) -> tuple[Path, str]:
    """Write the notebook the browser opens into ``dest``; return (path, where it came from)."""
    if NB01.exists():
        nb = nbformat.read(NB01, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        explorer = [c for c in code if EXPLORER_CALL in c.source]
        if explorer:
            title = next((c for c in nb.cells if c.cell_type == "markdown"), None)
            cells = ([title] if title else []) + [code[0]] + [c for c in explorer if c is not code[0]]
            for c in cells:
                if c.cell_type == "code":
                    c.outputs, c.execution_count = [], None
            trimmed = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
            _kernelspec(trimmed)
            path = dest / NB01.name
            nbformat.write(trimmed, path)
            return path, f"{NB01.relative_to(ROOT)} (setup cell + explorer cell)"
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# 01 · CNN from scratch (fixture)\n\nThe convolution explorer."),
            nbformat.v4.new_code_cell("from course_utils.explorer import explore_conv"),
            nbformat.v4.new_code_cell("explore_conv();"),
        ]
    )
    _kernelspec(nb)
    path = dest / NB01.name
    nbformat.write(nb, path)
    return (
        path,
        "fixture notebook calling course_utils.explorer.explore_conv (notebook 01 has no explorer yet)",
    )


def test_widget_explorer_reacts_to_the_slider(tmp_path):
    from playwright.sync_api import expect

    t0 = time.monotonic()
    lab_root = tmp_path / "lab"
    lab_root.mkdir()
    nb_path, source = explorer_notebook(lab_root)
    print(f"notebook: {source}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    phases: dict[str, float] = {}

    def mark(name: str) -> None:
        phases[name] = round(time.monotonic() - t0, 1)

    with jupyter_lab(lab_root, tmp_path) as server, launch_chromium(tmp_path / "home") as browser:
        mark("server+browser up")
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.set_default_timeout(60_000)
        try:
            open_notebook(page, server, nb_path.name)
            mark("notebook open")
            wait_kernel_idle(page, server, nb_path.name)
            mark("kernel idle")
            run_all(page)

            cell = page.locator(".jp-CodeCell", has=page.locator(".widget-slider")).first
            handle = cell.locator(".widget-slider .noUi-handle").first
            label = cell.locator("div.widget-label").first
            output = cell.locator(".widget-output").first
            handle.wait_for(state="visible", timeout=120_000)
            expect(label).not_to_have_text("", timeout=60_000)
            page.wait_for_function(
                "el => el.querySelector('img, pre, .jp-OutputArea-output') !== null",
                arg=output.element_handle(),
                timeout=60_000,
            )
            mark("explorer rendered")
            before = {
                "value": handle.get_attribute("aria-valuenow"),
                "label": label.inner_text(),
                "output": output.inner_html(),
            }

            handle.focus()
            page.keyboard.press("ArrowRight")

            expect(handle).not_to_have_attribute("aria-valuenow", before["value"], timeout=30_000)
            expect(label).not_to_have_text(before["label"], timeout=60_000)
            page.wait_for_function(
                "([el, old]) => el.innerHTML !== old && el.querySelector('img, pre, .jp-OutputArea-output') !== null",
                arg=[output.element_handle(), before["output"]],
                timeout=60_000,
            )
            mark("output changed")
            after = {"value": handle.get_attribute("aria-valuenow"), "label": label.inner_text()}
            print(
                f"slider {before['value']} -> {after['value']}; label {before['label']!r} -> {after['label']!r}"
            )
            assert float(after["value"]) == float(before["value"]) + 1
            img = output.locator("img")
            if img.count():  # the redrawn figure has loaded
                page.wait_for_function(
                    "el => el.complete && el.naturalWidth > 0", arg=img.first.element_handle()
                )
            cell.locator(".widget-vbox", has=page.locator(".widget-slider")).first.screenshot(
                path=str(SCREENSHOTS / "widget_explorer.png")
            )
            page.screenshot(path=str(SCREENSHOTS / "jupyterlab_widget_explorer_page.png"))
        except Exception:
            page.screenshot(path=str(SCREENSHOTS / "browser_test_failure.png"))
            print(
                f"failure screenshot: {SCREENSHOTS / 'browser_test_failure.png'}\nserver log:\n{server.log_tail()}"
            )
            raise
    print(f"seconds since start: {phases}")
    print(
        f"browser test took {time.monotonic() - t0:.1f} s; screenshot {SCREENSHOTS / 'widget_explorer.png'}"
    )
