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
        (
            "delegates to the lesson's bytes_per_param",
            """
def adam_model_state_gib(n_params, precision):
    return n_params * bytes_per_param("adam", precision) / 2**30
""",
        ),
    ],
    "prenorm_block_saved_bytes": [
        (
            "the lesson's FFN count plus the LayerNorm's input (forgets its mean and 1/std per row)",
            """
def prenorm_block_saved_bytes(batch, width, activation):
    extra = 4 * batch * width if activation in ("gelu", "silu") else 0
    return 4 * (batch * width + batch * width + 4 * batch * width + extra)
""",
        ),
        (
            "every activation shares its tensor with the next Linear, as ReLU does",
            """
def prenorm_block_saved_bytes(batch, width, activation):
    return 4 * (batch * width + 2 * batch + batch * width + 4 * batch * width)
""",
        ),
        (
            "every activation keeps its input, as GELU does (ReLU's output is then counted twice)",
            """
def prenorm_block_saved_bytes(batch, width, activation):
    return 4 * (batch * width + 2 * batch + batch * width + 8 * batch * width)
""",
        ),
        (
            "counts elements, not bytes",
            """
def prenorm_block_saved_bytes(batch, width, activation):
    act = 8 * batch * width if activation in ("gelu", "silu") else 4 * batch * width
    return batch * width + 2 * batch + batch * width + act
""",
        ),
        (
            "measures instead of deriving (the lesson's hooks)",
            """
def prenorm_block_saved_bytes(batch, width, activation):
    import torch
    from torch import nn

    act = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    block = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 4 * width), act[activation](),
                          nn.Linear(4 * width, width))
    skip = {p.untyped_storage().data_ptr() for p in block.parameters()}
    saved = {}

    def pack(t):
        if t.untyped_storage().data_ptr() not in skip:
            saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        block(torch.randn(batch, width))
    return sum(saved.values())
""",
        ),
        (
            "delegates to the lesson's ffn_activation_bytes for the Linear-act-Linear part",
            """
def prenorm_block_saved_bytes(batch, width, activation):
    extra = 4 * batch * width if activation in ("gelu", "silu") else 0
    return ffn_activation_bytes(batch, width, 1) + 4 * (batch * width + 2 * batch + extra)
""",
        ),
    ],
    "kv_batch_that_fits": [
        (
            "keys and values for every query head (ignores grouped-query attention)",
            """
def kv_batch_that_fits(layers, hidden, heads, kv_heads, seq_len, n_params, device_gib):
    per_sequence = 2 * layers * hidden * seq_len * 2
    return max(int((device_gib * 2**30 - 2 * n_params) // per_sequence), 0)
""",
        ),
        (
            "head width from the KV heads (hidden / kv_heads): the cache as large as without GQA",
            """
def kv_batch_that_fits(layers, hidden, heads, kv_heads, seq_len, n_params, device_gib):
    per_sequence = 2 * layers * kv_heads * (hidden // kv_heads) * seq_len * 2
    return max(int((device_gib * 2**30 - 2 * n_params) // per_sequence), 0)
""",
        ),
        (
            "only the keys (forgets the values)",
            """
def kv_batch_that_fits(layers, hidden, heads, kv_heads, seq_len, n_params, device_gib):
    per_sequence = layers * kv_heads * (hidden // heads) * seq_len * 2
    return max(int((device_gib * 2**30 - 2 * n_params) // per_sequence), 0)
""",
        ),
        (
            "forgets that the weights take their place first",
            """
def kv_batch_that_fits(layers, hidden, heads, kv_heads, seq_len, n_params, device_gib):
    per_sequence = 2 * layers * kv_heads * (hidden // heads) * seq_len * 2
    return int(device_gib * 2**30 // per_sequence)
""",
        ),
        (
            "rounds to the nearest number of sequences (one that does not fit)",
            """
def kv_batch_that_fits(layers, hidden, heads, kv_heads, seq_len, n_params, device_gib):
    per_sequence = 2 * layers * kv_heads * (hidden // heads) * seq_len * 2
    return max(round((device_gib * 2**30 - 2 * n_params) / per_sequence), 0)
""",
        ),
        (
            "decimal gigabytes (1e9) instead of GiB",
            """
def kv_batch_that_fits(layers, hidden, heads, kv_heads, seq_len, n_params, device_gib):
    per_sequence = 2 * layers * kv_heads * (hidden // heads) * seq_len * 2
    return max(int((device_gib * 1e9 - 2 * n_params) // per_sequence), 0)
""",
        ),
        (
            "a negative batch when the weights alone do not fit",
            """
def kv_batch_that_fits(layers, hidden, heads, kv_heads, seq_len, n_params, device_gib):
    per_sequence = 2 * layers * kv_heads * (hidden // heads) * seq_len * 2
    return int((device_gib * 2**30 - 2 * n_params) // per_sequence)
""",
        ),
        (
            "delegates to the lesson's kv_cache_bytes",
            """
def kv_batch_that_fits(layers, hidden, heads, kv_heads, seq_len, n_params, device_gib):
    per_sequence = kv_cache_bytes(layers, kv_heads, hidden // heads, seq_len, 1)
    return max(int((device_gib * 2**30 - 2 * n_params) // per_sequence), 0)
""",
        ),
    ],
    "loss_scale_trace": [
        (
            "steps even when the gradients overflowed",
            """
def loss_scale_trace(overflows, init_scale, growth_interval):
    scale, clean, trace = float(init_scale), 0, []
    for overflow in overflows:
        if overflow:
            scale, clean = scale * 0.5, 0
        else:
            clean += 1
            if clean == growth_interval:
                scale, clean = scale * 2.0, 0
        trace.append((scale, True))
    return trace
""",
        ),
        (
            "an overflow does not restart the count of clean steps",
            """
def loss_scale_trace(overflows, init_scale, growth_interval):
    scale, clean, trace = float(init_scale), 0, []
    for overflow in overflows:
        if overflow:
            scale *= 0.5
        else:
            clean += 1
            if clean == growth_interval:
                scale, clean = scale * 2.0, 0
        trace.append((scale, not overflow))
    return trace
""",
        ),
        (
            "grows after every clean step (ignores growth_interval)",
            """
def loss_scale_trace(overflows, init_scale, growth_interval):
    scale, trace = float(init_scale), []
    for overflow in overflows:
        scale = scale * 0.5 if overflow else scale * 2.0
        trace.append((scale, not overflow))
    return trace
""",
        ),
        (
            "does not restart the count after growing (grows once, then never again)",
            """
def loss_scale_trace(overflows, init_scale, growth_interval):
    scale, clean, trace = float(init_scale), 0, []
    for overflow in overflows:
        if overflow:
            scale, clean = scale * 0.5, 0
        else:
            clean += 1
            if clean == growth_interval:
                scale *= 2.0
        trace.append((scale, not overflow))
    return trace
""",
        ),
        (
            "reports the scale used for the step, before the update",
            """
def loss_scale_trace(overflows, init_scale, growth_interval):
    scale, clean, trace = float(init_scale), 0, []
    for overflow in overflows:
        trace.append((scale, not overflow))
        if overflow:
            scale, clean = scale * 0.5, 0
        else:
            clean += 1
            if clean == growth_interval:
                scale, clean = scale * 2.0, 0
    return trace
""",
        ),
        (
            "delegates to torch.amp.GradScaler",
            """
def loss_scale_trace(overflows, init_scale, growth_interval):
    import math

    import torch

    weight = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([weight], lr=1.0)
    scaler = torch.amp.GradScaler("cpu", init_scale=init_scale, growth_interval=growth_interval)
    trace = []
    for overflow in overflows:
        opt.zero_grad()
        scaler.scale(weight.sum()).backward()
        if overflow:
            weight.grad.fill_(math.inf)
        scaler.step(opt)
        scaler.update()
        trace.append((scaler.get_scale(), not overflow))
    return trace
""",
        ),
    ],
}

#: Every message names where to look ("the lesson's section ..."); a delegation message says "from the lesson".
HINT_WORDS: dict[str, list[str]] = {
    "adam_model_state_gib": ["lesson"],
    "prenorm_block_saved_bytes": ["lesson"],
    "kv_batch_that_fits": ["lesson"],
    "loss_scale_trace": ["lesson"],
}
