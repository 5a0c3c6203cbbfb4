"""Plausible wrong answers for notebooks/03_gru.ipynb (see tests/test_wrong_answers.py)."""

_GATES = """
    H = h_prev.shape[1]
    gi, gh = x_t @ w_ih.T + b_ih, h_prev @ w_hh.T + b_hh
    r = sigma(gi[:, :H] + gh[:, :H])
    z = sigma(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
    w_hr, w_hz, w_hn = w_hh[:H], w_hh[H : 2 * H], w_hh[2 * H :]
    dr = (r * (1 - r))[:, :, None] * w_hr
    dz = (z * (1 - z))[:, :, None] * w_hz
"""

_FORWARD = """
    H = w_hh.shape[1]
    states = [np.zeros((1, H))]
    for t in range(len(x)):
        gi, gh = x[t : t + 1] @ w_ih.T + b_ih, states[-1] @ w_hh.T + b_hh
        r, z = sigma(gi[:, :H] + gh[:, :H]), sigma(gi[:, H : 2 * H] + gh[:, H : 2 * H])
        n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
        states.append((1 - z) * n + z * states[-1])
"""

WRONG: dict[str, list[tuple[str, str]]] = {
    "gru_jacobian": [
        (
            "only the copy term diag(z): the gates are treated as constants",
            "def gru_jacobian(x_t, h_prev, w_ih, w_hh, b_ih, b_hh):"
            + _GATES
            + "    return np.eye(H) * z[:, :, None]\n",
        ),
        (
            "forgets that the reset gate depends on h_prev (r treated as a constant in the candidate)",
            "def gru_jacobian(x_t, h_prev, w_ih, w_hh, b_ih, b_hh):"
            + _GATES
            + """    dn = (1 - n**2)[:, :, None] * (r[:, :, None] * w_hn)
    return np.eye(H) * z[:, :, None] + (h_prev - n)[:, :, None] * dz + (1 - z)[:, :, None] * dn
""",
        ),
        (
            "the update gate's term with the wrong sign (n - h_prev instead of h_prev - n)",
            "def gru_jacobian(x_t, h_prev, w_ih, w_hh, b_ih, b_hh):"
            + _GATES
            + """    dn = (1 - n**2)[:, :, None] * (gh[:, 2 * H :, None] * dr + r[:, :, None] * w_hn)
    return np.eye(H) * z[:, :, None] + (n - h_prev)[:, :, None] * dz + (1 - z)[:, :, None] * dn
""",
        ),
        (
            "transposed: J[n, j, i] (rows are the inputs h_prev, not the outputs h_t)",
            "def gru_jacobian(x_t, h_prev, w_ih, w_hh, b_ih, b_hh):"
            + _GATES
            + """    dn = (1 - n**2)[:, :, None] * (gh[:, 2 * H :, None] * dr + r[:, :, None] * w_hn)
    J = np.eye(H) * z[:, :, None] + (h_prev - n)[:, :, None] * dz + (1 - z)[:, :, None] * dn
    return J.transpose(0, 2, 1)
""",
        ),
        (
            "finite differences through the lesson's gru_forward",
            """
def gru_jacobian(x_t, h_prev, w_ih, w_hh, b_ih, b_hh):
    eps, H = 1e-6, h_prev.shape[1]
    J = np.empty((len(x_t), H, H))
    for j in range(H):
        step = np.zeros(H)
        step[j] = eps
        up = gru_forward(x_t[:, None], h_prev + step, w_ih, w_hh, b_ih, b_hh)[1]
        down = gru_forward(x_t[:, None], h_prev - step, w_ih, w_hh, b_ih, b_hh)[1]
        J[:, :, j] = (up - down) / (2 * eps)
    return J
""",
        ),
        (
            "delegates to autograd's jacobian",
            """
def gru_jacobian(x_t, h_prev, w_ih, w_hh, b_ih, b_hh):
    import torch
    cell = torch.nn.GRUCell(x_t.shape[1], h_prev.shape[1]).double()
    with torch.no_grad():
        for p, v in zip(cell.parameters(), (w_ih, w_hh, b_ih, b_hh)):
            p.copy_(torch.from_numpy(v))
    x = torch.from_numpy(x_t)
    return np.stack([
        torch.autograd.functional.jacobian(lambda h: cell(x[i : i + 1], h[None])[0], torch.from_numpy(h_prev[i])).numpy()
        for i in range(len(x_t))
    ])
""",
        ),
    ],
    "gru_gradient_norms": [
        (
            "multiplies the Jacobians in the wrong order (the earliest step first)",
            "def gru_gradient_norms(x, w_ih, w_hh, b_ih, b_hh):"
            + _FORWARD
            + """    jac, norms = np.eye(H), [1.0]
    for t in reversed(range(len(x))):
        jac = gru_jacobian(x[t : t + 1], states[t], w_ih, w_hh, b_ih, b_hh)[0] @ jac
        norms.append(float(np.linalg.norm(jac, 2)))
    return np.array(norms)
""",
        ),
        (
            "the Frobenius norm instead of the spectral norm",
            "def gru_gradient_norms(x, w_ih, w_hh, b_ih, b_hh):"
            + _FORWARD
            + """    jac, norms = np.eye(H), [1.0]
    for t in reversed(range(len(x))):
        jac = jac @ gru_jacobian(x[t : t + 1], states[t], w_ih, w_hh, b_ih, b_hh)[0]
        norms.append(float(np.linalg.norm(jac)))
    return np.array(norms)
""",
        ),
        (
            "each factor evaluated at the wrong state (h_t instead of h_(t-1))",
            "def gru_gradient_norms(x, w_ih, w_hh, b_ih, b_hh):"
            + _FORWARD
            + """    jac, norms = np.eye(H), [1.0]
    for t in reversed(range(len(x))):
        jac = jac @ gru_jacobian(x[t : t + 1], states[t + 1], w_ih, w_hh, b_ih, b_hh)[0]
        norms.append(float(np.linalg.norm(jac, 2)))
    return np.array(norms)
""",
        ),
        (
            "the states from the lesson's gru_forward",
            """
def gru_gradient_norms(x, w_ih, w_hh, b_ih, b_hh):
    H = w_hh.shape[1]
    outputs = gru_forward(x[None], None, w_ih, w_hh, b_ih, b_hh)[0][0]
    states = [np.zeros((1, H))] + [o[None] for o in outputs]
    jac, norms = np.eye(H), [1.0]
    for t in reversed(range(len(x))):
        jac = jac @ gru_jacobian(x[t : t + 1], states[t], w_ih, w_hh, b_ih, b_hh)[0]
        norms.append(float(np.linalg.norm(jac, 2)))
    return np.array(norms)
""",
        ),
    ],
}

#: Every failing message names the lesson: a case's hint points to its section, a delegating answer is told
#: that it calls the lesson's function.
HINT_WORDS: dict[str, list[str]] = {
    "gru_jacobian": ["lesson"],
    "gru_gradient_norms": ["lesson"],
}
