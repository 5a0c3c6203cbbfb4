"""How fast is the course's IDX reader? Article-style per-pixel parsing vs ``read_idx`` vs gzip's floor.

Builds a 60,000-image MNIST-sized train file with ``write_idx`` in a temporary folder (plain and .gz) and
times, with warm-up, repeats and medians (``course_utils.bench.time_it``):

* the original article's approach (:func:`article_read_images` below, notebook 04's copy: one Python ``int``
  per pixel) on the uncompressed file, and ``read_idx`` on the same file - goal: ``read_idx`` >= 100x faster;
* ``gzip.decompress`` alone on the .gz bytes already in memory (the floor: no file reading, no array) and
  ``read_idx`` on the .gz file - goal: ``read_idx`` <= 1.2x the floor. CPython's ``gzip.decompress`` copies
  the input, joins its output blocks and runs a separate CRC pass, so a tighter floor is printed too:
  ``zlib.decompress`` told the output size up front (one output buffer, CRC checked inside zlib).

Two kinds of pixels are used for the .gz comparison, because gzip behaves very differently on them:
``random`` uint8 (incompressible: deflate stores it, decompression is little more than a copy) and
``mnist-like`` (the offline subset's real digits repeated to 60,000 images: compresses about as well as the
real MNIST). Not a test: it prints numbers for this machine. Usage::

    python benchmarks/idx_reader_speed.py [--images 60000] [--repeats 7] [--article-repeats 3]
"""

from __future__ import annotations

import argparse
import gzip
import platform
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_utils.bench import Timing, machine_label, time_it  # noqa: E402
from course_utils.data import read_idx, write_idx  # noqa: E402


def article_read_images(path: Path) -> np.ndarray:
    """The article's per-pixel reader, corrected only enough to run (ERRATA.md, erratum 6; notebook 04)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    pixels = [int(pixel) for pixel in data[16:]]  # one Python int per pixel, after the 16-byte header
    n_images = len(pixels) // 784
    return np.array(pixels[: n_images * 784], dtype=np.uint8).reshape(n_images, 28, 28)


def _images(kind: str, n: int) -> np.ndarray:
    if kind == "random":
        return np.random.default_rng(0).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    from course_utils.data import load_mnist

    digits, _ = load_mnist(split="train")
    return np.resize(digits, (n, 28, 28))  # the real digits repeated (beyond gzip's 32 KiB window)


def _row(label: str, t: Timing, note: str = "") -> str:
    return f"  {label:<42} {t.median * 1e3:10.1f} ms  ±{t.spread:4.0%}  {t.throughput:14,.0f} img/s  {note}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=60_000, help="images in the train file (default 60,000)")
    ap.add_argument("--repeats", type=int, default=7, help="timed runs of the fast readers (default 7)")
    ap.add_argument(
        "--article-repeats", type=int, default=3, help="timed runs of the article reader (default 3)"
    )
    args = ap.parse_args(argv)
    n = args.images
    print(f"IDX reader speed, {n:,} images of 28x28 uint8 ({n * 784 / 1e6:.1f} MB of pixels)")
    print(f"machine: {machine_label()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, zlib {zlib.ZLIB_RUNTIME_VERSION}")
    print("times: median of the timed runs after one warm-up run; ± is the inter-quartile range / median\n")

    with tempfile.TemporaryDirectory(prefix="idx-bench-") as tmp:
        folder = Path(tmp)
        results: dict[str, Timing] = {}

        images = _images("random", n)
        plain = write_idx(folder / "train-images-idx3-ubyte", images)
        assert np.array_equal(read_idx(plain), images)
        assert np.array_equal(article_read_images(plain), images)  # same result: the comparison is fair
        print("1) uncompressed file, random pixels")
        results["article"] = time_it(
            lambda: article_read_images(plain), repeats=args.article_repeats, warmup=0, items=n
        )
        results["plain"] = time_it(lambda: read_idx(plain), repeats=args.repeats, warmup=1, items=n)
        speedup = results["article"].median / results["plain"].median
        print(_row("article reader (one Python int per pixel)", results["article"], "(no warm-up: too slow)"))
        print(_row("read_idx", results["plain"]))
        verdict = "meets" if speedup >= 100 else "misses"
        print(
            f"  -> read_idx is {speedup:,.0f}x faster than the article's reader ({verdict} the >= 100x goal)\n"
        )

        print("2) gzip file: read_idx vs gzip.decompress of the bytes already in memory (the floor)")
        for kind in ("random", "mnist-like"):
            pixels = images if kind == "random" else _images(kind, n)
            gz = write_idx(folder / f"{kind}-train-images-idx3-ubyte.gz", pixels)
            compressed = gz.read_bytes()
            assert np.array_equal(read_idx(gz), pixels)
            floor = time_it(lambda c=compressed: gzip.decompress(c), repeats=args.repeats, warmup=1, items=n)
            size = int.from_bytes(compressed[-4:], "little")  # gzip trailer: uncompressed size mod 2**32
            tight = time_it(
                lambda c=compressed, s=size: zlib.decompress(c, wbits=31, bufsize=s),
                repeats=args.repeats,
                warmup=1,
                items=n,
            )
            ours = time_it(lambda g=gz: read_idx(g), repeats=args.repeats, warmup=1, items=n)
            ratio = ours.median / floor.median
            print(
                f"  {kind} pixels: .gz is {len(compressed) / 1e6:.1f} MB ({pixels.nbytes / len(compressed):.1f}:1)"
            )
            print(_row("gzip.decompress alone (floor)", floor))
            print(_row("zlib.decompress, output size known", tight, "(tighter floor: one buffer)"))
            print(_row("read_idx on the .gz file", ours, "(reads the file, builds the array)"))
            verdict = "meets" if ratio <= 1.2 else "misses"
            print(
                f"  -> read_idx takes {ratio:.2f}x the decompression floor ({verdict} the <= 1.2x goal), "
                f"{ours.median / tight.median:.2f}x the tighter floor\n"
            )
            results[f"floor-{kind}"], results[f"gz-{kind}"] = floor, ours

        print("summary (this machine, this run):")
        print(f"  speed-up vs the article reader, uncompressed file:   {speedup:8,.0f}x   (goal >= 100x)")
        for kind in ("random", "mnist-like"):
            r = results[f"gz-{kind}"].median / results[f"floor-{kind}"].median
            print(f"  read_idx .gz / gzip.decompress floor, {kind:<10}:   {r:8.2f}x   (goal <= 1.2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
