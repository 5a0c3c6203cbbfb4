"""Every exercise check PASSes the solution, says only "not attempted" for the student version's blank stub, and
FAILs plausible wrong answers, with a hint to the mistake.

``tests/wrong_answers/nbNN.py`` holds, per notebook, ``WRONG = {function name: [(why it is plausible,
source of the whole wrong def[, words this answer's message must contain]), ...]}`` (at least two per exercise)
and optionally ``HINT_WORDS = {function name: [words]}`` that every failing message must contain. ``tests/wrong_answers/_runner.py`` runs
the solution notebook's exercise section in one fresh interpreter per notebook and tries each answer.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "wrong_answers"
WITH_EXERCISES = [
    p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) if "BEGIN SOLUTION" in p.read_text()
]
#: Prefixes of notebooks being rewritten: without a data file they are skipped (with one, they are tested).
PENDING: set[str] = set()
#: Notebooks whose run takes more than ~20 s (TensorFlow, Keras layers).
SLOW: set[str] = set()
MIN_WRONG = 2


def _params():
    for path in WITH_EXERCISES:
        marks = [pytest.mark.slow] if path.name[:2] in SLOW else []
        yield pytest.param(path, id=path.name[:2], marks=marks)


def _describe(results: list[dict]) -> str:
    return "; ".join(
        f"{r['name']}: {'PASS' if r['passed'] else 'FAIL'} {r.get('error') or r.get('message', '')}"
        for r in results
    )


@pytest.mark.parametrize("notebook", list(_params()))
def test_checks_fail_wrong_answers(notebook: Path):
    data_file = DATA / f"nb{notebook.name[:2]}.py"
    if not data_file.is_file():
        if notebook.name[:2] in PENDING:
            pytest.skip(f"{notebook.name} is being rewritten; {data_file.name} comes after it")
        pytest.fail(f"no wrong answers for {notebook.name}: add {data_file.relative_to(ROOT)}")
    data = runpy.run_path(str(data_file))
    hint_words: dict[str, list[str]] = data.get("HINT_WORDS", {})

    env = {k: v for k, v in os.environ.items() if k != "COURSE_CHECKS_LOG"}
    env.update(MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, str(DATA / "_runner.py"), str(notebook), str(data_file)],
        cwd=notebook.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"the runner failed:\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    exercises = report["exercises"]

    problems = [f"{name}: in {data_file.name} but no answer cell defines it" for name in report["unknown"]]
    problems += [f"{name}: in HINT_WORDS but not an exercise" for name in set(hint_words) - set(exercises)]
    for name, entry in exercises.items():
        solution = entry["solution"]
        if not solution or not all(r["passed"] for r in solution):
            problems.append(f"{name}: the solution does not PASS its check ({_describe(solution)})")
        stub = entry["stub"]  # the student version, unattempted: "not attempted" and nothing else
        if not stub or any(r["passed"] or r.get("message") != "not attempted" for r in stub):
            problems.append(f"{name}: the blank stub must print only 'not attempted' ({_describe(stub)})")
        if len(entry["wrong"]) < MIN_WRONG:
            problems.append(
                f"{name}: {len(entry['wrong'])} wrong answers in {data_file.name}, need {MIN_WRONG}"
            )
        own_words = {
            entry[0]: list(entry[2]) for entry in data.get("WRONG", {}).get(name, []) if len(entry) > 2
        }
        for wrong in entry["wrong"]:
            results = wrong["results"]
            if any("error" in r for r in results):
                problems.append(f"{name} [{wrong['why']}]: the check cell raised: {_describe(results)}")
            elif not results or all(r["passed"] for r in results):
                problems.append(f"{name} [{wrong['why']}]: the check ACCEPTS this wrong answer")
            else:
                message = " ".join(r["message"] for r in results if not r["passed"]).lower()
                wanted = hint_words.get(name, []) + own_words.get(wrong["why"], [])
                missing = [w for w in wanted if w.lower() not in message]
                if missing:
                    problems.append(
                        f"{name} [{wrong['why']}]: the message lacks {missing}: {_describe(results)}"
                    )
    assert not problems, "\n".join(problems)


def test_every_data_file_has_its_notebook():
    prefixes = {p.name[:2] for p in WITH_EXERCISES}
    stray = [p.name for p in sorted(DATA.glob("nb*.py")) if p.stem[2:] not in prefixes]
    assert not stray, f"wrong answers for notebooks without exercises: {stray}"
