"""``make portable``: run the proof notebooks under other CPU kernels and thread counts; print a table.

A proof that holds only with this machine's vector instructions and thread count proves nothing for a learner
with another CPU. Each configuration below changes what the arithmetic is made of without changing what it
means: ATen's kernels for another instruction set (``ATEN_CPU_CAPABILITY``; it can only *lower* the level the
CPU offers, so on an AVX2 machine ``avx2`` is the native kernel set, which the table says), oneDNN's
convolutions and matrix products for SSE4.1 (``ONEDNN_MAX_CPU_ISA``; PyTorch's and TensorFlow's, which ATen's
setting does not reach), TensorFlow without oneDNN on one intra-op thread (``TF_ENABLE_ONEDNN_OPTS=0``,
``TF_NUM_INTRAOP_THREADS=1``), and other thread counts for the notebook's own process (the
worker processes of ``launch.run`` keep theirs, so a reference computed in the notebook and the ranks differ).
PyTorch caps its default thread count at the number of cores whatever ``OMP_NUM_THREADS`` says, so a count
above it is set by an IPython start-up file (``torch.set_num_threads``) in a temporary ``IPYTHONDIR``. Every notebook runs top to
bottom in a fresh kernel with that environment, under nbval as ``make test`` runs it: a failed ``assert`` is a
proof that does not hold there, and a ``# NBVAL_CHECK_OUTPUT`` cell that prints something else is a claim that
depends on the machine.

    python -m course_tools.portable [--configs isa-default threads-3] [--only 05 09] [--timeout 900]

Writes the table to ``build/portable.json``. Exit
status 1 if any notebook failed under any configuration. ``make test`` itself runs its notebooks under
``isa-default`` (see the Makefile), so CI checks one configuration on every run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from course_utils.paths import BUILD, NOTEBOOKS, ROOT

#: name -> environment changes. The notebooks' committed outputs come from the native configuration.
CONFIGS: dict[str, dict[str, str]] = {
    "isa-default": {"ATEN_CPU_CAPABILITY": "default"},
    "isa-avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "threads-1": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    "threads-3": {"OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3", "COURSE_PORTABLE_THREADS": "3"},
    "onednn-sse41": {"ONEDNN_MAX_CPU_ISA": "SSE41"},
    "tf-eigen": {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_NUM_INTRAOP_THREADS": "1"},
}

#: the notebooks whose asserts compare two computations (from scratch == framework, N ranks == 1 process, ...)
PROOF_NOTEBOOKS = ("01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "13", "14", "15")
#: a configuration that changes only TensorFlow runs only the notebooks that use it
ONLY = {"tf-eigen": ("01", "02", "03", "04", "06", "07", "11", "15")}


#: run at the start of every kernel (and of :func:`capability`'s process)
STARTUP = """import os
if os.environ.get("COURSE_PORTABLE_THREADS"):
    import torch
    torch.set_num_threads(int(os.environ["COURSE_PORTABLE_THREADS"]))
"""


def _kernel_env(env: dict[str, str], ipython_dir: str) -> dict[str, str]:
    startup = Path(ipython_dir) / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-portable.py").write_text(STARTUP)
    return {**os.environ, **env, "IPYTHONDIR": ipython_dir}


def capability(env: dict[str, str]) -> str:
    """ATen's kernel set and thread count that a process started with ``env`` really uses."""
    code = STARTUP + "import torch; print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())"
    out = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    kernels, threads = (out.stdout.split() + ["?", "?"])[:2]
    return f"{kernels}, {threads} thread(s)"


def run_one(path: Path, name: str, env: dict[str, str], timeout: int) -> dict:
    """Run one notebook under ``env`` as ``make test`` does (nbval: every cell runs, every assert holds, and
    every ``# NBVAL_CHECK_OUTPUT`` cell prints its committed output); status, seconds, the first failure."""
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-x", str(path), "-p", "no:cacheprovider", "--nbval-lax",
        "--nbval-current-env", "--nbval-sanitize-with", str(ROOT / "tests" / "sanitize.cfg"),
        "--nbval-cell-timeout", str(timeout), "-o", "addopts=", "--rootdir", str(ROOT),
    ]  # fmt: skip
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="course_ipython_") as ipython_dir:
        full_env = _kernel_env(env, ipython_dir)
        proc = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    error = ""
    if proc.returncode != 0:  # the exception's own line ("AssertionError: ..."), or nbval's mismatch report
        lines = [ln.strip() for ln in re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr).splitlines()]
        raised = [ln for ln in lines if re.match(r"[\w.]*(Error|Exception): ", ln)]
        differs = [ln for ln in lines if re.search(r"differ|mismatch", ln, re.IGNORECASE)]
        error = ((raised or differs)[-1:] or [ln for ln in lines if ln][-1:] or ["?"])[0][:200]
    return {
        "status": "ok" if proc.returncode == 0 else "FAILED",
        "seconds": round(seconds, 1),
        "error": error,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m course_tools.portable", description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--only", nargs="*", help="notebook prefixes (default: the proof notebooks)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    args = ap.parse_args(argv)
    prefixes = args.only or PROOF_NOTEBOOKS
    paths = [p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) if p.name[:2] in prefixes]
    if not paths:
        print("no notebooks matched", file=sys.stderr)
        return 1
    table: dict[str, dict] = {}
    for name in args.configs:
        env = CONFIGS[name]
        kernels = capability(env)
        print(f"==> {name}: {' '.join(f'{k}={v}' for k, v in env.items())} -> ATen {kernels}", flush=True)
        table[name] = {"env": env, "aten": kernels, "notebooks": {}}
        for path in (p for p in paths if p.name[:2] in ONLY.get(name, p.name[:2])):
            row = run_one(path, name, env, args.timeout)
            table[name]["notebooks"][path.name] = row
            print(
                f"  {path.name:<38} {row['status']:<6} {row['seconds']:>6.1f} s  {row['error']}", flush=True
            )
    print("\nnotebook".ljust(40) + "".join(f"{n:>13}" for n in table))
    for path in paths:
        cells = "".join(
            f"{table[n]['notebooks'].get(path.name, {'status': '-'})['status']:>13}" for n in table
        )
        print(f"{path.name:<39}{cells}")
    print("ATen kernels".ljust(39) + "".join(f"{table[n]['aten'].split(',')[0]:>13}" for n in table))
    BUILD.mkdir(exist_ok=True)
    (BUILD / "portable.json").write_text(json.dumps(table, indent=1))
    failed = [(n, nb) for n in table for nb, r in table[n]["notebooks"].items() if r["status"] != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
