"""Plausible wrong answers for notebooks/13_memory_and_precision.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "adam_model_state_gib": [
        (
            "mixed precision forgets the fp32 master weights",
            """
def adam_model_state_gib(n_params, precision):
    per_param = {"fp32": 16, "bf16": 8, "mixed": 2 + 2 + 2 * 4}[precision]
    return n_params * per_param / 2**30
""",
        ),
        (
            "decimal gigabytes (1e9) instead of GiB",
            """
def adam_model_state_gib(n_params, precision):
    per_param = {"fp32": 16, "bf16": 8, "mixed": 16}[precision]
    return n_params * per_param / 1e9
""",
        ),
        (
            "counts only the weights and the gradients (forgets Adam's two moments)",
            """
def adam_model_state_gib(n_params, precision):
    per_param = {"fp32": 4 + 4, "bf16": 2 + 2, "mixed": 2 + 2 + 4}[precision]
    return n_params * per_param / 2**30
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "adam_model_state_gib": ["2 + 2 + 4 (master) + 2*4", "2**30"],
}
