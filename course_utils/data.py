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
import hashlib
import math
import mmap
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = [
    "IdxFormatError",
    "IDX_DTYPES",
    "MNIST_FILES",
    "read_idx",
    "write_idx",
    "idx_header",
    "idx_sha256",
    "load_mnist",
    "default_data_dir",
    "refuse_file_above",
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
_INFLATE_CHUNK = 1 << 18  # compressed bytes fed to zlib per call: the output stays in cache while copied
_MAX_DEFLATE_RATIO = 1033  # deflate cannot expand input by more than ~1032:1


class IdxFormatError(ValueError):
    """An IDX file is malformed: the message names the file and what is wrong."""


def _parse_header(path: Path, head: bytes, what: str = "file") -> tuple[np.dtype, tuple[int, ...], int]:
    """Validate the IDX header at the start of ``head``; return (big-endian dtype, shape, header length)."""
    if len(head) == 0:
        raise IdxFormatError(
            f"{path}: {what} is empty (0 bytes); an IDX file starts with a 4-byte magic number"
        )
    if len(head) < 4:
        raise IdxFormatError(
            f"{path}: {what} has only {len(head)} bytes, shorter than the 4-byte IDX magic number"
        )
    if head[0] != 0 or head[1] != 0:
        raise IdxFormatError(
            f"{path}: bad magic number 0x{bytes(head[:4]).hex()} - an IDX file starts with two zero bytes "
            "(is this really an IDX file, or a compressed file without the .gz suffix?)"
        )
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise IdxFormatError(
            f"{path}: unknown IDX dtype code 0x{code:02X} in magic number 0x{bytes(head[:4]).hex()} (known: {known})"
        )
    header_len = 4 + 4 * ndim
    if len(head) < header_len:
        raise IdxFormatError(
            f"{path}: truncated header - {ndim} dimensions need {header_len} header bytes, {what} has {len(head)}"
        )
    shape = struct.unpack(f">{ndim}I", head[4:header_len])
    return IDX_DTYPES[code], shape, header_len


def _size_error(
    path: Path, dtype: np.dtype, shape: tuple[int, ...], expected: int, got: int
) -> IdxFormatError:
    if got < expected:
        return IdxFormatError(
            f"{path}: truncated - header says shape {shape} of {dtype.name} = {expected:,} payload bytes, "
            f"but only {got:,} are present"
        )
    return IdxFormatError(
        f"{path}: dimensions {shape} do not match the payload - header says {expected:,} bytes, "
        f"file has {got:,} ({got - expected:,} extra)"
    )


def _empty_result(dtype: np.dtype, shape: tuple[int, ...]) -> tuple[np.ndarray, memoryview]:
    """A new native-order array for the payload and a flat byte view to fill it through."""
    out = np.empty(shape, dtype=dtype.newbyteorder("="))
    return out, memoryview(out.reshape(-1).view(np.uint8))


def _finish(out: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The payload was copied in as raw big-endian bytes: swap in place when this machine is little-endian."""
    if dtype.itemsize > 1 and not dtype.isnative:
        out.byteswap(inplace=True)
    return out


def _read_plain(path: Path, src: memoryview) -> np.ndarray:
    dtype, shape, offset = _parse_header(path, bytes(src[: 4 + 4 * 255]))
    expected = math.prod(shape) * dtype.itemsize
    got = len(src) - offset
    if got != expected:
        raise _size_error(path, dtype, shape, expected, got)
    out, flat = _empty_result(dtype, shape)
    flat[:] = src[offset:]  # the one copy: file (page cache) -> result
    return _finish(out, dtype)


def _inflate(path: Path, src: memoryview) -> Iterator[bytes]:
    """Decompress every gzip member of ``src`` piecewise (zlib checks each member's CRC-32 and length)."""
    d: zlib._Decompress | None = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        for start in range(0, len(src), _INFLATE_CHUNK):
            data: bytes | memoryview = src[start : start + _INFLATE_CHUNK]
            while data:
                if d is None:  # between members: skip zero padding, then start the next member
                    data = bytes(data).lstrip(b"\0")
                    if not data:
                        break
                    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                out = d.decompress(data)
                if out:
                    yield out
                if d.eof:
                    data, d = d.unused_data, None
                else:
                    data = b""
    except zlib.error as e:
        raise IdxFormatError(
            f"{path}: gzip stream is corrupt ({e}); delete the file and fetch it again"
        ) from None
    if d is not None:
        raise IdxFormatError(
            f"{path}: gzip stream is truncated (the file ends before the end-of-stream marker); "
            "delete it and fetch it again"
        )


def _read_gzip(path: Path, src: memoryview) -> np.ndarray:
    head = bytearray()
    out = flat = None
    pos = expected = extra = 0
    dtype, shape = IDX_DTYPES[0x08], ()
    for piece in _inflate(path, src):
        if out is None:  # still collecting the header
            head += piece
            if len(head) < 4 or len(head) < 4 + 4 * head[3]:
                continue
            dtype, shape, offset = _parse_header(path, bytes(head[: 4 + 4 * head[3]]), "decompressed data")
            expected = math.prod(shape) * dtype.itemsize
            if expected > _MAX_DEFLATE_RATIO * len(src) + 1024:
                raise IdxFormatError(
                    f"{path}: dimensions {shape} of {dtype.name} need {expected:,} payload bytes, more than "
                    f"a {len(src):,}-byte gzip file can hold (deflate expands at most ~1032:1): "
                    "the header is wrong or the file is truncated"
                )
            out, flat = _empty_result(dtype, shape)
            piece = bytes(head[offset:])
        n = len(piece)
        if pos + n > expected:
            extra += pos + n - expected
            n = expected - pos
        if n > 0:
            flat[pos : pos + n] = piece[:n] if n < len(piece) else piece
            pos += n
    if out is None:
        _parse_header(path, bytes(head), "decompressed data")  # raises: empty or short header
        raise AssertionError("unreachable")
    if pos + extra != expected:
        raise _size_error(path, dtype, shape, expected, pos + extra)
    return _finish(out, dtype)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip or not) into a new, writable NumPy array in native byte order.

    Fast because nothing happens per item in Python: the file is memory-mapped, the payload bytes are
    copied once into the result (decompressed piece by piece straight into it for ``.gz``), and
    multi-byte data is byte-swapped in place. Malformed input raises :class:`IdxFormatError`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such IDX file")
    if path.stat().st_size == 0:
        raise IdxFormatError(
            f"{path}: file is empty (0 bytes); an IDX file starts with a 4-byte magic number"
        )
    with open(path, "rb") as f:
        try:
            m: mmap.mmap | bytes = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # a file system without mmap: read it instead
            m = f.read()
    src = memoryview(m)
    try:
        if src[:2] == _GZIP_MAGIC:
            return _read_gzip(path, src)
        if path.suffix == ".gz":
            raise IdxFormatError(
                f"{path}: name ends in .gz but the file is not gzip data (first bytes {bytes(src[:4])!r}); "
                "re-download it, or drop the .gz suffix if it is an uncompressed IDX file"
            )
        return _read_plain(path, src)
    finally:
        src.release()
        if isinstance(m, mmap.mmap):
            try:
                m.close()
            except BufferError:  # a view is still held by an exception's traceback; freed with it
                pass


def idx_header(array: np.ndarray) -> bytes:
    """The IDX header (magic number and big-endian dimensions) that :func:`write_idx` writes for ``array``."""
    arr = np.asarray(array)
    code = _CODE_OF_KIND.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None:
        raise TypeError(
            f"write_idx: dtype {arr.dtype} has no IDX code (use uint8, int8, int16, int32, float32 or float64)"
        )
    if arr.ndim > 255:
        raise ValueError("write_idx: IDX supports at most 255 dimensions")
    if any(d >= 2**32 for d in arr.shape):
        raise ValueError(f"write_idx: dimension in {arr.shape} does not fit the 32-bit IDX header")
    return bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)


def _payload(array: np.ndarray) -> np.ndarray:
    """The big-endian payload as a flat uint8 array (no copy for uint8/int8 C-contiguous input)."""
    arr = np.asarray(array)
    code = _CODE_OF_KIND[(arr.dtype.kind, arr.dtype.itemsize)]
    return np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).reshape(-1).view(np.uint8)


def idx_sha256(array: np.ndarray) -> str:
    """SHA-256 of the uncompressed IDX file that encodes ``array`` (independent of gzip settings)."""
    h = hashlib.sha256(idx_header(array))
    h.update(_payload(array))
    return h.hexdigest()


def refuse_file_above(folder: Path, target: str) -> None:
    """Raise a clear ``OSError`` when ``folder`` or a folder above it is a regular file (mkdir would fail)."""
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise OSError(f"cannot write {target}: {parent} is a file, not a folder")
            return


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip when ``path`` ends in ``.gz``), atomically.

    The bytes go to a temporary file in the same folder, renamed over ``path`` only when complete,
    so a crash or a full disk never leaves a partial file. Gzip output is reproducible (mtime 0).
    """
    path = Path(path)
    header, payload = idx_header(array), _payload(array)
    folder = path.parent if str(path.parent) else Path(".")
    refuse_file_above(folder, str(path))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    except OSError as e:
        raise OSError(f"cannot write {path}: output folder {folder} is not writable ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            if path.suffix == ".gz":
                with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=6, mtime=0) as gz:
                    gz.write(header)
                    gz.write(payload)
            else:
                f.write(header)
                f.write(payload)
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
    from .paths import data_dir

    return data_dir()


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
        raise IdxFormatError(
            f"{img_path}: expected uint8 images [N,28,28], got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IdxFormatError(f"{lbl_path}: expected uint8 labels [N], got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise IdxFormatError(f"{root}: {len(images)} images but {len(labels)} labels in split {split!r}")
    return images, labels
