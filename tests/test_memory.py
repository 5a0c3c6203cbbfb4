"""course_utils.memory and course_utils.checkpointing: the formulas agree with what is measured."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.profiler import record_function

from course_utils import checkpointing as C
from course_utils import memory as M


@pytest.mark.parametrize(
    "optimizer,precision,per_param",
    [
        ("sgd", "fp32", 8), ("momentum", "fp32", 12), ("adam", "fp32", 16),
        ("sgd", "bf16", 4), ("momentum", "bf16", 6), ("adam", "bf16", 8),
        ("sgd", "mixed", 8), ("momentum", "mixed", 12), ("adam", "mixed", 16),
    ],
)
def test_bytes_per_param(optimizer, precision, per_param):
    assert M.bytes_per_param(optimizer, precision) == per_param
    assert M.model_state_bytes(10, optimizer, precision).total == 10 * per_param


def test_bad_names_are_refused():
    with pytest.raises(ValueError):
        M.model_state_bytes(1, "lamb")
    with pytest.raises(ValueError):
        M.model_state_bytes(1, "adam", "fp8")


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("precision", ["fp32", "bf16", "mixed"])
def test_measured_model_states_match_formula(optimizer, precision):
    measured = M.train_state_sizes(32, 2, optimizer, precision)
    f = M.model_state_bytes(M.ffn_params(32, 2), optimizer, precision)
    assert measured == {"weights": f.weights, "grads": f.grads, "master": f.master, "optimizer": f.optimizer}


def test_ffn_params_counts_parameters():
    model = M.ffn_stack(24, 3)
    assert M.ffn_params(24, 3) == sum(p.numel() for p in model.parameters())


def test_saved_activations_match_formula():
    torch.manual_seed(0)
    model = M.ffn_stack(16, 3)
    x = torch.randn(5, 16)
    n, y = M.saved_activation_bytes(lambda: model(x), exclude=model.parameters())
    assert n == M.ffn_activation_bytes(5, 16, 3)
    assert y.shape == (5, 16)


def test_tensor_bytes_counts_each_tensor_once():
    a = torch.zeros(10)
    assert M.tensor_bytes({"x": a, "y": [a, a.view(2, 5)]}) == 40
    assert M.tensor_bytes([a[:5], a[5:]]) == 40  # two halves of one storage are two tensors
    assert M.tensor_bytes([torch.zeros(3, dtype=torch.bfloat16), torch.zeros(1)], min_numel=2) == 6


def test_optimizer_state_bytes_momentum():
    p = nn.Parameter(torch.ones(100))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    assert M.optimizer_state_bytes(opt) == 0
    p.grad = torch.ones(100)
    opt.step()
    assert M.optimizer_state_bytes(opt) == 400


def test_profile_step_memory_sees_peak_retained_and_phases():
    kept = []

    def fn():
        with record_function("alloc"):
            a = torch.ones(1_000_000)
            b = torch.ones(500_000)
        del a
        kept.append(b)

    mem = M.profile_step_memory(fn)
    assert mem.peak == 6_000_000
    assert mem.retained == 2_000_000
    assert "alloc" in mem.phases
    assert mem.peak_in("alloc") == 6_000_000
    assert mem.live_at_end("alloc") == 6_000_000


def test_max_params_that_fit():
    assert M.max_params_that_fit(16 * M.GiB, 16) == M.GiB


def test_checkpointing_keeps_gradients_and_saves_memory():
    torch.manual_seed(0)
    model = M.ffn_stack(32, 4)
    x = torch.randn(64, 32)
    grads = []
    for segments in (0, 4):
        model.zero_grad()
        C.forward_maybe_checkpointed(model, x, segments).square().mean().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for g0, g1 in zip(*grads, strict=True):
        torch.testing.assert_close(g0, g1)
    plain = C.checkpoint_cost(model, x, 0, repeats=1, warmup=0)
    ckpt = C.checkpoint_cost(model, x, 4, repeats=1, warmup=0)
    # + a few bytes: the scalar loss is alive too
    assert C.ffn_kept_bytes(64, 32, 4, 0) == M.ffn_activation_bytes(64, 32, 4)
    assert plain.after_forward_bytes == pytest.approx(C.ffn_kept_bytes(64, 32, 4, 0), abs=64)
    assert ckpt.after_forward_bytes == pytest.approx(C.ffn_kept_bytes(64, 32, 4, 4), abs=64)
    assert ckpt.peak_bytes < plain.peak_bytes
    # 8 Linear forwards without checkpointing; the first 3 of 4 segments are recomputed, but only up to
    # their ReLU (PyTorch stops recomputing once every saved tensor is back): 8 + 3
    assert (plain.linear_forwards, ckpt.linear_forwards) == (8, 11)
    assert ckpt.predicted_time_ratio(plain.linear_forwards) == pytest.approx(1 + 3 / 8 / 3)
