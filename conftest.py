"""pytest configuration shared by unit tests and the nbval notebook run."""

from __future__ import annotations

import os
from collections import defaultdict

# Notebooks run with nbval in this process's environment; keep TF quiet and off the network.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

_NOTEBOOK_SECONDS: dict[str, float] = defaultdict(float)


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
