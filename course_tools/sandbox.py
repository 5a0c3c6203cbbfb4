"""A student's functions in their own process, answering with plain data only (used by ``grade``).

The checker starts ``python -m course_tools.sandbox`` (own temporary folder, user ``nobody`` when grading as
root, a cap on file sizes), sends it the setup code and the submission's definitions, and calls the student's
functions through :class:`Remote` proxies. Arguments go by cloudpickle (the instructor's data); answers come
back by pickle restricted to plain data (None, bools, numbers, strings, bytes, tuples, lists, dicts, sets,
NumPy arrays; a torch tensor travels as its array), so nothing a student returns can run code in the checker.
A call that hangs or a sandbox that dies raises :class:`SandboxError`; the next call starts a fresh sandbox.
Legacy, until every exercise takes and returns plain data: models and optimizers passed in come back with their
state, the global random states go both ways, and a ``tf.data.Dataset`` comes back as its first passes.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import pickle
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import traceback
import types
from collections import OrderedDict
from typing import Any

import numpy as np

if os.name == "posix":
    import resource  # noqa: F401 - for _cap_files, which runs between fork and exec

#: Largest file the student's code may write (bytes): a print loop of 100 MB ends the sandbox, not the disk.
FILE_LIMIT = 32 * 2**20
#: Largest answer the checker reads (bytes).
REPLY_LIMIT = 256 * 2**20
#: What an answer may name: plain containers and NumPy's array and scalar rebuilders, nothing that runs code.
_ALLOWED = {
    ("builtins", "complex"),
    ("builtins", "bytearray"),
    ("collections", "OrderedDict"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    *((f"numpy.{core}.multiarray", f) for core in ("core", "_core") for f in ("_reconstruct", "scalar")),
    *((f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core")),
    ("course_tools.sandbox", "_tensor"),
    ("course_tools.sandbox", "Replay"),
}


class SandboxError(RuntimeError):
    """The sandbox died, timed out, or answered with something that is not plain data."""


def _tensor(array: np.ndarray) -> Any:
    """A torch tensor again, in the checker (it travelled as its NumPy array)."""
    import torch

    return torch.from_numpy(np.array(array))


class Replay:
    """Legacy: a student's ``tf.data.Dataset`` in the checker; each iteration replays the next recorded pass."""

    def __init__(self, passes: list[list]) -> None:
        self.passes, self.count = passes, 0

    def __iter__(self):
        import tensorflow as tf

        epoch = self.passes[min(self.count, len(self.passes) - 1)]
        self.count += 1
        return iter([tf.nest.map_structure(tf.constant, e) for e in epoch])


class _Plain(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not plain data")
        return super().find_class(module, name)


class NotPlain(TypeError):
    """A student's function returned something that is not plain data."""


class _PlainPickler(pickle.Pickler):
    """The sandbox's side: tensors as arrays, anything else that is not plain data refused with its type."""

    def reducer_override(self, obj: Any) -> Any:
        kind, torch = type(obj), sys.modules.get("torch")
        if kind in (OrderedDict, complex, bytearray, set, frozenset) or isinstance(
            obj, (np.generic, np.dtype)
        ):
            return NotImplemented
        if kind is np.ndarray and not obj.dtype.hasobject:
            return NotImplemented
        if (getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)) in _ALLOWED:
            return NotImplemented  # the rebuilders named by the reductions of the above
        if torch is not None and isinstance(obj, torch.Tensor):
            t = obj.detach().cpu()
            return _tensor, ((t.double() if t.dtype == torch.bfloat16 else t).numpy(),)
        if kind.__module__.startswith("tensorflow") and hasattr(obj, "element_spec"):  # legacy: tf.data
            return Replay, ([[_numpy(e) for e in obj.take(10_000)] for _ in range(3)],)
        if kind.__module__.startswith(("tensorflow", "keras")) and hasattr(obj, "numpy"):
            return np.asarray(obj.numpy()).__reduce__()
        raise NotPlain(f"a {kind.__name__}")


def _numpy(element: Any) -> Any:
    return tuple(map(_numpy, element)) if isinstance(element, tuple) else np.asarray(element)


def _dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    _PlainPickler(buffer, protocol=4).dump(value)
    return buffer.getvalue()


def _send(stream, payload: bytes) -> None:
    stream.write(struct.pack(">Q", len(payload)) + payload)
    stream.flush()


def _receive(stream, limit: int = 2**62) -> bytes:
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError("the other side closed the pipe")
    size = struct.unpack(">Q", header)[0]
    if size > limit:
        raise SandboxError(f"answered with {size / 2**20:.0f} MB (at most {limit / 2**20:.0f} MB)")
    return stream.read(size)


def _rng() -> tuple:
    """Legacy: the global random states (Python, NumPy, torch if imported), so a check's seed reaches the sandbox."""
    torch = sys.modules.get("torch")
    return random.getstate(), np.random.get_state(), torch.random.get_rng_state() if torch else None


def _set_rng(state: tuple) -> None:
    random.setstate(state[0])
    np.random.set_state(state[1])
    if state[2] is not None and "torch" in sys.modules:
        sys.modules["torch"].random.set_rng_state(state[2])


def _stateful(value: Any) -> bool:
    return hasattr(value, "state_dict") and hasattr(value, "load_state_dict")


def kill_tree(proc: subprocess.Popen, group: bool = False) -> None:
    """Kill ``proc`` and every process it started (ranks, torchrun), and with ``group`` its process group (it
    leads one), then reap it."""
    import psutil

    with contextlib.suppress(psutil.Error):
        for p in psutil.Process(proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                p.kill()
    if group:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, 9)
    proc.kill()
    proc.wait()


def _cap_files() -> None:  # in the child, after it became nobody, before Python starts
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))


@functools.cache
def drops_to_nobody() -> bool:
    """True when the grader runs as root and the user ``nobody`` can start this Python (it cannot when the
    interpreter lives under a private home folder, e.g. pyenv in /root): then sandboxes run as ``nobody``."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    probe = [sys.executable, "-c", "import numpy"]
    try:
        return subprocess.run(probe, user=65534, group=65534, extra_groups=[], cwd="/").returncode == 0
    except OSError:
        return False


class Sandbox:
    """One sandbox process holding the student's definitions, started again after it died or timed out."""

    def __init__(
        self, setup: str, definitions: list[str], call_timeout=60.0, as_nobody=False, failed=()
    ) -> None:
        self.setup = ("setup", setup, definitions, list(failed))  # failed: the submission's unparsable cells
        self.call_timeout, self.as_nobody, self.proc, self.starting = call_timeout, as_nobody, None, False

    def start(self) -> None:
        """Start the process and send it the setup; its answer is read by the first call (so the sandbox's
        imports run while the checker runs its own setup)."""
        self.close()
        self.folder = tempfile.mkdtemp(prefix="course_sandbox_")
        self.log = open(os.path.join(self.folder, ".output"), "w+b")  # noqa: SIM115 - closed in close()
        env = {k: v for k, v in os.environ.items() if k != "COURSE_CHECKS_LOG"}
        env.update(
            HOME=self.folder, TMPDIR=self.folder, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(sys.path)
        )
        nobody = {"user": 65534, "group": 65534, "extra_groups": []} if self.as_nobody else {}
        if self.as_nobody:
            shutil.chown(self.folder, user=65534, group=65534)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "course_tools.sandbox"], preexec_fn=_cap_files if os.name == "posix" else None,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, cwd=self.folder, env=env, **nobody,
        )  # fmt: skip
        self._send(self.setup)
        self.starting = True

    def _send(self, message: tuple) -> None:
        import cloudpickle

        try:
            _send(self.proc.stdin, cloudpickle.dumps(message))
        except OSError:
            raise SandboxError(f"the sandbox died ({self._last_words()})") from None

    def _answer(self, timeout: float) -> tuple[str, Any]:
        box: dict[str, Any] = {}

        def read() -> None:
            try:
                box["reply"] = _Plain(io.BytesIO(_receive(self.proc.stdout, REPLY_LIMIT))).load()
            except Exception as e:  # noqa: BLE001 - reported below
                box["error"] = e

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            raise SandboxError(f"did not return within {timeout:g} s")
        error = box.get("error")
        if isinstance(error, EOFError):
            self.proc.kill()  # (it may only have closed the pipe)
            raise SandboxError(f"the sandbox died (exit code {self.proc.wait()}; {self._last_words()})")
        if isinstance(error, SandboxError):
            raise error
        if error is not None or not isinstance(box["reply"], tuple) or len(box["reply"]) != 2:
            raise SandboxError(f"the sandbox answered with something that is not plain data ({error})")
        return box["reply"]

    def call(self, name: str, args: tuple, kwargs: dict, ranks: tuple | None = None) -> Any:
        """``name(*args, **kwargs)`` in the sandbox (or, with ``ranks=(world_size, launcher, timeout)``, the
        function run on that many processes); its value as plain data, or its exception re-raised."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            if self.starting:
                self.starting = False
                kind, message = self._answer(300)
                if kind != "ok":
                    raise SandboxError(f"the sandbox's setup failed: {message}")
            self._send(("call", name, args, kwargs, _rng(), ranks))
            kind, payload = self._answer(self.call_timeout if ranks is None else ranks[2] + 30)
        except SandboxError:
            self.close()
            raise
        if kind == "NotImplementedError":
            raise NotImplementedError(payload)
        if (
            kind != "ok"
        ):  # the student's exception by name (a RuntimeError, as checks expects RankFailedError)
            raise type(kind if kind.isidentifier() else "Error", (RuntimeError,), {})(payload)
        value, states, rng = payload
        for arg, state in zip(args, states, strict=False):  # legacy: models and optimizers updated in place
            if state is not None and _stateful(arg):
                arg.load_state_dict(state)
        _set_rng(rng)
        return value

    def _last_words(self) -> str:
        try:
            self.log.seek(0)
            lines = [ln for ln in self.log.read(1 << 20).decode(errors="replace").splitlines() if ln.strip()]
            return lines[-1][:160] if lines else "no output"
        except (OSError, ValueError):
            return "no output"

    def close(self) -> None:
        if self.proc is not None:
            kill_tree(self.proc)
            self.proc = None
            self.log.close()
            shutil.rmtree(self.folder, ignore_errors=True)


def stand_ins(definitions: list[str]) -> dict[str, types.FunctionType]:
    """The submission's top-level functions compiled but never run (no defaults, no decorators), for the checker
    to read which names they use (``checks.delegated_names``: does the learner call the lesson's code?)."""
    scope: dict[str, Any] = {"__name__": "__main__"}
    for source in definitions:
        try:
            code = compile(source, "<submission>", "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for c in code.co_consts:
            if isinstance(c, types.CodeType) and c.co_name.isidentifier() and not c.co_freevars:
                scope[c.co_name] = types.FunctionType(c, scope, c.co_name)
    return {k: v for k, v in scope.items() if isinstance(v, types.FunctionType)}


class Remote:
    """Stands in the checker for the student's function ``name``: calling it calls the sandbox. Its
    ``__wrapped__`` is the function's compiled code (:func:`stand_ins`), which ``checks.delegated_names`` reads."""

    def __init__(self, sandbox: Sandbox, name: str, code: types.FunctionType | None = None) -> None:
        self.sandbox, self.__name__ = sandbox, name
        if code is not None:
            self.__wrapped__ = code

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.sandbox.call(self.__name__, args, kwargs)

    def on_ranks(self, world_size: int, args: tuple, launcher: str, timeout: float) -> Any:
        """``checks.run_on_ranks`` of this function: the sandbox launches the ranks and returns plain data."""
        return self.sandbox.call(self.__name__, tuple(args), {}, ranks=(world_size, launcher, timeout))


def _serve() -> None:
    """The sandbox side: exec the setup and definitions, then answer calls until stdin closes."""
    stdin, reply_to = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the student's prints go to the log, never into the reply pipe
    sys.stdout = sys.stderr
    namespace: dict[str, Any] = {"__name__": "__main__"}
    while True:
        try:
            message = pickle.loads(_receive(stdin))
        except EOFError:
            return
        name = message[1] if message[0] == "call" else "setup"
        try:
            if message[0] == "setup":
                failed = message[3]  # the submission's cells that do not parse, then its statements that fail
                exec(compile(message[1], "<setup>", "exec"), namespace)
                for statement in message[2]:  # one by one: a broken statement costs only what needs it
                    try:
                        exec(compile(statement, "<submission>", "exec"), namespace)
                    except Exception as e:  # noqa: BLE001 - told when a missing function is called
                        failed.append(f"{statement.splitlines()[0][:60]!r}: {type(e).__name__}: {e}")
                reply: tuple = ("ok", None)
            else:
                _, name, args, kwargs, rng, ranks = message
                fn = namespace.get(name)
                if not callable(fn) and not failed:
                    raise NotImplementedError(f"the submission defines no function {name}()")
                if not callable(fn):
                    raise NameError(
                        f"no function {name}(): {len(failed)} definition(s) failed, e.g. {failed[0]}"
                    )
                _set_rng(rng)
                if ranks is None:
                    value = fn(*args, **kwargs)
                else:  # the student's worker on several processes, started from here
                    from course_utils import checks

                    value = checks.run_on_ranks(fn, ranks[0], args, launcher=ranks[1], timeout=ranks[2])
                reply = ("ok", (value, [a.state_dict() if _stateful(a) else None for a in args], _rng()))
            payload = _dumps(reply)
        except NotPlain as e:
            payload = _dumps(("TypeError", f"{name}() returned {e}: the grader takes numbers, arrays, lists"))
        except BaseException as e:  # noqa: BLE001 - every failure is an answer
            where = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == "<submission>"]
            payload = _dumps(
                (type(e).__name__, f"{e!s:.2000}" + (f" (line {where[-1]} of your code)" if where else ""))
            )
        _send(reply_to, payload)


if __name__ == "__main__":  # run as this module's own name, so that answers name its functions
    import course_tools.sandbox

    course_tools.sandbox._serve()
