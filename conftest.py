"""pytest configuration shared by unit tests and the nbval notebook run."""

from __future__ import annotations

import os
from collections import defaultdict

import pytest

# Notebooks run with nbval in this process's environment; keep TF quiet and off the network.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# An xdist worker (make test: 2 workers) gets its share of the cores, so two workers' kernels, notebooks and
# ranks do not oversubscribe the CPU (2 workers x 2 OpenMP threads on 2 cores made PyTorch cells 3-8x slower).
# The notebooks' proofs hold at any thread count, so this also reruns them with a thread count of their own.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ.setdefault(_var, _threads)

_NOTEBOOK_SECONDS: dict[str, float] = defaultdict(float)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "rerun: reruns whole notebooks or exercise sections that make test already runs (make test-all only)",
    )


def pytest_runtest_logreport(report):
    """Add up nbval's per-cell durations per notebook."""
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _NOTEBOOK_SECONDS[path] += report.duration


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _NOTEBOOK_SECONDS:
        return
    tr = terminalreporter
    tr.section("notebook durations (nbval, all cells)")
    for path, seconds in sorted(_NOTEBOOK_SECONDS.items()):
        tr.write_line(f"{seconds:8.1f} s  {path}")
    tr.write_line(f"{sum(_NOTEBOOK_SECONDS.values()):8.1f} s  total")


def _xdist_group(nodeid: str) -> str:
    """The group of tests that must run in one worker, one after the other (``pytest -n 2 --dist loadgroup``).

    Everything that executes notebook NN's code shares the group ``nbNN``: nbval's cells of NN (one kernel, in
    order), its break-the-mechanism tests and its wrong answers, because they write the same files under
    ``build/nbNN``. Every other test runs with the rest of its module (module fixtures are built once).
    """
    path, _, rest = nodeid.partition("::")
    name = path.rsplit("/", 1)[-1]
    if path.startswith("notebooks/") and name[:2].isdigit():
        return f"nb{name[:2]}"
    if name.startswith("test_break_nb"):
        return name.removeprefix("test_break_").removesuffix(".py")
    if name == "test_wrong_answers.py" and rest.endswith("]"):
        return f"nb{rest.rsplit('[', 1)[-1][:2]}"
    return path


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """With ``--dist loadgroup`` xdist schedules by the group after the last ``@`` of a node id (``...@nb05``).

    xdist 3.8 appends it by assigning ``item._nodeid``, which pytest 9 no longer reads (the node id comes from
    ``item._id``): the suffix is added here, once, for both.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    try:
        from _pytest.nodeid import NodeId  # pytest >= 9
    except ImportError:
        NodeId = None

    for item in items:
        nodeid = item.nodeid
        if "@" in nodeid.rpartition("]")[2]:
            continue  # xdist already did it
        grouped = f"{nodeid}@{_xdist_group(nodeid)}"
        if NodeId is not None and hasattr(item, "_id"):
            item._id = NodeId.parse(grouped)
        else:
            item._nodeid = grouped
