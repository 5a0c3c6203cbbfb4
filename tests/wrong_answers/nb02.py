"""Plausible wrong answers for notebooks/02_rnn_and_bptt.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "bptt": [
        (
            "no recurrence: each step sees only its own output's gradient, nothing flows back from t+1",
            """
def bptt(x, h0, w_ih, w_hh, b_ih, b_hh, d_out):
    states = [h0]
    for t in range(x.shape[1]):
        states.append(np.tanh(x[:, t] @ w_ih.T + b_ih + states[-1] @ w_hh.T + b_hh))
    dw_ih, dw_hh, db = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros_like(b_ih)
    dh0 = np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        da = d_out[:, t] * (1 - states[t + 1] ** 2)
        dw_ih += da.T @ x[:, t]
        dw_hh += da.T @ states[t]
        db += da.sum(axis=0)
        if t == 0:
            dh0 = da @ w_hh
    return dw_ih, dw_hh, db, dh0
""",
        ),
        (
            "sends the gradient back through w_hh.T (the forward pass multiplied by w_hh.T already)",
            """
def bptt(x, h0, w_ih, w_hh, b_ih, b_hh, d_out):
    states = [h0]
    for t in range(x.shape[1]):
        states.append(np.tanh(x[:, t] @ w_ih.T + b_ih + states[-1] @ w_hh.T + b_hh))
    dw_ih, dw_hh, db = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros_like(b_ih)
    delta_next = np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        da = (d_out[:, t] + delta_next) * (1 - states[t + 1] ** 2)
        dw_ih += da.T @ x[:, t]
        dw_hh += da.T @ states[t]
        db += da.sum(axis=0)
        delta_next = da @ w_hh.T
    return dw_ih, dw_hh, db, delta_next
""",
        ),
        (
            "pairs the recurrent weight's gradient with h_t instead of h_(t-1)",
            """
def bptt(x, h0, w_ih, w_hh, b_ih, b_hh, d_out):
    states = [h0]
    for t in range(x.shape[1]):
        states.append(np.tanh(x[:, t] @ w_ih.T + b_ih + states[-1] @ w_hh.T + b_hh))
    dw_ih, dw_hh, db = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros_like(b_ih)
    delta_next = np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        da = (d_out[:, t] + delta_next) * (1 - states[t + 1] ** 2)
        dw_ih += da.T @ x[:, t]
        dw_hh += da.T @ states[t + 1]
        db += da.sum(axis=0)
        delta_next = da @ w_hh
    return dw_ih, dw_hh, db, delta_next
""",
        ),
        (
            "adds the gradient flowing back after the tanh derivative instead of before it",
            """
def bptt(x, h0, w_ih, w_hh, b_ih, b_hh, d_out):
    states = [h0]
    for t in range(x.shape[1]):
        states.append(np.tanh(x[:, t] @ w_ih.T + b_ih + states[-1] @ w_hh.T + b_hh))
    dw_ih, dw_hh, db = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros_like(b_ih)
    delta_next = np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        da = d_out[:, t] * (1 - states[t + 1] ** 2) + delta_next
        dw_ih += da.T @ x[:, t]
        dw_hh += da.T @ states[t]
        db += da.sum(axis=0)
        delta_next = da @ w_hh
    return dw_ih, dw_hh, db, delta_next
""",
        ),
        (
            "delegates each step to the lesson's rnn_backward_step",
            """
def bptt(x, h0, w_ih, w_hh, b_ih, b_hh, d_out):
    states = [h0]
    for t in range(x.shape[1]):
        states.append(np.tanh(x[:, t] @ w_ih.T + b_ih + states[-1] @ w_hh.T + b_hh))
    dw_ih, dw_hh, db = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros_like(b_ih)
    delta_next = np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        g = rnn_backward_step(d_out[:, t] + delta_next, x[:, t], states[t], states[t + 1], w_ih, w_hh)
        dw_ih, dw_hh, db, delta_next = dw_ih + g["w_ih"], dw_hh + g["w_hh"], db + g["b"], g["h_prev"]
    return dw_ih, dw_hh, db, delta_next
""",
        ),
        (
            "delegates to autograd through nn.RNN",
            """
def bptt(x, h0, w_ih, w_hh, b_ih, b_hh, d_out):
    import torch
    layer = torch.nn.RNN(x.shape[2], h0.shape[1], batch_first=True).double()
    with torch.no_grad():
        for p, v in zip(layer.parameters(), (w_ih, w_hh, b_ih, b_hh)):
            p.copy_(torch.from_numpy(v))
    h0_t = torch.from_numpy(h0[None]).requires_grad_()
    out, _ = layer(torch.from_numpy(x), h0_t)
    (out * torch.from_numpy(d_out)).sum().backward()
    g = [p.grad.numpy() for p in layer.parameters()]
    return g[0], g[1], g[2], h0_t.grad[0].numpy()
""",
        ),
    ],
    "truncated_bptt": [
        (
            "ignores k: full BPTT over the whole sequence",
            """
def truncated_bptt(x, h0, w_ih, w_hh, b_ih, b_hh, d_out, k):
    return bptt(x, h0, w_ih, w_hh, b_ih, b_hh, d_out)[:3]
""",
        ),
        (
            "starts every chunk's forward pass from h0 instead of the state the previous chunk reached",
            """
def truncated_bptt(x, h0, w_ih, w_hh, b_ih, b_hh, d_out, k):
    dw_ih, dw_hh, db = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros_like(b_ih)
    for start in range(0, x.shape[1], k):
        chunk = slice(start, start + k)
        g_ih, g_hh, g_b, _ = bptt(x[:, chunk], h0, w_ih, w_hh, b_ih, b_hh, d_out[:, chunk])
        dw_ih, dw_hh, db = dw_ih + g_ih, dw_hh + g_hh, db + g_b
    return dw_ih, dw_hh, db
""",
        ),
        (
            "starts every chunk from zeros (a reset state, not a detached one)",
            """
def truncated_bptt(x, h0, w_ih, w_hh, b_ih, b_hh, d_out, k):
    dw_ih, dw_hh, db = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros_like(b_ih)
    for start in range(0, x.shape[1], k):
        chunk = slice(start, start + k)
        h = h0 if start == 0 else np.zeros_like(h0)
        g_ih, g_hh, g_b, _ = bptt(x[:, chunk], h, w_ih, w_hh, b_ih, b_hh, d_out[:, chunk])
        dw_ih, dw_hh, db = dw_ih + g_ih, dw_hh + g_hh, db + g_b
    return dw_ih, dw_hh, db
""",
        ),
        (
            "backpropagates only the last chunk (drops the earlier chunks' losses)",
            """
def truncated_bptt(x, h0, w_ih, w_hh, b_ih, b_hh, d_out, k):
    h = h0
    starts = list(range(0, x.shape[1], k))
    for t in range(starts[-1]):
        h = np.tanh(x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
    chunk = slice(starts[-1], None)
    return bptt(x[:, chunk], h, w_ih, w_hh, b_ih, b_hh, d_out[:, chunk])[:3]
""",
        ),
        (
            "delegates the steps to the lesson's rnn_backward_step",
            """
def truncated_bptt(x, h0, w_ih, w_hh, b_ih, b_hh, d_out, k):
    dw_ih, dw_hh, db = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros_like(b_ih)
    states = [h0]
    for t in range(x.shape[1]):
        states.append(np.tanh(x[:, t] @ w_ih.T + b_ih + states[-1] @ w_hh.T + b_hh))
    for start in range(0, x.shape[1], k):
        delta_next = np.zeros_like(h0)
        for t in reversed(range(start, min(start + k, x.shape[1]))):
            g = rnn_backward_step(d_out[:, t] + delta_next, x[:, t], states[t], states[t + 1], w_ih, w_hh)
            dw_ih, dw_hh, db, delta_next = dw_ih + g["w_ih"], dw_hh + g["w_hh"], db + g["b"], g["h_prev"]
    return dw_ih, dw_hh, db
""",
        ),
    ],
}

#: Every failing message names the lesson: a case's hint points to its section, a delegating answer is told
#: that it calls the lesson's function.
HINT_WORDS: dict[str, list[str]] = {
    "bptt": ["lesson"],
    "truncated_bptt": ["lesson"],
}
