"""benchmarks/gpu_inference.py (notebook 11's GPU sweep): the knobs' plumbing on the CPU, failure rows, the FLOP
count (no GPU needed; the speeds themselves are never tested)."""

from __future__ import annotations

import runpy
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from course_utils.models import Net
from course_utils.paths import ROOT
from course_utils.pipeline import normalize_images

G = SimpleNamespace(**runpy.run_path(str(ROOT / "benchmarks" / "gpu_inference.py")))


def test_net_flops_per_image_matches_hand_count():
    conv1 = 24 * 24 * 10 * (1 * 5 * 5)
    conv2 = 8 * 8 * 20 * (10 * 5 * 5)
    fc = 320 * 50 + 50 * 10
    assert G.net_flops_per_image() == 2 * (conv1 + conv2 + fc) == 961_000


def test_uint8_normalised_on_device_equals_normalising_first():
    torch.manual_seed(0)
    net = Net().eval()
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    ref = net(torch.from_numpy(normalize_images(images, "NCHW")))
    out = G._Normalised(net)(torch.from_numpy(images)[:, None])
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "cfg",
    [c for c in G.default_configs(batch=64) if not (c.cuda_graph or c.cudnn_benchmark or c.compile)],
    ids=lambda c: c.name,
)
def test_cpu_capable_configs_measure(cfg):
    knobs = lambda: (  # noqa: E731 - the global switches measure() sets for a config
        torch.backends.cudnn.benchmark,
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
    )
    before = knobs()
    row = G.measure(cfg, "cpu", repeats=2, warmup=1)
    assert row["median_s"] > 0 and row["images_per_s"] == pytest.approx(64 / row["median_s"])
    assert knobs() == before  # measure() restores the switches it set


def test_cuda_only_knobs_fail_as_a_row_not_an_exception():
    rows = G.sweep(
        batch_sizes=(32,), configs=[G.Config("graph", batch=32, cuda_graph=True)], device="cpu", repeats=1
    )
    assert "images_per_s" in rows[0] and "error" in rows[1]
    assert "failed" in G.format_table(rows)
    with pytest.raises(ValueError):
        G.measure(G.Config("bench", batch=8, cudnn_benchmark=True), "cpu")
