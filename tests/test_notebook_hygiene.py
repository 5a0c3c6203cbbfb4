"""What the committed notebooks carry: no execution timestamps in cell metadata, no banners a learner must learn to
ignore in the stored outputs, and the hosted-runtime first cell."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: start-up chatter of TensorFlow/absl/oneDNN and of the Jupyter kernel
BANNERS = re.compile(
    r"absl::InitializeLog|oneDNN custom operations|cpu_feature_guard|This TensorFlow binary is optimized"
    r"|Kernel is running over TCP|Unable to register cu(DNN|FFT|BLAS) factory|computation_placer"
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_no_timestamps_and_no_banners(path):
    nb = nbformat.read(path, as_version=4)
    stamped = [i for i, c in enumerate(nb.cells) if "execution" in c.metadata]
    assert not stamped, f"cells {stamped} store execution timestamps (execute with record_timing=False)"
    banners = [
        f"cell {i}: {m.group(0)}"
        for i, c in enumerate(nb.cells)
        for o in c.get("outputs", [])
        if (m := BANNERS.search(str(o.get("text", ""))))
    ]
    assert not banners, f"stored outputs carry start-up banners: {banners}"
