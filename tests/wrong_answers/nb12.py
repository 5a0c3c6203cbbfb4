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
}

HINT_WORDS: dict[str, list[str]] = {
    "my_percentile": ["sort first", "(n-1)*q/100", "interpolate"],
    "serial_fraction": ["solve for Tp", "Ts / t1"],
    "break_even_images": ["smallest integer n", "<"],
}
