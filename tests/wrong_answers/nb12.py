"""Plausible wrong answers for notebooks/12_evaluating_and_tuning.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "my_percentile": [
        (
            "forgets to sort",
            """
def my_percentile(values, q):
    xs = list(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
""",
        ),
        (
            "nearest rank: no interpolation",
            """
def my_percentile(values, q):
    xs = sorted(values)
    return xs[round((len(xs) - 1) * q / 100)]
""",
        ),
        (
            "position n * q / 100 instead of (n - 1) * q / 100",
            """
def my_percentile(values, q):
    xs = sorted(values)
    pos = min(len(xs) * q / 100, len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
""",
        ),
        (
            "the next index is not clamped: q = 100 or a single value reads past the end",
            """
def my_percentile(values, q):
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    return xs[lo] + (xs[lo + 1] - xs[lo]) * (pos - lo)
""",
        ),
        (
            "delegates to NumPy's percentile",
            """
def my_percentile(values, q):
    return float(np.percentile(values, q))
""",
        ),
        (
            "delegates to the course's bench.percentile",
            """
def my_percentile(values, q):
    from course_utils.bench import percentile
    return percentile(values, q)
""",
        ),
    ],
    "serial_fraction": [
        (
            "forgets the / (n - 1) when solving for Tp",
            """
def serial_fraction(t1, tn, n):
    tp = (t1 - tn) * n
    return (t1 - tp) / t1
""",
        ),
        (
            "returns the serial time Ts, not the fraction",
            """
def serial_fraction(t1, tn, n):
    tp = (t1 - tn) * n / (n - 1)
    return t1 - tp
""",
        ),
        (
            "the inverse speed-up tn / t1 taken as the serial fraction",
            """
def serial_fraction(t1, tn, n):
    return tn / t1
""",
        ),
        (
            "delegates to the lesson's amdahl_fit through the two points",
            """
def serial_fraction(t1, tn, n):
    t_s, t_p, _ = amdahl_fit([1, n], [t1, tn])
    return t_s / (t_s + t_p)
""",
        ),
    ],
    "break_even_images": [
        (
            "the equality point: forgets the + 1 (distributed must be strictly faster)",
            """
def break_even_images(startup, per_image_dist, per_image_local):
    if per_image_dist >= per_image_local:
        return None
    return math.floor(startup / (per_image_local - per_image_dist))
""",
        ),
        (
            "ceil instead of floor + 1",
            """
def break_even_images(startup, per_image_dist, per_image_local):
    if per_image_dist >= per_image_local:
        return None
    return math.ceil(startup / (per_image_local - per_image_dist))
""",
        ),
        (
            "> instead of >=: equal per-image costs divide by zero",
            """
def break_even_images(startup, per_image_dist, per_image_local):
    if per_image_dist > per_image_local:
        return None
    return math.floor(startup / (per_image_local - per_image_dist)) + 1
""",
        ),
    ],
    "batched_latencies": [
        (
            "forgets that the server is busy: every group starts when it is full",
            """
def batched_latencies(arrivals, batch, fixed, per_item):
    out = []
    for first in range(0, len(arrivals), batch):
        group = arrivals[first : first + batch]
        done = group[-1] + fixed + per_item * len(group)
        out += [done - t for t in group]
    return np.array(out)
""",
        ),
        (
            "does not wait for the group to fill: starts at its first request",
            """
def batched_latencies(arrivals, batch, fixed, per_item):
    out, free = [], 0.0
    for first in range(0, len(arrivals), batch):
        group = arrivals[first : first + batch]
        free = max(free, group[0]) + fixed + per_item * len(group)
        out += [free - t for t in group]
    return np.array(out)
""",
        ),
        (
            "charges the last, smaller group for a full batch",
            """
def batched_latencies(arrivals, batch, fixed, per_item):
    out, free = [], 0.0
    for first in range(0, len(arrivals), batch):
        group = arrivals[first : first + batch]
        free = max(free, group[-1]) + fixed + per_item * batch
        out += [free - t for t in group]
    return np.array(out)
""",
        ),
        (
            "counts the latency from the group's start, not from each request's arrival",
            """
def batched_latencies(arrivals, batch, fixed, per_item):
    out, free = [], 0.0
    for first in range(0, len(arrivals), batch):
        group = arrivals[first : first + batch]
        start = max(free, group[-1])
        free = start + fixed + per_item * len(group)
        out += [free - start for t in group]
    return np.array(out)
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "my_percentile": ["lesson"],
    "serial_fraction": ["lesson"],
    "break_even_images": ["break-even size"],
    "batched_latencies": ["section 2"],
}
