"""Plausible wrong answers for notebooks/10_sync_vs_async.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
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
            "async: every worker at the slowest worker's rate",
            """
def update_rates(compute, allreduce):
    return 1.0 / (max(compute) + allreduce), len(compute) / max(compute)
""",
        ),
    ],
    "ps_update_stale": [
        (
            "no discount: every push at the full step size, as section 2.2's server",
            """
def ps_update_stale(weights, version, pushes, lr, max_staleness):
    staleness, applied = [], []
    for version_read, grad in pushes:
        tau = version - version_read
        staleness.append(tau)
        applied.append(tau <= max_staleness)
        if applied[-1]:
            weights = weights - lr * np.asarray(grad)
            version += 1
    return weights, version, staleness, applied
""",
        ),
        (
            "a dropped push still advances the version",
            """
def ps_update_stale(weights, version, pushes, lr, max_staleness):
    staleness, applied = [], []
    for version_read, grad in pushes:
        tau = version - version_read
        staleness.append(tau)
        applied.append(tau <= max_staleness)
        if applied[-1]:
            weights = weights - lr / (1 + tau) * np.asarray(grad)
        version += 1
    return weights, version, staleness, applied
""",
        ),
        (
            "off by one: drops a push whose staleness equals max_staleness",
            """
def ps_update_stale(weights, version, pushes, lr, max_staleness):
    staleness, applied = [], []
    for version_read, grad in pushes:
        tau = version - version_read
        staleness.append(tau)
        applied.append(tau < max_staleness)
        if applied[-1]:
            weights = weights - lr / (1 + tau) * np.asarray(grad)
            version += 1
    return weights, version, staleness, applied
""",
        ),
        (
            "staleness against the version the call started with, not the updates applied since",
            """
def ps_update_stale(weights, version, pushes, lr, max_staleness):
    start, staleness, applied = version, [], []
    for version_read, grad in pushes:
        tau = start - version_read
        staleness.append(tau)
        applied.append(tau <= max_staleness)
        if applied[-1]:
            weights = weights - lr / (1 + tau) * np.asarray(grad)
            version += 1
    return weights, version, staleness, applied
""",
        ),
        (
            "averages the fresh enough pushes into one update, as synchronous SGD would",
            """
def ps_update_stale(weights, version, pushes, lr, max_staleness):
    staleness = [version - v for v, _ in pushes]
    applied = [tau <= max_staleness for tau in staleness]
    kept = [np.asarray(g) / (1 + tau) for (_, g), tau, ok in zip(pushes, staleness, applied) if ok]
    if kept:
        weights = weights - lr * np.mean(kept, axis=0)
    return weights, version + sum(applied), staleness, applied
""",
        ),
        (
            "delegates to the lesson's parameter server",
            """
def ps_update_stale(weights, version, pushes, lr, max_staleness):
    log = ps_server(1, Hyper(lr=lr), None)
    return log.snapshots[-1], version + len(pushes), log.staleness, [True] * len(pushes)
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "first_time_below": ["section 6"],
    "update_rates": ["section 1"],
    "ps_update_stale": ["lesson"],
}
