"""Plausible wrong answers for notebooks/03_gru.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "gru_step": [
        (
            "Keras' gate order z, r, n applied to PyTorch's weights",
            """
def gru_step(x_t, h_prev, w_ih, w_hh, b_ih, b_hh):
    H = h_prev.shape[1]
    gi = x_t @ w_ih.T + b_ih
    gh = h_prev @ w_hh.T + b_hh
    z = sigma(gi[:, :H] + gh[:, :H])
    r = sigma(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
    return (1 - z) * n + z * h_prev
""",
        ),
        (
            "the interpolation the other way round: z keeps the candidate",
            """
def gru_step(x_t, h_prev, w_ih, w_hh, b_ih, b_hh):
    H = h_prev.shape[1]
    gi = x_t @ w_ih.T + b_ih
    gh = h_prev @ w_hh.T + b_hh
    r = sigma(gi[:, :H] + gh[:, :H])
    z = sigma(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
    return z * n + (1 - z) * h_prev
""",
        ),
        (
            "r multiplies only W_hn h, the bias b_hn stays outside (the reset_after=False habit)",
            """
def gru_step(x_t, h_prev, w_ih, w_hh, b_ih, b_hh):
    H = h_prev.shape[1]
    gi = x_t @ w_ih.T + b_ih
    gh = h_prev @ w_hh.T + b_hh
    r = sigma(gi[:, :H] + gh[:, :H])
    z = sigma(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    n = np.tanh(gi[:, 2 * H :] + r * (h_prev @ w_hh[2 * H :].T) + b_hh[2 * H :])
    return (1 - z) * n + z * h_prev
""",
        ),
    ],
    "torch_to_keras_order": [
        (
            "no reordering: assumes both libraries use r, z, n",
            """
def torch_to_keras_order(w):
    return w
""",
        ),
        (
            "splits along the last axis (the input axis of a weight matrix)",
            """
def torch_to_keras_order(w):
    r, z, n = np.split(w, 3, axis=-1)
    return np.concatenate([z, r, n], axis=-1)
""",
        ),
        (
            "moves the candidate first instead of swapping r and z",
            """
def torch_to_keras_order(w):
    r, z, n = np.split(w, 3, axis=0)
    return np.concatenate([n, r, z], axis=0)
""",
        ),
    ],
    "gru_params": [
        (
            "one bias per gate (Keras' reset_after=False layout)",
            """
def gru_params(n_in, hidden):
    return 3 * (hidden * n_in + hidden * hidden + hidden)
""",
        ),
        (
            "forgets that there are three gates",
            """
def gru_params(n_in, hidden):
    return hidden * n_in + hidden * hidden + 2 * hidden
""",
        ),
        (
            "LSTM habit: four blocks",
            """
def gru_params(n_in, hidden):
    return 4 * (hidden * n_in + hidden * hidden + 2 * hidden)
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "gru_step": ["r, z, n", "(1 - z) * n + z * h_prev"],
    "torch_to_keras_order": ["axis=0", "z first"],
    "gru_params": ["three blocks", "two biases"],
}
