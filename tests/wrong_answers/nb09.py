"""Plausible wrong answers for notebooks/09_sync_vs_async.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "stale_descent": [
        (
            "ignores the delay: the gradient at the current weights",
            """
def stale_descent(a, lr, taus, w0=1.0):
    w = [float(w0)]
    for t, tau in enumerate(taus):
        w.append(w[t] - lr * a * w[t])
    return w
""",
        ),
        (
            "off by one: one step staler than tau",
            """
def stale_descent(a, lr, taus, w0=1.0):
    w = [float(w0)]
    for t, tau in enumerate(taus):
        w.append(w[t] - lr * a * w[max(t - tau - 1, 0)])
    return w
""",
        ),
        (
            "no max(., 0): a negative index reads from the end of the list",
            """
def stale_descent(a, lr, taus, w0=1.0):
    w = [float(w0)]
    for t, tau in enumerate(taus):
        w.append(w[t] - lr * a * w[t - tau])
    return w
""",
        ),
        (
            "returns the updated weights without w0",
            """
def stale_descent(a, lr, taus, w0=1.0):
    w = [float(w0)]
    for t, tau in enumerate(taus):
        w.append(w[t] - lr * a * w[max(t - tau, 0)])
    return w[1:]
""",
        ),
    ],
    "first_time_below": [
        (
            "strictly below (<) instead of at or below",
            """
def first_time_below(times, losses, target):
    for t, loss in zip(times, losses, strict=True):
        if loss < target:
            return float(t)
    return None
""",
        ),
        (
            "infinity when the target is never reached",
            """
def first_time_below(times, losses, target):
    for t, loss in zip(times, losses, strict=True):
        if loss <= target:
            return float(t)
    return float("inf")
""",
        ),
        (
            "the time of the lowest loss instead of the first time below the target",
            """
def first_time_below(times, losses, target):
    best = min(range(len(losses)), key=lambda i: losses[i])
    return float(times[best]) if losses[best] <= target else None
""",
        ),
    ],
    "update_rates": [
        (
            "sync forgets the all-reduce time",
            """
def update_rates(compute, allreduce):
    return 1.0 / max(compute), sum(1.0 / c for c in compute)
""",
        ),
        (
            "sync waits for the average worker, not the slowest",
            """
def update_rates(compute, allreduce):
    return 1.0 / (sum(compute) / len(compute) + allreduce), sum(1.0 / c for c in compute)
""",
        ),
        (
            "async: the number of workers over the mean compute time",
            """
def update_rates(compute, allreduce):
    return 1.0 / (max(compute) + allreduce), len(compute) / (sum(compute) / len(compute))
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "stale_descent": ["max(t - taus[t], 0)", "len(taus) + 1"],
    "first_time_below": ["<=", "None"],
    "update_rates": ["slowest worker + all-reduce", "1/compute[i]"],
}
