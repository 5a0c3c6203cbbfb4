"""course_utils.rnn and course_utils.tasks: NumPy RNN/GRU/BPTT against PyTorch (Keras marked slow)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from course_utils import rnn, tasks

N, T, I, H = 3, 6, 4, 5  # noqa: E741 (I: input size, as in the equations)


def _x(dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal((N, T, I)).astype(dtype)


def test_sigmoid_is_stable_and_correct():
    x = np.array([-1000.0, -2.0, 0.0, 3.0, 1000.0])
    np.testing.assert_allclose(rnn.sigmoid(x), torch.sigmoid(torch.tensor(x)).numpy(), atol=1e-15)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_forward_equals_torch(nonlinearity):
    torch.manual_seed(0)
    layer = torch.nn.RNN(I, H, batch_first=True, nonlinearity=nonlinearity).double()
    x, h0 = _x(np.float64), np.random.default_rng(1).standard_normal((N, H))
    out, h_t = rnn.rnn_forward(x, h0, *rnn.torch_weights(layer), nonlinearity=nonlinearity)
    ref_out, ref_h = layer(torch.tensor(x), torch.tensor(h0[None]))
    np.testing.assert_allclose(out, ref_out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(h_t, ref_h[0].detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_bptt_equals_autograd(nonlinearity):
    torch.manual_seed(1)
    layer = torch.nn.RNN(I, H, batch_first=True, nonlinearity=nonlinearity).double()
    rng = np.random.default_rng(2)
    x, h0, d_out = _x(np.float64), rng.standard_normal((N, H)), rng.standard_normal((N, T, H))
    xt, h0t = torch.tensor(x, requires_grad=True), torch.tensor(h0[None], requires_grad=True)
    out, _ = layer(xt, h0t)
    (out * torch.tensor(d_out)).sum().backward()
    grads = rnn.rnn_bptt(x, h0, *rnn.torch_weights(layer), d_out, nonlinearity=nonlinearity)
    for ours, theirs in [("w_ih", "weight_ih_l0"), ("w_hh", "weight_hh_l0"), ("b_ih", "bias_ih_l0"), ("b_hh", "bias_hh_l0")]:
        np.testing.assert_allclose(grads[ours], getattr(layer, theirs).grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(grads["x"], xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(grads["h0"], h0t.grad[0].numpy(), atol=1e-10)


def test_scaled_orthogonal_has_the_asked_spectral_radius():
    w = rnn.scaled_orthogonal(16, 0.7, seed=3)
    np.testing.assert_allclose(np.abs(np.linalg.eigvals(w)), 0.7, atol=1e-10)
    np.testing.assert_allclose(w @ w.T, 0.49 * np.eye(16), atol=1e-12)


def test_jacobian_norms_linear_is_rho_power_and_tanh_is_smaller():
    rng = np.random.default_rng(4)
    x, w_ih = rng.standard_normal((20, 3)), rng.standard_normal((8, 3))
    for rho in (0.5, 1.0, 1.3):
        w = rnn.scaled_orthogonal(8, rho)
        lin = rnn.jacobian_norms(x, np.zeros(8), w_ih, w, np.zeros(8), "linear")
        np.testing.assert_allclose(lin, rho ** np.arange(21), rtol=1e-9)
        tanh = rnn.jacobian_norms(x, np.zeros(8), w_ih, w, np.zeros(8), "tanh")
        assert np.all(tanh <= lin * (1 + 1e-9))


def test_jacobian_norm_matches_autograd():
    rng = np.random.default_rng(5)
    x, w_ih, w, b = rng.standard_normal((6, 2)), rng.standard_normal((4, 2)), rnn.scaled_orthogonal(4, 1.2), rng.standard_normal(4)
    h0 = rng.standard_normal(4)

    def h_last(h):
        for t in range(6):
            h = torch.tanh(torch.tensor(x[t] @ w_ih.T + b) + h @ torch.tensor(w).T)
        return h

    jac = torch.autograd.functional.jacobian(h_last, torch.tensor(h0)).numpy()
    assert rnn.jacobian_norms(x, h0, w_ih, w, b)[-1] == pytest.approx(np.linalg.norm(jac, 2), rel=1e-10)


def test_clip_by_global_norm_equals_torch():
    rng = np.random.default_rng(6)
    grads = [rng.standard_normal((3, 4)) * 10, rng.standard_normal(5) * 10]
    clipped, total = rnn.clip_by_global_norm(grads, 1.0)
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = torch.tensor(g)
    ref_total = torch.nn.utils.clip_grad_norm_(params, 1.0)
    assert total == pytest.approx(float(ref_total))
    for c, p in zip(clipped, params, strict=True):
        np.testing.assert_allclose(c, p.grad.numpy(), rtol=1e-12)
    small, _ = rnn.clip_by_global_norm([np.ones(2) * 0.1], 1.0)
    np.testing.assert_array_equal(small[0], np.ones(2) * 0.1)


def test_gru_forward_equals_torch_and_gates_are_returned():
    torch.manual_seed(2)
    layer = torch.nn.GRU(I, H, batch_first=True).double()
    x, h0 = _x(np.float64), np.random.default_rng(7).standard_normal((N, H))
    out, h_t, gates = rnn.gru_forward(x, h0, *rnn.torch_weights(layer), return_gates=True)
    ref_out, ref_h = layer(torch.tensor(x), torch.tensor(h0[None]))
    np.testing.assert_allclose(out, ref_out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(h_t, ref_h[0].detach().numpy(), atol=1e-12)
    assert set(gates) == {"r", "z", "n"} and gates["z"].shape == (N, T, H)
    assert np.all((gates["z"] > 0) & (gates["z"] < 1))


def test_gate_reordering_and_round_trips():
    w = np.arange(6 * 2).reshape(6, 2)  # three blocks of two rows: r, z, n
    np.testing.assert_array_equal(rnn.reorder_gates(w, (1, 0, 2)), np.concatenate([w[2:4], w[0:2], w[4:6]]))
    layer = torch.nn.GRU(I, H, batch_first=True)
    weights = rnn.torch_weights(layer)
    kernel, recurrent, bias = rnn.torch_gru_to_keras(*weights)
    assert kernel.shape == (I, 3 * H) and recurrent.shape == (H, 3 * H) and bias.shape == (2, 3 * H)
    np.testing.assert_array_equal(kernel[:, :H], weights[0][H : 2 * H].T)  # Keras block 0 is z
    for a, b in zip(rnn.keras_gru_to_torch(kernel, recurrent, bias), weights, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="reset_after"):
        rnn.keras_gru_to_torch(kernel, recurrent, bias[0])
    k, r, b = rnn.torch_rnn_to_keras(*rnn.torch_weights(torch.nn.RNN(I, H)))
    assert k.shape == (I, H) and r.shape == (H, H) and b.shape == (H,)
    w_ih, w_hh, b_ih, b_hh = rnn.keras_rnn_to_torch(k, r, b)
    np.testing.assert_array_equal(b_ih + b_hh, b)


def test_load_torch_weights_round_trip_and_shape_check():
    src, dst = torch.nn.GRU(I, H, bidirectional=True), torch.nn.GRU(I, H, bidirectional=True)
    for reverse in (False, True):
        rnn.load_torch_weights(dst, rnn.torch_weights(src, reverse=reverse), reverse=reverse)
    for a, b in zip(src.parameters(), dst.parameters(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="expected shape"):
        rnn.load_torch_weights(dst, [np.zeros((1, 1))] * 4)


@pytest.mark.slow
def test_numpy_equals_keras_simple_rnn_and_gru():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    keras = pytest.importorskip("keras")
    x = _x()
    torch.manual_seed(3)
    t_rnn, t_gru = torch.nn.RNN(I, H, batch_first=True), torch.nn.GRU(I, H, batch_first=True)
    k_rnn = keras.layers.SimpleRNN(H, return_sequences=True)
    k_gru = keras.layers.GRU(H, return_sequences=True, reset_after=True)
    for layer in (k_rnn, k_gru):
        layer.build((None, T, I))
    k_rnn.set_weights(rnn.torch_rnn_to_keras(*rnn.torch_weights(t_rnn)))
    k_gru.set_weights(rnn.torch_gru_to_keras(*rnn.torch_weights(t_gru)))
    np.testing.assert_allclose(np.asarray(k_rnn(x)), rnn.rnn_forward(x, None, *rnn.torch_weights(t_rnn))[0], atol=1e-5)
    np.testing.assert_allclose(np.asarray(k_gru(x)), rnn.gru_forward(x, None, *rnn.torch_weights(t_gru))[0], atol=1e-5)


# --------------------------------------------------------------------------- tasks


def test_first_token_task_shapes_and_labels():
    x, y = tasks.first_token_task(50, 7, n_classes=3, n_distractors=2, seed=0)
    assert x.shape == (50, 7, 5) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x.sum(-1), 1.0)  # one token per step
    np.testing.assert_array_equal(x[:, 0].argmax(-1), y)
    assert np.all(x[:, 1:, :3] == 0)  # distractors live in their own channels
    x2, y2 = tasks.first_token_task(50, 7, n_classes=3, seed=0)
    assert x2.shape == (50, 7, 3)
    np.testing.assert_array_equal(x2[:, 0].argmax(-1), y2)
    a, _ = tasks.first_token_task(10, 4, seed=9)
    b, _ = tasks.first_token_task(10, 4, seed=9)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        tasks.first_token_task(5, 0)


def test_mnist_rows():
    img = np.full((2, 28, 28), 255, dtype=np.uint8)
    seq = tasks.mnist_rows(img)
    assert seq.shape == (2, 28, 28) and seq.dtype == np.float32 and seq.max() == 1.0


def test_seq_classifier_update_bias_and_training_is_reproducible():
    m = tasks.SeqClassifier(4, 6, 3, "gru", update_bias=2.0)
    b = (m.rnn.bias_ih_l0 + m.rnn.bias_hh_l0).detach()
    assert torch.allclose(b[6:12], torch.full((6,), 2.0))
    with pytest.raises(ValueError):
        tasks.SeqClassifier(4, 6, 3, "rnn", update_bias=1.0)
    with pytest.raises(ValueError):
        tasks.SeqClassifier(4, 6, 3, "lstm")
    x, y = tasks.first_token_task(64, 3, n_classes=3, seed=1)

    def run():
        torch.manual_seed(0)
        model = tasks.SeqClassifier(3, 8, 3, "rnn")
        hist = tasks.train_classifier(model, x, y, epochs=3, batch_size=16, lr=1e-2, seed=0, clip=1.0)
        return hist, tasks.accuracy(model, x, y)

    (h1, a1), (h2, a2) = run(), run()
    assert h1 == h2 and a1 == a2 and 0 <= a1 <= 1 and len(h1) == 3
    torch.manual_seed(0)
    model = tasks.SeqClassifier(3, 8, 3, "rnn")
    assert len(tasks.train_classifier(model, x, y, epochs=50, lr=1e-2, stop_below=10.0)) == 1


def test_torch_threads_restores_the_setting():
    before = torch.get_num_threads()
    with tasks.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), tasks.torch_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
