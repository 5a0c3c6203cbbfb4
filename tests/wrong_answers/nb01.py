"""Plausible wrong answers for notebooks/01_cnn_from_scratch.ipynb (see tests/test_wrong_answers.py)."""

WRONG: dict[str, list[tuple[str, str]]] = {
    "im2col": [
        (
            "each column holds the window pixel by pixel with the channels innermost (HWC), not channel by channel",
            """
def im2col(x, k, s):
    c, h, w = x.shape
    h_out, w_out = (h - k) // s + 1, (w - k) // s + 1
    cols = np.empty((c * k * k, h_out * w_out))
    for i in range(h_out):
        for j in range(w_out):
            cols[:, i * w_out + j] = x[:, i * s : i * s + k, j * s : j * s + k].transpose(1, 2, 0).reshape(-1)
    return cols
""",
        ),
        (
            "positions column by column (j outer) instead of in reading order",
            """
def im2col(x, k, s):
    c, h, w = x.shape
    h_out, w_out = (h - k) // s + 1, (w - k) // s + 1
    cols = np.empty((c * k * k, h_out * w_out))
    for i in range(h_out):
        for j in range(w_out):
            cols[:, j * h_out + i] = x[:, i * s : i * s + k, j * s : j * s + k].reshape(-1)
    return cols
""",
        ),
        (
            "forgets the stride in the window position",
            """
def im2col(x, k, s):
    c, h, w = x.shape
    h_out, w_out = (h - k) // s + 1, (w - k) // s + 1
    cols = np.empty((c * k * k, h_out * w_out))
    for i in range(h_out):
        for j in range(w_out):
            cols[:, i * w_out + j] = x[:, i : i + k, j : j + k].reshape(-1)
    return cols
""",
        ),
        (
            "delegates to the lesson's windows()",
            """
def im2col(x, k, s):
    win = windows(x[None], (k, k), s, 1)[0]
    c, h_out, w_out = win.shape[:3]
    return win.transpose(0, 3, 4, 1, 2).reshape(c * k * k, h_out * w_out)
""",
        ),
        (
            "delegates to torch.nn.functional.unfold",
            """
def im2col(x, k, s):
    import torch
    return torch.nn.functional.unfold(torch.from_numpy(x)[None], k, stride=s)[0].numpy()
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
        (
            "delegates to F.max_pool2d(return_indices=True)",
            """
def max_pool_nchw(x, k, s):
    import torch
    import torch.nn.functional as F
    values, indices = F.max_pool2d(torch.from_numpy(x), k, s, return_indices=True)
    return values.numpy(), indices.numpy()
""",
        ),
        (
            "takes the values from the lesson's max_pool2d and only computes the indices",
            """
def max_pool_nchw(x, k, s):
    n_batch, n_chan, height, width = x.shape
    values = max_pool2d(x, k, s)
    h_out, w_out = values.shape[2:]
    indices = np.empty((n_batch, n_chan, h_out, w_out), dtype=np.int64)
    for i in range(h_out):
        for j in range(w_out):
            best = x[:, :, i * s : i * s + k, j * s : j * s + k].reshape(n_batch, n_chan, k * k).argmax(axis=-1)
            indices[:, :, i, j] = (i * s + best // k) * width + (j * s + best % k)
    return values, indices
""",
        ),
    ],
    "max_pool_backward": [
        (
            "assigns the gradient instead of adding it: a pixel that wins in two overlapping windows keeps one",
            """
def max_pool_backward(x, k, s, d_out):
    n_batch, n_chan, height, width = x.shape
    d_x = np.zeros_like(x)
    for i in range(d_out.shape[2]):
        for j in range(d_out.shape[3]):
            patch = x[:, :, i * s : i * s + k, j * s : j * s + k].reshape(n_batch, n_chan, k * k)
            best = patch.argmax(axis=-1)
            rows, cols = i * s + best // k, j * s + best % k
            for b in range(n_batch):
                for c in range(n_chan):
                    d_x[b, c, rows[b, c], cols[b, c]] = d_out[b, c, i, j]
    return d_x
""",
        ),
        (
            "spreads the gradient evenly over the window (the backward pass of average pooling)",
            """
def max_pool_backward(x, k, s, d_out):
    d_x = np.zeros_like(x)
    for i in range(d_out.shape[2]):
        for j in range(d_out.shape[3]):
            d_x[:, :, i * s : i * s + k, j * s : j * s + k] += d_out[:, :, i : i + 1, j : j + 1] / (k * k)
    return d_x
""",
        ),
        (
            "scales the routed gradient by the winning value (the max's value, not its derivative 1)",
            """
def max_pool_backward(x, k, s, d_out):
    n_batch, n_chan, height, width = x.shape
    d_x = np.zeros_like(x)
    for i in range(d_out.shape[2]):
        for j in range(d_out.shape[3]):
            patch = x[:, :, i * s : i * s + k, j * s : j * s + k].reshape(n_batch, n_chan, k * k)
            best = patch.argmax(axis=-1)
            rows, cols = i * s + best // k, j * s + best % k
            for b in range(n_batch):
                for c in range(n_chan):
                    d_x[b, c, rows[b, c], cols[b, c]] += d_out[b, c, i, j] * x[b, c, rows[b, c], cols[b, c]]
    return d_x
""",
        ),
        (
            "one winner over all channels of the window (the article's erratum 19)",
            """
def max_pool_backward(x, k, s, d_out):
    n_batch, n_chan, height, width = x.shape
    d_x = np.zeros_like(x)
    for i in range(d_out.shape[2]):
        for j in range(d_out.shape[3]):
            patch = x[:, :, i * s : i * s + k, j * s : j * s + k].reshape(n_batch, n_chan * k * k)
            best = patch.argmax(axis=-1)
            chan, pos = best // (k * k), best % (k * k)
            rows, cols = i * s + pos // k, j * s + pos % k
            for b in range(n_batch):
                d_x[b, chan[b], rows[b], cols[b]] += d_out[b, :, i, j].sum()
    return d_x
""",
        ),
        (
            "delegates to autograd through F.max_pool2d",
            """
def max_pool_backward(x, k, s, d_out):
    import torch
    import torch.nn.functional as F
    x_t = torch.from_numpy(x).requires_grad_()
    F.max_pool2d(x_t, k, s).backward(torch.from_numpy(d_out))
    return x_t.grad.numpy()
""",
        ),
        (
            "finds the winners with the lesson's windows()",
            """
def max_pool_backward(x, k, s, d_out):
    win = windows(x, (k, k), s, 1)
    n_batch, n_chan, h_out, w_out = win.shape[:4]
    best = win.reshape(n_batch, n_chan, h_out, w_out, k * k).argmax(axis=-1)
    d_x = np.zeros_like(x)
    for b in range(n_batch):
        for c in range(n_chan):
            for i in range(h_out):
                for j in range(w_out):
                    d_x[b, c, i * s + best[b, c, i, j] // k, j * s + best[b, c, i, j] % k] += d_out[b, c, i, j]
    return d_x
""",
        ),
    ],
}

#: Every failing message names the lesson: a case's hint points to its section, a delegating answer is told
#: that it calls the lesson's function.
HINT_WORDS: dict[str, list[str]] = {
    "im2col": ["lesson"],
    "max_pool_nchw": ["lesson"],
    "max_pool_backward": ["lesson"],
}
