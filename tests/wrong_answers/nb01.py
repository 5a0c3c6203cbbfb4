"""Plausible wrong answers for notebooks/01_cnn_from_scratch.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "conv_out": [
        (
            "ignores the dilation: the kernel spans k pixels",
            """
def conv_out(n, k, s=1, p=0, d=1):
    return max((n + 2 * p - k) // s + 1, 0)
""",
        ),
        (
            "pads only one side (p instead of 2p)",
            """
def conv_out(n, k, s=1, p=0, d=1):
    span = d * (k - 1) + 1
    return max((n + p - span) // s + 1, 0)
""",
        ),
        (
            "dilated span d*k instead of d*(k-1)+1",
            """
def conv_out(n, k, s=1, p=0, d=1):
    span = d * k
    return max((n + 2 * p - span) // s + 1, 0)
""",
        ),
        (
            "no max(., 0): a kernel larger than the input gives a negative size",
            """
def conv_out(n, k, s=1, p=0, d=1):
    span = d * (k - 1) + 1
    return (n + 2 * p - span) // s + 1
""",
        ),
        (
            "rounds up instead of down (ceil division by the stride)",
            """
def conv_out(n, k, s=1, p=0, d=1):
    span = d * (k - 1) + 1
    return 0 if n + 2 * p < span else -(-(n + 2 * p - span) // s) + 1
""",
        ),
    ],
    "same_pads": [
        (
            "no max(., 0): a 1x1 kernel with stride 2 gives negative padding",
            """
def same_pads(n, k, s):
    out = -(-n // s)
    total = (out - 1) * s + k - n
    return total // 2, total - total // 2
""",
        ),
        (
            "the larger half goes before (PyTorch/Caffe habit)",
            """
def same_pads(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total - total // 2, total // 2
""",
        ),
        (
            "ignores the stride: pads k - 1 as for stride 1",
            """
def same_pads(n, k, s):
    total = k - 1
    return total // 2, total - total // 2
""",
        ),
        (
            "floor(n/s) instead of ceil(n/s) output positions",
            """
def same_pads(n, k, s):
    out = n // s
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2
""",
        ),
    ],
    "conv2d_single": [
        (
            "flips the kernel (true convolution, not PyTorch's cross-correlation)",
            """
def conv2d_single(x, w, s=1):
    kh, kw = w.shape
    ho, wo = (x.shape[0] - kh) // s + 1, (x.shape[1] - kw) // s + 1
    y = np.zeros((ho, wo))
    for i in range(ho):
        for j in range(wo):
            y[i, j] = np.sum(x[i * s : i * s + kh, j * s : j * s + kw] * w[::-1, ::-1])
    return y
""",
        ),
        (
            "forgets the stride in the window position",
            """
def conv2d_single(x, w, s=1):
    kh, kw = w.shape
    ho, wo = (x.shape[0] - kh) // s + 1, (x.shape[1] - kw) // s + 1
    y = np.zeros((ho, wo))
    for i in range(ho):
        for j in range(wo):
            y[i, j] = np.sum(x[i : i + kh, j : j + kw] * w)
    return y
""",
        ),
        (
            "swaps the kernel height and width in the window",
            """
def conv2d_single(x, w, s=1):
    kh, kw = w.shape
    ho, wo = (x.shape[0] - kh) // s + 1, (x.shape[1] - kw) // s + 1
    y = np.zeros((ho, wo))
    for i in range(ho):
        for j in range(wo):
            y[i, j] = np.sum(x[i * s : i * s + kw, j * s : j * s + kh] * w.T)
    return y
""",
        ),
    ],
    "conv_cost": [
        (
            "forgets the bias (one per output channel)",
            """
def conv_cost(c_in, c_out, k, h_out, w_out):
    return c_out * c_in * k * k, c_out * h_out * w_out * c_in * k * k
""",
        ),
        (
            "one bias per weight",
            """
def conv_cost(c_in, c_out, k, h_out, w_out):
    return 2 * c_out * c_in * k * k, c_out * h_out * w_out * c_in * k * k
""",
        ),
        (
            "MACs forget the input channels",
            """
def conv_cost(c_in, c_out, k, h_out, w_out):
    return c_out * (c_in * k * k + 1), c_out * h_out * w_out * k * k
""",
        ),
        (
            "counts FLOPs (2 per MAC) instead of MACs",
            """
def conv_cost(c_in, c_out, k, h_out, w_out):
    return c_out * (c_in * k * k + 1), 2 * c_out * h_out * w_out * c_in * k * k
""",
        ),
    ],
    "max_pool_nchw": [
        (
            "takes the max over all feature maps in the window (the article's erratum 19)",
            """
def max_pool_nchw(x, k, s):
    n_batch, n_chan, height, width = x.shape
    h_out, w_out = (height - k) // s + 1, (width - k) // s + 1
    values = np.empty((n_batch, n_chan, h_out, w_out))
    indices = np.empty((n_batch, n_chan, h_out, w_out), dtype=np.int64)
    for i in range(h_out):
        for j in range(w_out):
            patch = x[:, :, i * s : i * s + k, j * s : j * s + k].reshape(n_batch, n_chan * k * k)
            best = patch.argmax(axis=-1) % (k * k)  # the winner over every channel's window
            values[:, :, i, j] = patch.max(axis=-1)[:, None]
            indices[:, :, i, j] = ((i * s + best // k) * width + (j * s + best % k))[:, None]
    return values, indices
""",
        ),
        (
            "off by one: forgets the + 1 in the output size (the first window is not counted)",
            """
def max_pool_nchw(x, k, s):
    n_batch, n_chan, height, width = x.shape
    h_out, w_out = (height - k) // s, (width - k) // s
    values = np.empty((n_batch, n_chan, h_out, w_out))
    indices = np.empty((n_batch, n_chan, h_out, w_out), dtype=np.int64)
    for i in range(h_out):
        for j in range(w_out):
            patch = x[:, :, i * s : i * s + k, j * s : j * s + k].reshape(n_batch, n_chan, k * k)
            best = patch.argmax(axis=-1)
            values[:, :, i, j] = patch.max(axis=-1)
            indices[:, :, i, j] = (i * s + best // k) * width + (j * s + best % k)
    return values, indices
""",
        ),
        (
            "off by one in the window: slices k + 1 pixels (an inclusive end)",
            """
def max_pool_nchw(x, k, s):
    n_batch, n_chan, height, width = x.shape
    h_out, w_out = (height - k) // s + 1, (width - k) // s + 1
    values = np.empty((n_batch, n_chan, h_out, w_out))
    indices = np.empty((n_batch, n_chan, h_out, w_out), dtype=np.int64)
    for i in range(h_out):
        for j in range(w_out):
            patch = x[:, :, i * s : i * s + k + 1, j * s : j * s + k + 1]
            ph, pw = patch.shape[2:]
            flat = patch.reshape(n_batch, n_chan, ph * pw)
            best = flat.argmax(axis=-1)
            values[:, :, i, j] = flat.max(axis=-1)
            indices[:, :, i, j] = (i * s + best // pw) * width + (j * s + best % pw)
    return values, indices
""",
        ),
        (
            "ignores the stride: windows start at i * k (PyTorch's default stride = kernel)",
            """
def max_pool_nchw(x, k, s):
    n_batch, n_chan, height, width = x.shape
    h_out, w_out = (height - k) // s + 1, (width - k) // s + 1
    values = np.empty((n_batch, n_chan, h_out, w_out))
    indices = np.empty((n_batch, n_chan, h_out, w_out), dtype=np.int64)
    for i in range(h_out):
        for j in range(w_out):
            patch = x[:, :, i * k : i * k + k, j * k : j * k + k].reshape(n_batch, n_chan, k * k)
            best = patch.argmax(axis=-1)
            values[:, :, i, j] = patch.max(axis=-1)
            indices[:, :, i, j] = (i * k + best // k) * width + (j * k + best % k)
    return values, indices
""",
        ),
        (
            "ceil instead of floor for the output size (ceil_mode): a last, partial window",
            """
def max_pool_nchw(x, k, s):
    n_batch, n_chan, height, width = x.shape
    h_out, w_out = -(-(height - k) // s) + 1, -(-(width - k) // s) + 1
    values = np.empty((n_batch, n_chan, h_out, w_out))
    indices = np.empty((n_batch, n_chan, h_out, w_out), dtype=np.int64)
    for i in range(h_out):
        for j in range(w_out):
            patch = x[:, :, i * s : i * s + k, j * s : j * s + k]
            ph, pw = patch.shape[2:]
            flat = patch.reshape(n_batch, n_chan, ph * pw)
            best = flat.argmax(axis=-1)
            values[:, :, i, j] = flat.max(axis=-1)
            indices[:, :, i, j] = (i * s + best // pw) * width + (j * s + best % pw)
    return values, indices
""",
        ),
        (
            "returns the argmax inside the window (0 .. k*k - 1), not the position in the input plane",
            """
def max_pool_nchw(x, k, s):
    n_batch, n_chan, height, width = x.shape
    h_out, w_out = (height - k) // s + 1, (width - k) // s + 1
    values = np.empty((n_batch, n_chan, h_out, w_out))
    indices = np.empty((n_batch, n_chan, h_out, w_out), dtype=np.int64)
    for i in range(h_out):
        for j in range(w_out):
            patch = x[:, :, i * s : i * s + k, j * s : j * s + k].reshape(n_batch, n_chan, k * k)
            values[:, :, i, j] = patch.max(axis=-1)
            indices[:, :, i, j] = patch.argmax(axis=-1)
    return values, indices
""",
        ),
        (
            "flattens the index with the height (row * H + col) instead of the width",
            """
def max_pool_nchw(x, k, s):
    n_batch, n_chan, height, width = x.shape
    h_out, w_out = (height - k) // s + 1, (width - k) // s + 1
    values = np.empty((n_batch, n_chan, h_out, w_out))
    indices = np.empty((n_batch, n_chan, h_out, w_out), dtype=np.int64)
    for i in range(h_out):
        for j in range(w_out):
            patch = x[:, :, i * s : i * s + k, j * s : j * s + k].reshape(n_batch, n_chan, k * k)
            best = patch.argmax(axis=-1)
            values[:, :, i, j] = patch.max(axis=-1)
            indices[:, :, i, j] = (i * s + best // k) * height + (j * s + best % k)
    return values, indices
""",
        ),
    ],
}

HINT_WORDS: dict[str, list[str]] = {
    "conv_out": ["both sides", "d*(k-1)+1", "floor division"],
    "same_pads": ["max(", "never negative", "smaller half goes before"],
    "conv2d_single": ["no kernel flip", "i*s"],
    "conv_cost": ["one bias per output channel", "c_in * k * k"],
    "max_pool_nchw": ["each channel on its own", "(H - k) // s + 1", "i*s", "row * W + col"],
}
