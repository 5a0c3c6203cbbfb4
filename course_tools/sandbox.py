"""Run a student's functions in a separate process and get back only plain data (used by ``grade``).

The grader's checker process never executes student code. It starts ``python -m course_tools.sandbox`` (a
fresh interpreter, in its own temporary folder, as the user ``nobody`` when the grader runs as root, with a
cap on the size of files it may write), sends it the instructor's setup code and the student's definitions,
and then calls the student's functions through :class:`Remote` proxies. Arguments travel to the sandbox by
pickle (the grader's own data); results come back as JSON built by :func:`encode` from numbers, strings,
lists, tuples, dicts and numeric NumPy arrays / torch tensors only, so nothing the student returns or
prints can run code in the checker or reach the grade. A call that does not return within its time limit,
or a sandbox that dies, is an error the check reports as a failure; the sandbox is then started afresh.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import traceback
from typing import Any

import numpy as np

#: Largest file the student's code may write (bytes): a print loop of 100 MB ends the sandbox, not the disk.
FILE_LIMIT = 32 * 2**20
#: Characters of the sandbox's own output kept for a message.
OUTPUT_KEPT = 2000


class SandboxError(RuntimeError):
    """The sandbox died, timed out, or answered with something that is not plain data."""


def encode(value: Any) -> Any:
    """``value`` as JSON-ready plain data; raises TypeError for anything else."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        return value.item()
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        return {"__tensor__": encode(value.detach().cpu().numpy())}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            raise TypeError(f"an array of dtype {value.dtype} (only numeric arrays can be graded)")
        data = value.copy(order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        return {
            "__array__": base64.b64encode(data.tobytes()).decode(),
            "dtype": data.dtype.str,
            "shape": list(data.shape),
        }
    if type(value).__module__.startswith("tensorflow") and hasattr(
        value, "element_spec"
    ):  # a tf.data.Dataset
        return {
            "__dataset__": [
                [encode(_numpy(e)) for e in value.take(DATASET_LIMIT)] for _ in range(DATASET_EPOCHS)
            ]
        }
    if isinstance(value, (list, tuple)):
        return {"__tuple__" if isinstance(value, tuple) else "__list__": [encode(v) for v in value]}
    if isinstance(value, dict):  # also state_dicts: OrderedDicts, int keys
        return {"__map__": [[encode(k), encode(v)] for k, v in value.items()]}
    raise TypeError(
        f"a {type(value).__name__} (the grader compares numbers, strings, arrays, tensors and lists)"
    )


def decode(data: Any) -> Any:
    """The inverse of :func:`encode`, building only plain data (never calls anything the data names)."""
    if not isinstance(data, dict):
        return data
    if "__array__" in data:
        dtype = np.dtype(data["dtype"])
        if dtype.kind not in "biufc":
            raise SandboxError(f"refused dtype {dtype}")
        return np.frombuffer(base64.b64decode(data["__array__"]), dtype=dtype).reshape(data["shape"]).copy()
    if "__tensor__" in data:
        import torch

        return torch.from_numpy(decode(data["__tensor__"]))
    if "__dataset__" in data:
        import tensorflow as tf

        return Replay(
            [[tf.nest.map_structure(tf.constant, decode(e)) for e in epoch] for epoch in data["__dataset__"]]
        )
    if "__tuple__" in data:
        return tuple(decode(v) for v in data["__tuple__"])
    if "__list__" in data:
        return [decode(v) for v in data["__list__"]]
    if "__map__" in data:
        return {_key(decode(k)): decode(v) for k, v in data["__map__"]}
    raise SandboxError("unknown data from the sandbox")


#: A ``tf.data.Dataset`` comes back as its first ``DATASET_EPOCHS`` passes of at most ``DATASET_LIMIT`` elements.
DATASET_EPOCHS, DATASET_LIMIT = 3, 10_000


def _numpy(element: Any) -> Any:
    """A dataset element (tensors, tuples, dicts of them) as NumPy."""
    if isinstance(element, (tuple, list)):
        return type(element)(_numpy(e) for e in element)
    if isinstance(element, dict):
        return {k: _numpy(v) for k, v in element.items()}
    return element.numpy() if hasattr(element, "numpy") else element


class Replay:
    """Stands in the checker for a student's ``tf.data.Dataset``: each iteration replays the next recorded pass."""

    def __init__(self, epochs: list[list]) -> None:
        self.epochs, self.passes = epochs, 0

    def __iter__(self):
        epoch = self.epochs[min(self.passes, len(self.epochs) - 1)]
        self.passes += 1
        return iter(epoch)


def _key(key: Any) -> Any:
    if isinstance(key, (list, dict)) or hasattr(key, "shape"):
        raise SandboxError("a dictionary key that is not a plain value")
    return key


def rng_state() -> dict:
    """The global random states a check may rely on (Python, NumPy, torch), as plain data."""
    import random

    state = {"python": list(random.getstate()[1]), "numpy": list(np.random.get_state())}
    if "torch" in sys.modules:
        state["torch"] = sys.modules["torch"].random.get_rng_state().numpy()
    return state


def set_rng_state(state: dict) -> None:
    """Set what :func:`rng_state` returned, so the sandbox draws the numbers the checker would have drawn."""
    import random

    random.setstate((3, tuple(state["python"]), None))
    np.random.set_state(tuple(state["numpy"]))
    if "torch" in state and "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.random.set_rng_state(torch.from_numpy(np.asarray(state["torch"], dtype=np.uint8)))


def _stateful(value: Any) -> bool:
    """A model or optimizer: the sandbox sends its state back, so that in-place updates reach the checker."""
    return hasattr(value, "state_dict") and hasattr(value, "load_state_dict")


def _send(stream, payload: bytes) -> None:
    stream.write(struct.pack(">Q", len(payload)) + payload)
    stream.flush()


def _receive(stream) -> bytes:
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError("the other side closed the pipe")
    return stream.read(struct.unpack(">Q", header)[0])


def _pickle(message: tuple) -> bytes:
    """The checker's arguments for the sandbox: cloudpickle where available, so that a class or function the
    instructor's setup cell defined travels by value."""
    try:
        import cloudpickle
    except ImportError:
        return pickle.dumps(message)
    return cloudpickle.dumps(message)


def _remote_error(kind: str, message: str) -> Exception:
    """An exception to raise in the checker: NotImplementedError stays itself (the check says "not
    attempted yet"); anything else gets the student's exception name."""
    if kind == "NotImplementedError":
        return NotImplementedError(message)
    return type(kind if kind.isidentifier() else "Error", (Exception,), {})(message)


def _as_nobody() -> None:
    os.setgid(65534)
    os.setuid(65534)


_NOBODY: list[bool] = []


def drops_to_nobody() -> bool:
    """True when the grader runs as root and the user ``nobody`` can start this Python (it cannot when the
    interpreter lives under a private home folder, e.g. pyenv in /root): then sandboxes run as ``nobody``."""
    if not _NOBODY:
        ok = hasattr(os, "geteuid") and os.geteuid() == 0
        if ok:
            try:  # nobody may not even be allowed to execute the interpreter
                probe = [sys.executable, "-c", "import numpy"]
                ok = (
                    subprocess.run(probe, preexec_fn=_as_nobody, cwd="/", capture_output=True).returncode == 0
                )
            except OSError:
                ok = False
        _NOBODY.append(ok)
    return _NOBODY[0]


class Sandbox:
    """A sandbox process holding the student's definitions (see the module docstring)."""

    def __init__(self, setup: str, definitions: list[str], call_timeout: float = 60.0) -> None:
        self.setup, self.definitions, self.call_timeout = setup, definitions, call_timeout
        self.proc: subprocess.Popen | None = None
        self.error = ""

    def start(self) -> None:
        self.close()
        self.folder = tempfile.mkdtemp(prefix="course_sandbox_")
        self.log = open(os.path.join(self.folder, ".output"), "w+b")  # noqa: SIM115 - closed in close()
        env = {k: v for k, v in os.environ.items() if k != "COURSE_CHECKS_LOG"}
        env.update(
            HOME=self.folder, TMPDIR=self.folder, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(sys.path)
        )
        as_nobody = drops_to_nobody()
        if as_nobody:
            shutil.chown(self.folder, user="nobody")

        def limits() -> None:  # runs in the child before Python starts
            import resource

            resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
            if as_nobody:
                _as_nobody()

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "course_tools.sandbox"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, cwd=self.folder, env=env,
            preexec_fn=limits if os.name == "posix" else None, start_new_session=True,
        )  # fmt: skip
        kind, message = self._request(("setup", self.setup, self.definitions), timeout=300)
        if kind != "ok":
            raise SandboxError(f"the submission's definitions do not run: {message}")

    def _request(self, message: tuple, timeout: float) -> tuple[str, Any]:
        import threading

        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        box: dict[str, Any] = {}

        def read() -> None:
            try:
                box["reply"] = _receive(self.proc.stdout)
            except Exception as e:  # noqa: BLE001 - reported below
                box["error"] = e

        try:
            _send(self.proc.stdin, _pickle(message))
        except (BrokenPipeError, OSError):
            raise SandboxError(f"the sandbox died ({self._last_words()})") from None
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            self.close()
            raise SandboxError(f"did not return within {timeout:g} s")
        if "error" in box:
            code = self.proc.wait(timeout=5) if self.proc else None
            self.close()
            raise SandboxError(f"the sandbox died (exit code {code}; {self._last_words()})")
        try:
            reply = json.loads(box["reply"].decode())
            return str(reply[0]), reply[1]
        except (ValueError, IndexError, UnicodeDecodeError):
            raise SandboxError("the sandbox answered with something that is not plain data") from None

    def call(self, name: str, args: tuple, kwargs: dict, ranks: tuple | None = None) -> Any:
        """``name(*args, **kwargs)`` in the sandbox (or, with ``ranks=(world_size, launcher, timeout)``, the
        function run on that many processes); its value as plain data, or its exception re-raised."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        limit = self.call_timeout if ranks is None else max(self.call_timeout, ranks[2] + 30)
        kind, payload = self._request(("call", name, args, kwargs, encode(rng_state()), ranks), limit)
        if kind != "ok":
            raise _remote_error(kind, str(payload))
        value, states, rng = payload
        for arg, state in zip(args, states, strict=False):  # models and optimizers the function updated
            if state is not None and _stateful(arg):
                arg.load_state_dict(decode(state))
        set_rng_state(decode(rng))
        return decode(value)

    def _last_words(self) -> str:
        try:
            self.log.seek(0)
            lines = [ln for ln in self.log.read(1 << 20).decode(errors="replace").splitlines() if ln.strip()]
            return lines[-1][:160] if lines else "no output"
        except (OSError, ValueError):
            return "no output"

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, 9)
                except (ProcessLookupError, PermissionError):
                    self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.log.close()
            shutil.rmtree(self.folder, ignore_errors=True)


class Remote:
    """Stands in the checker for the student's function ``name``: calling it calls the sandbox."""

    def __init__(self, sandbox: Sandbox, name: str) -> None:
        self.sandbox, self.__name__ = sandbox, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.sandbox.call(self.__name__, args, kwargs)
        except SandboxError as e:
            raise _remote_error("SandboxError", str(e)) from None

    def on_ranks(self, world_size: int, args: tuple, launcher: str, timeout: float) -> Any:
        """``checks.run_on_ranks`` of this function: the sandbox launches the ranks and returns plain data."""
        try:
            return self.sandbox.call(self.__name__, args, {}, ranks=(world_size, launcher, timeout))
        except SandboxError as e:
            raise _remote_error("SandboxError", str(e)) from None


def _serve() -> None:
    """The sandbox side: exec the setup and definitions, then answer calls until stdin closes."""
    stdin, reply_to = sys.stdin.buffer, os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # the student's prints go to the log, never into the reply pipe
    os.dup2(sys.stderr.fileno(), 1)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    failed: list[str] = []
    while True:
        try:
            message = pickle.loads(_receive(stdin))
        except EOFError:
            return
        try:
            if message[0] == "setup":
                exec(compile(message[1], "<setup>", "exec"), namespace)
                for statement in message[2]:  # one by one: a broken statement costs only what needs it
                    try:
                        exec(compile(statement, "<submission>", "exec"), namespace)
                    except Exception as e:  # noqa: BLE001 - told when a missing function is called
                        failed.append(f"{statement.splitlines()[0][:60]!r}: {type(e).__name__}: {e}")
                reply = ["ok", None]
            else:
                _, name, args, kwargs, rng, ranks = message
                if not callable(namespace.get(name)):
                    why = f" ({len(failed)} of its statements failed, e.g. {failed[0]})" if failed else ""
                    raise NameError(f"the submission defines no function {name}(){why}")
                set_rng_state(decode(rng))
                if ranks is None:
                    value = namespace[name](*args, **kwargs)
                else:  # the student's worker on several processes, started from here
                    from course_utils import checks

                    world_size, launcher, timeout = ranks
                    value = checks.run_on_ranks(
                        namespace[name], world_size, args, launcher=launcher, timeout=timeout
                    )
                states = [encode(a.state_dict()) if _stateful(a) else None for a in args]
                try:
                    reply = ["ok", [encode(value), states, encode(rng_state())]]
                except TypeError as e:
                    reply = ["TypeError", f"{name}() returned {e}"]
        except BaseException as e:  # noqa: BLE001 - every failure is an answer
            where = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == "<submission>"]
            line = f" (line {where[-1].lineno} of your code)" if where else ""
            reply = [type(e).__name__, f"{e}{line}"]
        _send(reply_to, json.dumps(reply).encode())


if __name__ == "__main__":
    _serve()
