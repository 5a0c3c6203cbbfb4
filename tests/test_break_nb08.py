"""Break the mechanisms notebook 08 proves, and check that its proofs fail.

* DDP without averaging: a communication hook that all-reduces the SUM of the ranks' gradients without
  dividing by the world size must make the central proof "2 ranks x 32 images == 1 process x 64" fail.
* Gradient accumulation without ``no_sync``: every micro-batch then all-reduces; the weights stay right,
  so the proof's count of all-reduces (one per optimizer step) is what must fail. (The section-4 DDP run
  is skipped: this proof compares with the one-process reference alone.)

Each test runs the notebook's own cells (tests/notebook_mutation.py) up to the proof, skipping the slow
cells the proof does not need.
"""

from __future__ import annotations

import pytest
from notebook_mutation import assert_proof_fails

NOTEBOOK = "08_ddp_mechanics.ipynb"

#: cells the proofs do not depend on: the first workers, the ring all-reduce run, the DDP training of
#: section 3 and its checks, the ring-traffic plot
SLOW_CELLS = [
    "hello_results = launch.run(hello",
    "launch.run(fail_on_rank",
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
