"""The original article's MNIST reader, kept as the *slow reference* that notebook 04 measures against.

Do not use this to load data: use :func:`course_utils.data.read_idx` / :func:`course_utils.data.load_mnist`.

The article (seed erratum 6) reads images like this::

    def read_image(filename):
        with gzip.open(filename, 'rb') as f:
            data = f.read()
        return [int(pixel) for pixel in data]
    ...
    image = read_image(filename + '-images-*.gz')[::784]

That code cannot run as written: ``gzip.open`` does not expand the ``*`` wildcard, ``[::784]`` keeps every
784th byte instead of splitting the data into 784-pixel images, and the 16-byte IDX header is parsed as if
it were pixels. :func:`article_read_images` corrects *only* those three things and keeps the article's
approach - one Python ``int`` per pixel in a Python list - so timing it shows what that approach costs.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

__all__ = ["article_read_images"]

_IMAGE_HEADER_BYTES = 16  # magic number + 3 big-endian uint32 dimensions (N, rows, cols)
_PIXELS = 28 * 28


def article_read_images(path: str | os.PathLike) -> np.ndarray:
    """The article's per-pixel Python reader, corrected only enough to run (slow on purpose; notebook 04).

    Reads an MNIST image file (uncompressed, or ``.gz`` like the article) and returns uint8 ``[N, 28, 28]``.
    It checks nothing: no magic number, no dimensions - exactly the weaknesses the course's reader fixes.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:  # the article: gzip.open(filename + '-images-*.gz') - no globbing there
        data = f.read()
    pixels = [int(pixel) for pixel in data[_IMAGE_HEADER_BYTES:]]  # the article parsed the header as pixels
    n_images = len(pixels) // _PIXELS  # the article took [::784]: every 784th byte, not 784-byte images
    return np.array(pixels[: n_images * _PIXELS], dtype=np.uint8).reshape(n_images, 28, 28)
