"""Plausible wrong answers for notebooks/02_rnn_and_bptt.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "rnn_step": [
        (
            "the recurrent weights multiply without the transpose (w_hh is square, so it runs)",
            """
def rnn_step(x_t, h_prev, w_ih, w_hh, b_ih, b_hh):
    return np.tanh(x_t @ w_ih.T + b_ih + h_prev @ w_hh + b_hh)
""",
        ),
        (
            "one bias only (Keras habit): forgets b_hh",
            """
def rnn_step(x_t, h_prev, w_ih, w_hh, b_ih, b_hh):
    return np.tanh(x_t @ w_ih.T + b_ih + h_prev @ w_hh.T)
""",
        ),
        (
            "no tanh: a linear recurrence",
            """
def rnn_step(x_t, h_prev, w_ih, w_hh, b_ih, b_hh):
    return x_t @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh
""",
        ),
        (
            "column-vector formula W x applied to a batch of rows",
            """
def rnn_step(x_t, h_prev, w_ih, w_hh, b_ih, b_hh):
    return np.tanh(w_ih @ x_t.T + b_ih[:, None] + w_hh @ h_prev.T + b_hh[:, None])
""",
        ),
    ],
    "to_keras_simple_rnn": [
        (
            "transposes the input kernel but not the square recurrent one",
            """
def to_keras_simple_rnn(w_ih, w_hh, b_ih, b_hh):
    return [w_ih.T, w_hh, b_ih + b_hh]
""",
        ),
        (
            "keeps only b_ih as Keras' single bias",
            """
def to_keras_simple_rnn(w_ih, w_hh, b_ih, b_hh):
    return [w_ih.T, w_hh.T, b_ih]
""",
        ),
        (
            "PyTorch's layout as is (no transposes)",
            """
def to_keras_simple_rnn(w_ih, w_hh, b_ih, b_hh):
    return [w_ih, w_hh, b_ih + b_hh]
""",
        ),
    ],
    "clip_global": [
        (
            "clips every array to max_norm on its own (per-tensor, not global)",
            """
def clip_global(grads, max_norm):
    out = []
    for g in grads:
        norm = np.sqrt(np.sum(g**2))
        out.append(g * min(1.0, max_norm / (norm + 1e-6)))
    return out
""",
        ),
        (
            "always rescales to max_norm, scaling small gradients up",
            """
def clip_global(grads, max_norm):
    total = np.sqrt(sum(np.sum(g**2) for g in grads))
    return [g * max_norm / (total + 1e-6) for g in grads]
""",
        ),
        (
            "forgets the square root: compares the squared norm",
            """
def clip_global(grads, max_norm):
    total = sum(np.sum(g**2) for g in grads)
    scale = min(1.0, max_norm / (total + 1e-6))
    return [g * scale for g in grads]
""",
        ),
        (
            "sums absolute values (L1) instead of the L2 norm",
            """
def clip_global(grads, max_norm):
    total = sum(np.sum(np.abs(g)) for g in grads)
    scale = min(1.0, max_norm / (total + 1e-6))
    return [g * scale for g in grads]
""",
        ),
    ],
    "bptt_step": [
        (
            "forgets tanh's derivative: sends delta_t straight through the weights",
            """
def bptt_step(delta_t, h_t, h_prev, w_hh):
    return delta_t @ w_hh, delta_t.T @ h_prev
""",
        ),
        (
            "pairs the error with h_t instead of h_(t-1) in the weight gradient",
            """
def bptt_step(delta_t, h_t, h_prev, w_hh):
    d_pre = delta_t * (1 - h_t**2)
    return d_pre @ w_hh, d_pre.T @ h_t
""",
        ),
        (
            "multiplies by w_hh.T on the way back (copies the forward pass)",
            """
def bptt_step(delta_t, h_t, h_prev, w_hh):
    d_pre = delta_t * (1 - h_t**2)
    return d_pre @ w_hh.T, d_pre.T @ h_prev
""",
        ),
        (
            "the weight gradient transposed: h_prev.T @ d_pre is [H_in, H_out]",
            """
def bptt_step(delta_t, h_t, h_prev, w_hh):
    d_pre = delta_t * (1 - h_t**2)
    return d_pre @ w_hh, h_prev.T @ d_pre
""",
        ),
        (
            "tanh's derivative at the wrong step: 1 - h_prev**2",
            """
def bptt_step(delta_t, h_t, h_prev, w_hh):
    d_pre = delta_t * (1 - h_prev**2)
    return d_pre @ w_hh, d_pre.T @ h_prev
""",
        ),
        (
            "applies tanh again: 1 - tanh(h_t)**2, as if h_t were the pre-activation",
            """
def bptt_step(delta_t, h_t, h_prev, w_hh):
    d_pre = delta_t * (1 - np.tanh(h_t) ** 2)
    return d_pre @ w_hh, d_pre.T @ h_prev
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "rnn_step": ["tanh", "w_hh.T", "both biases"],
    "to_keras_simple_rnn": ["transposes", "single bias"],
    "clip_global": ["one norm", "never scale up"],
    "bptt_step": ["1 - h_t**2", "not its transpose", "h_prev", "shaped like w_hh"],
}
