"""Plausible wrong answers for notebooks/14_model_parallelism.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "gpipe_bubble": [
        (
            "(p - 1) / m: idle over busy, not over all slots",
            """
def gpipe_bubble(p, m):
    return (p - 1) / m
""",
        ),
        (
            "off by one: m + p slots",
            """
def gpipe_bubble(p, m):
    return (p - 1) / (m + p)
""",
        ),
        (
            "p idle slots instead of p - 1",
            """
def gpipe_bubble(p, m):
    return p / (m + p - 1)
""",
        ),
    ],
    "row_parallel_partials": [
        (
            "every rank returns the all-reduced output instead of its partial product",
            """
def row_parallel_partials(x, w, world_size):
    full = x @ w.T
    return [full] * world_size
""",
        ),
        (
            "splits w by rows (output features, column-parallel) and x by columns",
            """
def row_parallel_partials(x, w, world_size):
    return [xr @ wr.T for xr, wr in zip(x.chunk(world_size, dim=1), w.chunk(world_size, dim=0), strict=True)]
""",
        ),
        (
            "each rank's columns of x times the first rank's columns of w",
            """
def row_parallel_partials(x, w, world_size):
    w0 = w.chunk(world_size, dim=1)[0]
    return [xr @ w0.T for xr in x.chunk(world_size, dim=1)]
""",
        ),
    ],
    "min_micro_batches": [
        (
            ">= instead of >: stops only when the bubble is strictly below the limit",
            """
def min_micro_batches(p, max_bubble):
    m = 1
    while (p - 1) / (m + p - 1) >= max_bubble:
        m += 1
    return m
""",
        ),
        (
            "closed form truncated with int() instead of rounded up",
            """
def min_micro_batches(p, max_bubble):
    if max_bubble <= 0:
        return 1
    return max(int((p - 1) * (1 / max_bubble - 1)), 1)
""",
        ),
        (
            "the bubble formula off by one: (p - 1) / (m + p)",
            """
def min_micro_batches(p, max_bubble):
    m = 1
    while (p - 1) / (m + p) > max_bubble:
        m += 1
    return m
""",
        ),
    ],
    "column_parallel": [
        (
            "splits weight by input columns (row-parallel) but concatenates the shard outputs",
            """
def column_parallel(x, weight, bias, p, grad_out):
    w_cols, x_cols = weight.chunk(p, dim=1), x.chunk(p, dim=1)
    y = torch.cat([xc @ wc.T + bias for xc, wc in zip(x_cols, w_cols)], dim=-1)
    grad_x = torch.cat([grad_out @ wc for wc in w_cols], dim=-1)
    return y, grad_x, [grad_out.T @ xc for xc in x_cols], [grad_out.sum(dim=0)] * p
""",
        ),
        (
            "forgets the all-reduce: grad_x is one shard's partial, not the sum over the shards",
            """
def column_parallel(x, weight, bias, p, grad_out):
    w_rows, b_rows = weight.chunk(p, dim=0), bias.chunk(p, dim=0)
    y = torch.cat([x @ w.T + b for w, b in zip(w_rows, b_rows)], dim=-1)
    g_rows = grad_out.chunk(p, dim=-1)
    grad_x = g_rows[0] @ w_rows[0]
    return y, grad_x, [g.T @ x for g in g_rows], [g.sum(dim=0) for g in g_rows]
""",
        ),
        (
            "all-gathers along the batch dimension (dim=0) instead of the features",
            """
def column_parallel(x, weight, bias, p, grad_out):
    w_rows, b_rows = weight.chunk(p, dim=0), bias.chunk(p, dim=0)
    y = torch.cat([x @ w.T + b for w, b in zip(w_rows, b_rows)], dim=0)
    g_rows = grad_out.chunk(p, dim=-1)
    grad_x = sum(g @ w for g, w in zip(g_rows, w_rows))
    return y, grad_x, [g.T @ x for g in g_rows], [g.sum(dim=0) for g in g_rows]
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "gpipe_bubble": ["m of the m + p - 1"],
    "row_parallel_partials": ["dim=1", "columns of w"],
    "min_micro_batches": ["(p-1)/(m+p-1) <= max_bubble"],
    "column_parallel": ["chunk(p, dim=0)", "dim=-1", "SUM over the shards"],
}
