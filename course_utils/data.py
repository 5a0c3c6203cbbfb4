"""MNIST in the IDX format: a fast, strict reader and writer, and ``load_mnist``.

Taught in notebook 04. The IDX format (LeCun's MNIST files) is::

    bytes 0-1   0x00 0x00
    byte  2     dtype code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64)
    byte  3     number of dimensions d
    4*d bytes   each dimension, big-endian uint32
    payload     prod(dims) items, big-endian, C order

Images are ``magic 2051`` (uint8, 3 dims) and labels ``magic 2049`` (uint8, 1 dim). Files may be gzip
compressed (``.gz``). Every malformed input raises :class:`IdxFormatError` naming the file and the problem.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "IdxFormatError",
    "IDX_DTYPES",
    "MNIST_FILES",
    "read_idx",
    "write_idx",
    "load_mnist",
    "default_data_dir",
]

#: IDX dtype code -> big-endian NumPy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_KIND = {(dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()}

#: split -> (images file, labels file), the standard MNIST names.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

_GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(ValueError):
    """An IDX file is malformed: the message names the file and what is wrong."""


def _read_bytes(path: Path) -> bytes | bytearray:
    """Return the (decompressed) bytes of ``path``; gzip is detected by its magic bytes.

    An uncompressed file is read straight into one writable ``bytearray`` (a single copy).
    """
    raw = bytearray(path.stat().st_size)
    with open(path, "rb", buffering=0) as f:
        n = f.readinto(raw)
    if n != len(raw):  # the file changed size while we read it
        del raw[n:]
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise IdxFormatError(f"{path}: gzip stream is corrupt or truncated ({e})") from None
    if path.suffix == ".gz":
        raise IdxFormatError(
            f"{path}: name ends in .gz but the file is not gzip data (first bytes {raw[:4]!r}); "
            "re-download it or drop the .gz suffix if it is an uncompressed IDX file"
        )
    return raw


def _parse_header(path: Path, buf: bytes | memoryview) -> tuple[np.dtype, tuple[int, ...], int]:
    """Validate the IDX header; return (dtype, shape, payload offset)."""
    if len(buf) == 0:
        raise IdxFormatError(f"{path}: file is empty (0 bytes); an IDX file starts with a 4-byte magic number")
    if len(buf) < 4:
        raise IdxFormatError(f"{path}: only {len(buf)} bytes, shorter than the 4-byte IDX magic number")
    if buf[0] != 0 or buf[1] != 0:
        raise IdxFormatError(
            f"{path}: bad magic number {bytes(buf[:4]).hex()} - an IDX file starts with two zero bytes "
            "(is this really an IDX file, or a compressed file without the .gz suffix?)"
        )
    code, ndim = buf[2], buf[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise IdxFormatError(f"{path}: unknown IDX dtype code 0x{code:02X} (known: {known})")
    offset = 4 + 4 * ndim
    if len(buf) < offset:
        raise IdxFormatError(
            f"{path}: truncated header - {ndim} dimensions need {offset} header bytes, file has {len(buf)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(buf) - offset
    if got < expected:
        raise IdxFormatError(
            f"{path}: truncated - header says shape {shape} of {dtype.name} = {expected:,} payload bytes, "
            f"but only {got:,} are present"
        )
    if got > expected:
        raise IdxFormatError(
            f"{path}: dimensions {shape} do not match the payload - header says {expected:,} bytes, "
            f"file has {got:,} ({got - expected:,} extra)"
        )
    return dtype, shape, offset


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip or not) into a NumPy array with native byte order.

    The payload is wrapped with ``np.frombuffer`` (no per-item Python work, no needless copy);
    single-byte data is returned as a view of one writable buffer, multi-byte data is byte-swapped once.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such IDX file")
    buf = _read_bytes(path)
    dtype, shape, offset = _parse_header(path, buf)
    if dtype.itemsize == 1 and isinstance(buf, bytes):
        buf = bytearray(buf)  # decompressed bytes are read-only; torch.from_numpy wants writable arrays
    arr = np.frombuffer(buf, dtype=dtype, offset=offset)
    if dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))  # one copy: big-endian -> native, writable
    return arr.reshape(shape)


def _idx_bytes(array: np.ndarray) -> bytes:
    arr = np.asarray(array)
    code = _CODE_OF_KIND.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None:
        raise TypeError(
            f"write_idx: dtype {arr.dtype} has no IDX code (use uint8, int8, int16, int32, float32 or float64)"
        )
    if arr.ndim > 255:
        raise ValueError("write_idx: IDX supports at most 255 dimensions")
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip when ``path`` ends in ``.gz``), atomically.

    The bytes go to a temporary file in the same folder, renamed over ``path`` only when complete,
    so a crash or a full disk never leaves a partial file. Gzip output is reproducible (mtime 0).
    """
    path = Path(path)
    data = _idx_bytes(array)
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=6, mtime=0)
    folder = path.parent if str(path.parent) else Path(".")
    if folder.exists() and not folder.is_dir():
        raise OSError(f"cannot write {path}: {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    except OSError as e:
        raise OSError(f"cannot write {path}: output folder {folder} is not writable ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def default_data_dir() -> Path:
    """The MNIST folder: ``$COURSE_DATA_DIR`` if set, else ``<repo>/data/mnist``."""
    env = os.environ.get("COURSE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parent.parent / "data" / "mnist"


def _find(root: Path, name: str) -> Path | None:
    for candidate in (root / name, root / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def load_mnist(root: str | os.PathLike | None = None, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Load one MNIST split as ``(images uint8 [N,28,28], labels uint8 [N])``.

    ``root`` defaults to :func:`default_data_dir`. Either the offline subset or the full set works:
    both are written as the same four IDX files by ``python -m data_scripts.fetch_mnist``.
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be one of {sorted(MNIST_FILES)}, got {split!r}")
    root = Path(root) if root is not None else default_data_dir()
    how = "run `make data` (or `python -m data_scripts.fetch_mnist`; add --full for all 70,000 images)"
    if not root.is_dir():
        raise FileNotFoundError(f"MNIST folder {root} does not exist: {how}")
    img_name, lbl_name = MNIST_FILES[split]
    img_path, lbl_path = _find(root, img_name), _find(root, lbl_name)
    missing = [n for n, p in ((img_name, img_path), (lbl_name, lbl_path)) if p is None]
    if missing:
        raise FileNotFoundError(f"MNIST folder {root} lacks {', '.join(missing)}: {how}")
    images, labels = read_idx(img_path), read_idx(lbl_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise IdxFormatError(f"{img_path}: expected uint8 images [N,28,28], got {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IdxFormatError(f"{lbl_path}: expected uint8 labels [N], got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise IdxFormatError(f"{root}: {len(images)} images but {len(labels)} labels in split {split!r}")
    return images, labels
