"""Break the mechanisms notebook 13 proves and check that its proofs then fail (see notebook_mutation)."""

from __future__ import annotations

from notebook_mutation import assert_proof_fails

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
    """Backward without multiplying the loss by the scale: the fp16 gradient underflows to zero again."""
    assert_proof_fails(
        NOTEBOOK,
        through="def tiny_gradient(",
        replace=[("(loss * scale).backward()", "loss.backward()")],
        only=[],
    )
