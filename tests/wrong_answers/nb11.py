"""Plausible wrong answers for notebooks/11_distributed_inference.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "row_ranges": [
        (
            "n // world_size rows each, the last rank takes the remainder",
            """
def row_ranges(n, world_size):
    q = n // world_size
    return [(r * q, n if r == world_size - 1 else (r + 1) * q) for r in range(world_size)]
""",
        ),
        (
            "ceil(n / world_size) rows each: the last rank gets the scraps",
            """
def row_ranges(n, world_size):
    c = -(-n // world_size)
    return [(min(r * c, n), min((r + 1) * c, n)) for r in range(world_size)]
""",
        ),
        (
            "inclusive ends (off by one): end = (r + 1) * n // N - 1",
            """
def row_ranges(n, world_size):
    return [(r * n // world_size, (r + 1) * n // world_size - 1) for r in range(world_size)]
""",
        ),
    ],
    "reassemble": [
        (
            "forgets to drop the padding rows",
            """
def reassemble(blocks, sizes):
    return np.concatenate(blocks)
""",
        ),
        (
            "drops the padding only at the very end (after concatenating)",
            """
def reassemble(blocks, sizes):
    return np.concatenate(blocks)[: sum(sizes)]
""",
        ),
        (
            "stacks the blocks (a new rank axis) instead of concatenating",
            """
def reassemble(blocks, sizes):
    return np.stack([b[:k] for b, k in zip(blocks, sizes, strict=True)])
""",
        ),
    ],
    "padded_duplicates": [
        (
            "the remainder n % N instead of the padding",
            """
def padded_duplicates(n, world_size):
    return n % world_size
""",
        ),
        (
            "N - n % N: forgets that an even split needs no padding",
            """
def padded_duplicates(n, world_size):
    return world_size - n % world_size
""",
        ),
        (
            "ceil as n // N + 1",
            """
def padded_duplicates(n, world_size):
    return (n // world_size + 1) * world_size - n
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "row_ranges": ["r*n//N", "(r+1)*n//N"],
    "reassemble": ["first sizes[r] rows of block r"],
    "padded_duplicates": ["ceil(n / N)"],
}
