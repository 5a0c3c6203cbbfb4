"""course_utils.parallel: split models compute exactly what the unsplit model computes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import launch
from course_utils import parallel as P
from course_utils.memory import ffn_stack


def test_bubble_fraction():
    assert P.bubble_fraction(2, 1) == 0.5
    assert P.bubble_fraction(4, 5) == pytest.approx(3 / 8)
    assert P.bubble_fraction(1, 7) == 0.0


def test_measured_bubble_of_an_ideal_schedule():
    # p = 2, m = 2, every slot 1 s: rank 0 busy at F0 F1 _ B1 B0 ... as in the GPipe picture
    r0 = [("F", 0, 0, 1), ("F", 1, 1, 2), ("B", 1, 4, 5), ("B", 0, 5, 6)]
    r1 = [("F", 0, 1, 2), ("F", 1, 2, 3), ("B", 1, 3, 4), ("B", 0, 4, 5)]
    # span 6, work 8 of 12 -> 1/3 = (p-1)/(m+p-1)
    assert P.measured_bubble([r0, r1]) == pytest.approx(P.bubble_fraction(2, 2))


def test_split_sequential_balances_parameters():
    model = ffn_stack(8, 4)  # 12 layers, every third without parameters
    stages = P.split_sequential(model, 2)
    assert stages == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]
    assert sum(len(s) for s in P.split_sequential(model, 4)) == 12
    with pytest.raises(ValueError):
        P.split_sequential(nn.Sequential(nn.Linear(2, 2)), 2)


def test_tensor_and_pipeline_parallel_equal_unsplit():
    torch.manual_seed(0)
    fc1, fc2 = nn.Linear(6, 8), nn.Linear(8, 6)
    x = torch.randn(5, 6)
    model = ffn_stack(6, 2)
    X, T = torch.randn(8, 6), torch.randn(8, 6)
    res = launch.run(P.tp_and_pp_worker, 2, args=((fc1, fc2, x), (model, X, T, [1, 3])), timeout=120)

    # tensor parallel: same output and input gradient on every rank; shards concatenate to the full grads
    xr = x.clone().requires_grad_(True)
    h = torch.relu(fc1(xr))
    y = fc2(h)
    (y.square().sum() / 2).backward()
    for r in res:
        torch.testing.assert_close(r["tp"]["mlp"]["y"], y.detach())
        torch.testing.assert_close(r["tp"]["mlp"]["x_grad"], xr.grad)
        torch.testing.assert_close(r["tp"]["column"]["y"], fc1(x).detach())
        torch.testing.assert_close(r["tp"]["row"]["y"], y.detach())
        assert r["tp"]["mlp"]["comm_forward"] == {"all_reduce": 1}
        assert r["tp"]["mlp"]["comm_backward"] == {"all_reduce": 1}
    g = [r["tp"]["mlp"]["grads"] for r in res]
    torch.testing.assert_close(torch.cat([g[0]["fc1.weight"], g[1]["fc1.weight"]]), fc1.weight.grad)
    torch.testing.assert_close(torch.cat([g[0]["fc1.bias"], g[1]["fc1.bias"]]), fc1.bias.grad)
    torch.testing.assert_close(torch.cat([g[0]["fc2.weight"], g[1]["fc2.weight"]], dim=1), fc2.weight.grad)
    torch.testing.assert_close(g[0]["fc2.bias"], fc2.bias.grad)

    # pipeline: output, loss and every gradient equal the unsplit model's, also for uneven micro-batches (3)
    out = model(X)
    loss = F.mse_loss(out, T)
    loss.backward()
    for m in (1, 3):
        grads = {**res[0]["pp"]["runs"][m]["grads"], **res[1]["pp"]["runs"][m]["grads"]}
        assert set(grads) == {n for n, _ in model.named_parameters()}
        for n, p in model.named_parameters():
            torch.testing.assert_close(grads[n], p.grad)
        torch.testing.assert_close(res[1]["pp"]["runs"][m]["y"], out.detach())
        assert res[1]["pp"]["runs"][m]["loss"] == pytest.approx(loss.item(), rel=1e-5)
        kinds = [b[0] for b in res[0]["pp"]["runs"][m]["busy"][0]]
        assert kinds == ["F"] * m + ["B"] * m  # GPipe: all forwards, then all backwards


@pytest.mark.slow
def test_zero_and_fsdp_equal_ddp_and_shard_memory():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8))
    xs, ys = torch.randn(3, 4, 8), torch.randn(3, 4, 8)
    out = launch.run(P.sharding_worker, 2, args=(model, xs, ys), timeout=180)
    ddp = out[0]["ddp"]["state"]
    for method in ("zero", "fsdp"):
        for n, v in ddp.items():
            torch.testing.assert_close(out[0][method]["state"][n], v)
    full = sum(p.numel() for p in model.parameters()) * 4
    for o in out:
        assert o["ddp"]["mem"] == {"params": full, "grads": full, "optimizer": 2 * full}
        assert o["zero"]["mem"]["optimizer"] == full  # Adam's 2 states, half the tensors on each rank
        assert o["fsdp"]["mem"] == {"params": full // 2, "grads": full // 2, "optimizer": full}
