"""Break the mechanisms notebook 13 proves and check that its proofs then fail (see notebook_mutation); and the
verification a learner need not read: the model-state formula at a second model size."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient
from notebook_mutation import NOTEBOOKS, assert_proof_fails

NOTEBOOK = "13_memory_and_precision.ipynb"


def test_kv_cache_that_forgets_earlier_tokens_fails_the_cache_proof():
    """Keep only the newest token's keys and values: cached decoding no longer equals recomputing."""
    assert_proof_fails(
        NOTEBOOK,
        through="decoded with the cache == recomputing the prefix",
        replace=[("cache[layer] = (k, v)", "cache[layer] = (k[:, :, -1:], v[:, :, -1:])")],
        only=["def kv_cache_bytes", "class TinyDecoder"],
    )


def test_loss_scaling_without_the_scale_fails_the_fp16_proof():
    """Backward of the unscaled loss (the scaler still divides by S): the fp16 gradient is zero again."""
    assert_proof_fails(
        NOTEBOOK,
        through="def first_gradient(",
        replace=[("scaler.scale(loss).backward()", "loss.backward()")],
        only=[],
    )


def test_activation_formula_that_saves_the_relu_output_twice_fails_the_saved_tensors_proof():
    """Count the ReLU output and the second Linear's input as two tensors: the measured bytes disagree."""
    assert_proof_fails(
        NOTEBOOK,
        through="saved for backward {saved / MiB:6.2f} MiB",
        replace=[("depth * batch * 5 * width * elem_bytes", "depth * batch * 9 * width * elem_bytes")],
        only=["def ffn_stack", "def saved_activation_bytes"],
    )


def test_model_state_formula_holds_at_a_second_size():
    """The notebook checks the nine optimizer x precision pairs on one model; here on a second, smaller one and a
    deeper one (measured bytes after one real step == the formula)."""
    nb = nbformat.read(NOTEBOOKS / NOTEBOOK, as_version=4)
    wanted = ("import torch", "def model_state_bytes", "def ffn_stack", "def train_state_sizes")
    sources = [c.source for c in nb.cells if c.cell_type == "code" and any(w in c.source for w in wanted)]
    sources.append(
        "for width, depth in ((32, 2), (64, 3)):\n"
        "    n = ffn_params(width, depth)\n"
        "    assert n == sum(p.numel() for p in ffn_stack(width, depth).parameters())\n"
        "    for opt_name in OPTIMIZER_STATES:\n"
        "        for prec in PRECISIONS:\n"
        "            got = train_state_sizes(width, depth, opt_name, prec)\n"
        "            assert got == model_state_bytes(n, opt_name, prec), (width, opt_name, prec, got)\n"
    )
    run = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    run.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(
        run, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
