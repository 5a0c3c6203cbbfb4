"""Recurrent networks from scratch in NumPy, and weight conversions between PyTorch and Keras.

Taught in notebooks 02 (plain RNN, backpropagation through time, vanishing/exploding gradients) and
03 (GRU). Conventions, chosen to match PyTorch's ``nn.RNN`` / ``nn.GRU`` so weights copy one to one:

* inputs are **batch-first** ``x [N, T, I]`` (PyTorch with ``batch_first=True``; Keras' layout),
  hidden states ``h [N, H]``;
* weights use PyTorch's layout ``w_ih [G*H, I]``, ``w_hh [G*H, H]``, ``b_ih``, ``b_hh [G*H]`` with
  ``G = 1`` (RNN) or ``G = 3`` (GRU, gate blocks in PyTorch's order **r, z, n**);
* Keras stores the transposes (``kernel [I, G*H]``, ``recurrent_kernel [H, G*H]``), one bias for
  ``SimpleRNN`` and, for ``GRU(reset_after=True)``, a bias ``[2, 3H]`` (row 0 input, row 1 recurrent)
  with gate blocks in the order **z, r, h**. :func:`torch_gru_to_keras` and friends convert.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "sigmoid",
    "rnn_forward",
    "rnn_bptt",
    "scaled_orthogonal",
    "jacobian_norms",
    "clip_by_global_norm",
    "gru_forward",
    "TORCH_TO_KERAS_GRU_GATES",
    "reorder_gates",
    "torch_rnn_to_keras",
    "keras_rnn_to_torch",
    "torch_gru_to_keras",
    "keras_gru_to_torch",
    "torch_weights",
    "load_torch_weights",
]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(-x))``, computed without overflow."""
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


_ACT = {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0), "linear": lambda a: a}


def _act_grad(name: str, h: np.ndarray) -> np.ndarray:
    """Derivative of the activation, written in terms of its output ``h``."""
    if name == "tanh":
        return 1 - h**2
    if name == "relu":
        return (h > 0).astype(h.dtype)
    return np.ones_like(h)


# --------------------------------------------------------------------------- plain RNN


def rnn_forward(
    x: np.ndarray,
    h0: np.ndarray | None,
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    nonlinearity: str = "tanh",
) -> tuple[np.ndarray, np.ndarray]:
    """Elman RNN over ``x [N,T,I]``: ``h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (notebook 02).

    Returns ``(outputs [N,T,H], h_T [N,H])`` - the same as ``torch.nn.RNN(batch_first=True)``.
    ``nonlinearity`` is ``"tanh"`` (default), ``"relu"`` or ``"linear"`` (for analysis only).
    """
    f = _ACT[nonlinearity]
    n, t_len, _ = x.shape
    h = np.zeros((n, w_hh.shape[0]), dtype=x.dtype) if h0 is None else h0
    outs = []
    for t in range(t_len):
        h = f(x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        outs.append(h)
    return np.stack(outs, axis=1), h


def rnn_bptt(
    x: np.ndarray,
    h0: np.ndarray | None,
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    d_out: np.ndarray,
    nonlinearity: str = "tanh",
) -> dict[str, np.ndarray]:
    """Backpropagation through time for :func:`rnn_forward` (notebook 02).

    ``d_out [N,T,H]`` is dL/d(output_t) for every step (the loss may read any of the outputs).
    Walking backwards, the gradient reaching ``h_t`` is its own ``d_out[:, t]`` plus what flows back from
    step ``t+1``; through the activation it becomes ``da_t``, which feeds every weight's gradient::

        da_t   = (d_out_t + dh_next) * f'(a_t)
        dW_ih += da_t^T x_t      dW_hh += da_t^T h_{t-1}      db += sum_n da_t
        dh_next = da_t W_hh       dx_t = da_t W_ih

    Returns gradients ``w_ih, w_hh, b_ih, b_hh, h0, x`` (``b_ih`` and ``b_hh`` get the same gradient).
    """
    n, t_len, _ = x.shape
    h_prev0 = np.zeros((n, w_hh.shape[0]), dtype=x.dtype) if h0 is None else h0
    outs, _ = rnn_forward(x, h_prev0, w_ih, w_hh, b_ih, b_hh, nonlinearity)
    g = {k: np.zeros_like(v) for k, v in (("w_ih", w_ih), ("w_hh", w_hh), ("b_ih", b_ih))}
    dx = np.zeros_like(x)
    dh_next = np.zeros_like(h_prev0)
    for t in reversed(range(t_len)):
        h_prev = outs[:, t - 1] if t > 0 else h_prev0
        da = (d_out[:, t] + dh_next) * _act_grad(nonlinearity, outs[:, t])
        g["w_ih"] += da.T @ x[:, t]
        g["w_hh"] += da.T @ h_prev
        g["b_ih"] += da.sum(axis=0)
        dx[:, t] = da @ w_ih
        dh_next = da @ w_hh
    return {**g, "b_hh": g["b_ih"].copy(), "h0": dh_next, "x": dx}


def scaled_orthogonal(h: int, rho: float, seed: int = 0) -> np.ndarray:
    """A random orthogonal ``h x h`` matrix times ``rho``: every eigenvalue has modulus ``rho`` (notebook 02)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((h, h)))
    return rho * q * np.sign(np.diag(r))


def jacobian_norms(
    x: np.ndarray,
    h0: np.ndarray,
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    b: np.ndarray,
    nonlinearity: str = "tanh",
) -> np.ndarray:
    """Spectral norms ``||dh_T / dh_{T-k}||_2`` for ``k = 0..T`` of a single sequence (notebook 02).

    ``x [T,I]``, ``h0 [H]``. One step's Jacobian is ``diag(f'(a_t)) W_hh``; the gradient that reaches
    ``k`` steps back is multiplied by ``k`` of them, which is why it vanishes or explodes.
    Entry ``k = 0`` is the identity (norm 1); entry ``k`` is the norm of the product of the last ``k``.
    """
    outs, _ = rnn_forward(x[None], h0[None], w_ih, w_hh, b, np.zeros_like(b), nonlinearity)
    hs = outs[0]
    jac = np.eye(w_hh.shape[0])
    norms = [1.0]
    for t in reversed(range(x.shape[0])):
        jac = jac @ (_act_grad(nonlinearity, hs[t])[:, None] * w_hh)
        norms.append(float(np.linalg.norm(jac, 2)))
    return np.array(norms)


def clip_by_global_norm(grads: Sequence[np.ndarray], max_norm: float) -> tuple[list[np.ndarray], float]:
    """Scale all gradients by ``min(1, max_norm / total_norm)``; return them and the norm before (notebook 02).

    Same rule as ``torch.nn.utils.clip_grad_norm_`` and ``tf.clip_by_global_norm``: the direction is
    kept, only the length of the step is bounded.
    """
    total = float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads)))
    scale = min(1.0, max_norm / (total + 1e-6))
    return [g * scale for g in grads], total


# --------------------------------------------------------------------------- GRU


def gru_forward(
    x: np.ndarray,
    h0: np.ndarray | None,
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    return_gates: bool = False,
):
    """GRU over ``x [N,T,I]`` in PyTorch's convention (notebook 03)::

        r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset gate
        z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update gate
        n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))     candidate
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    Returns ``(outputs [N,T,H], h_T)``, plus ``{"r", "z", "n"}`` arrays ``[N,T,H]`` if ``return_gates``.
    """
    n_batch, t_len, _ = x.shape
    hid = w_hh.shape[1]
    h = np.zeros((n_batch, hid), dtype=x.dtype) if h0 is None else h0
    outs, gates = [], {"r": [], "z": [], "n": []}
    for t in range(t_len):
        gi = x[:, t] @ w_ih.T + b_ih  # [N, 3H]: input part of r, z, n
        gh = h @ w_hh.T + b_hh  # [N, 3H]: recurrent part of r, z, n
        r = sigmoid(gi[:, :hid] + gh[:, :hid])
        z = sigmoid(gi[:, hid : 2 * hid] + gh[:, hid : 2 * hid])
        cand = np.tanh(gi[:, 2 * hid :] + r * gh[:, 2 * hid :])
        h = (1 - z) * cand + z * h
        outs.append(h)
        if return_gates:
            gates["r"].append(r)
            gates["z"].append(z)
            gates["n"].append(cand)
    out = np.stack(outs, axis=1)
    if return_gates:
        return out, h, {k: np.stack(v, axis=1) for k, v in gates.items()}
    return out, h


# --------------------------------------------------------------------------- PyTorch <-> Keras

#: Keras block i comes from PyTorch block ``TORCH_TO_KERAS_GRU_GATES[i]``: (r, z, n) -> (z, r, h).
#: The permutation swaps the first two blocks, so it is its own inverse.
TORCH_TO_KERAS_GRU_GATES: tuple[int, int, int] = (1, 0, 2)


def reorder_gates(w: np.ndarray, order: Sequence[int], axis: int = 0) -> np.ndarray:
    """Split ``w`` into ``len(order)`` equal gate blocks along ``axis`` and concatenate them in ``order``."""
    blocks = np.split(np.asarray(w), len(order), axis=axis)
    return np.concatenate([blocks[i] for i in order], axis=axis)


def torch_rnn_to_keras(w_ih, w_hh, b_ih, b_hh) -> list[np.ndarray]:
    """``nn.RNN`` weights -> ``SimpleRNN.set_weights`` list ``[kernel [I,H], recurrent [H,H], bias [H]]`` (notebook 02).

    Keras has one bias, PyTorch two that are always added: the Keras bias is their sum.
    """
    return [np.asarray(w_ih).T.copy(), np.asarray(w_hh).T.copy(), np.asarray(b_ih) + np.asarray(b_hh)]


def keras_rnn_to_torch(kernel, recurrent, bias) -> tuple[np.ndarray, ...]:
    """``SimpleRNN`` weights -> ``(w_ih, w_hh, b_ih, b_hh)`` with the whole bias in ``b_ih`` (notebook 02)."""
    bias = np.asarray(bias)
    return np.asarray(kernel).T.copy(), np.asarray(recurrent).T.copy(), bias.copy(), np.zeros_like(bias)


def torch_gru_to_keras(w_ih, w_hh, b_ih, b_hh) -> list[np.ndarray]:
    """``nn.GRU`` weights -> ``keras.layers.GRU(reset_after=True).set_weights`` list (notebook 03).

    ``kernel [I,3H]`` = reordered ``w_ih`` transposed, ``recurrent_kernel [H,3H]`` likewise, and
    ``bias [2,3H]`` = reordered ``(b_ih, b_hh)``. Keras' gate order is z, r, h; PyTorch's is r, z, n.
    """
    o = TORCH_TO_KERAS_GRU_GATES
    return [
        reorder_gates(w_ih, o, axis=0).T.copy(),
        reorder_gates(w_hh, o, axis=0).T.copy(),
        np.stack([reorder_gates(b_ih, o), reorder_gates(b_hh, o)]),
    ]


def keras_gru_to_torch(kernel, recurrent, bias) -> tuple[np.ndarray, ...]:
    """``keras.layers.GRU(reset_after=True)`` weights -> ``(w_ih, w_hh, b_ih, b_hh)`` for ``nn.GRU`` (notebook 03)."""
    bias = np.asarray(bias)
    if bias.ndim != 2 or bias.shape[0] != 2:
        raise ValueError(
            f"expected a reset_after=True bias of shape (2, 3H), got {bias.shape}; a reset_after=False GRU "
            "(one bias, reset applied before the matrix product) is a different function with no PyTorch twin"
        )
    o = TORCH_TO_KERAS_GRU_GATES
    return (
        reorder_gates(np.asarray(kernel).T, o, axis=0).copy(),
        reorder_gates(np.asarray(recurrent).T, o, axis=0).copy(),
        reorder_gates(bias[0], o),
        reorder_gates(bias[1], o),
    )


def torch_weights(layer, layer_index: int = 0, reverse: bool = False) -> tuple[np.ndarray, ...]:
    """``(w_ih, w_hh, b_ih, b_hh)`` of one layer (and direction) of an ``nn.RNN``/``nn.GRU`` as NumPy arrays."""
    sfx = f"_l{layer_index}" + ("_reverse" if reverse else "")
    return tuple(getattr(layer, f"{name}{sfx}").detach().cpu().numpy().copy() for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def load_torch_weights(layer, weights: Sequence[np.ndarray], layer_index: int = 0, reverse: bool = False) -> None:
    """Copy ``(w_ih, w_hh, b_ih, b_hh)`` NumPy arrays into one layer (and direction) of an ``nn.RNN``/``nn.GRU``."""
    import torch

    sfx = f"_l{layer_index}" + ("_reverse" if reverse else "")
    with torch.no_grad():
        for name, value in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), weights, strict=True):
            param = getattr(layer, f"{name}{sfx}")
            if tuple(param.shape) != tuple(np.shape(value)):
                raise ValueError(f"{name}{sfx}: expected shape {tuple(param.shape)}, got {np.shape(value)}")
            param.copy_(torch.as_tensor(np.asarray(value), dtype=param.dtype))
