"""Break the mechanisms notebook 08 proves, and check that its proofs fail.

* DDP without averaging: a communication hook that all-reduces the SUM of the ranks' gradients without
  dividing by the world size must make the central proof "2 ranks x 32 images == 1 process x 64" fail.
* Gradient accumulation without ``no_sync``: every micro-batch then all-reduces; the weights stay right,
  so the proof's count of all-reduces (one per optimizer step) is what must fail. (The section-5 DDP run
  is skipped: this proof compares with the one-process reference alone.)

And the simulated ring all-reduce the notebook shows on 4 ranks of 8 numbers, checked here on other sizes (one
rank, chunks of unequal length, 8 ranks): the sum on every rank, 2 (W - 1) steps, 2 (W - 1) S numbers sent.

Each test runs the notebook's own cells (tests/notebook_mutation.py) up to the proof, skipping the slow
cells the proof does not need.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from notebook_mutation import NOTEBOOKS, assert_proof_fails

NOTEBOOK = "08_ddp_mechanics.ipynb"

#: cells the proofs do not depend on: the first workers, the ring all-reduce run, the DDP training of
#: section 4 and its checks, the ring-traffic plot
SLOW_CELLS = [
    "hello_results = launch.run(hello",
    "p2p = launch.run(ring_allreduce_p2p",
    "two = launch.run(train_ddp",
    'ranks = two["ranks"]',
    "ax.plot(ws",
]

#: the line of the proof's DDP worker that the tests break
DDP_RETURN = "    return sgd_steps(model, device, steps, global_batch, rank, world_size)"

SUM_WITHOUT_AVERAGE = (
    "    model.register_comm_hook(None, lambda _, bucket: dist.all_reduce(bucket.buffer(), async_op=True)"
    ".get_future().then(lambda fut: fut.value()[0]))  # the sum, never divided by world_size\n" + DDP_RETURN
)


@pytest.mark.slow
def test_ddp_without_averaging_fails_the_n_ranks_equal_one_process_proof():
    failure = assert_proof_fails(
        NOTEBOOK,
        through="np.testing.assert_allclose(per_rank[0], reference",
        replace=[(DDP_RETURN, SUM_WITHOUT_AVERAGE)],
        drop=SLOW_CELLS,
    )
    assert "Not equal to tolerance" in failure.evalue, failure  # the weights differ, not something else


@pytest.mark.slow
def test_accumulation_without_no_sync_fails_the_one_all_reduce_per_step_proof():
    assert_proof_fails(
        NOTEBOOK,
        through="no_sync, every, unscaled = ",
        replace=[("contextlib.nullcontext() if sync else model.no_sync()", "contextlib.nullcontext()")],
        drop=[
            *SLOW_CELLS,
            "per_rank = launch.run(equivalence_ddp",
            "np.testing.assert_allclose(per_rank[0], reference",
        ],
    )


def test_the_simulated_ring_sums_and_sends_what_the_formula_says_for_other_sizes():
    """The notebook's chunk_bounds / ring_schedule / ring_allreduce cells, run as they are, on sizes it does not show."""
    cells = json.loads((NOTEBOOKS / NOTEBOOK).read_text())["cells"]
    namespace = {"np": np}
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.startswith(("def chunk_bounds", "def ring_allreduce(")):
            exec(compile(source, NOTEBOOK, "exec"), namespace)
    rng = np.random.default_rng(0)
    for n, size in [(1, 5), (2, 6), (3, 7), (5, 3), (8, 1000)]:
        vectors = [rng.normal(size=size) for _ in range(n)]
        out, numbers, steps = namespace["ring_allreduce"](vectors)
        assert len(steps) == 2 * (n - 1) and sum(numbers) == 2 * (n - 1) * size
        for r in range(n):
            np.testing.assert_allclose(out[r], np.sum(vectors, axis=0), rtol=1e-12, atol=1e-12)
