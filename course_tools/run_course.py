"""Execute every course notebook headless into ``build/`` and print a table of status and seconds.

``make course`` runs this. Each notebook runs in a fresh kernel with ``notebooks/`` as working folder;
the executed copy goes to ``build/notebooks/`` and an HTML rendering to ``build/html/``; the timings
are also written to ``build/course_times.json``. Exit status 1 if any notebook failed.

Usage::

    python -m course_tools.run_course [--only 00 03] [--timeout 900]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from course_utils.paths import BUILD, NOTEBOOKS


def course_notebooks(only: list[str] | None = None) -> list[Path]:
    """The course notebooks in syllabus order, optionally only those whose name starts with a prefix."""
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in only)]
    return paths


def execute(path: Path, timeout: int) -> tuple[str, float, str]:
    """Run one notebook; write executed ipynb + HTML; return (status, seconds, error)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # timestamps of an earlier run with timing on
        cell.metadata.pop("execution", None)
    client = NotebookClient(  # record_timing=False: no execution timestamps in the stored cells
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    t0 = time.perf_counter()
    status, error = "ok", ""
    try:
        client.execute()
    except CellExecutionError as e:
        status, error = "FAILED", str(e).strip().splitlines()[-1][:200]
    except Exception as e:  # timeouts, dead kernels
        status, error = "FAILED", f"{type(e).__name__}: {e}"[:200]
    seconds = time.perf_counter() - t0
    (BUILD / "notebooks").mkdir(parents=True, exist_ok=True)
    (BUILD / "html").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, BUILD / "notebooks" / path.name)
    html, _ = HTMLExporter().from_notebook_node(nb)
    (BUILD / "html" / path.with_suffix(".html").name).write_text(html, encoding="utf-8")
    return status, seconds, error


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m course_tools.run_course", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 00 03")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    args = ap.parse_args(argv)
    paths = course_notebooks(args.only)
    if not paths:
        print("no notebooks matched", file=sys.stderr)
        return 1
    rows = []
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        status, seconds, error = execute(path, args.timeout)
        rows.append({"notebook": path.name, "status": status, "seconds": round(seconds, 1), "error": error})
        print(f"  {status} in {seconds:.1f} s" + (f": {error}" if error else ""), flush=True)
    width = max(len(r["notebook"]) for r in rows)
    print(f"\n{'notebook':<{width}}  status  seconds")
    for r in rows:
        print(f"{r['notebook']:<{width}}  {r['status']:<6}  {r['seconds']:>7.1f}")
    total = sum(r["seconds"] for r in rows)
    print(f"{'total':<{width}}          {total:>7.1f}")
    BUILD.mkdir(exist_ok=True)
    (BUILD / "course_times.json").write_text(json.dumps(rows, indent=1))
    print(f"\nexecuted notebooks: {BUILD / 'notebooks'}   html: {BUILD / 'html'}")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
