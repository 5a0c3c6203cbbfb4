"""course_utils.checks: pass/fail lines, hints, stubs, logging for the grader."""

from __future__ import annotations

import json

import numpy as np
import torch

from course_utils import checks


def square(x):
    return x * x


def stub(x):
    raise NotImplementedError()


def buggy(x):
    return [x][2]


def test_pass_prints_and_returns_true(capsys):
    r = checks.check_function("ex-square", square, [((2,), 4), ((np.arange(3),), np.array([0, 1, 4]))])
    assert r.passed and bool(r)
    assert capsys.readouterr().out.startswith("PASS ex-square")


def test_wrong_answer_names_case_and_hint(capsys):
    r = checks.check_function("ex", lambda x: x + x, [((2,), 4), ((3,), 9)], hint="multiply, don't add")
    out = capsys.readouterr().out
    assert not r.passed
    assert out.startswith("FAIL ex: case 2/2") and "expected 9" in out and "Hint: multiply" in out


def test_stub_is_not_attempted_and_nothing_else(capsys):
    assert not checks.check_function("ex", stub, [((1,), 1)], hint="the secret formula")
    assert not checks.check_predicate("p", lambda: stub(1), lambda v: True, hint="the secret formula")
    assert capsys.readouterr().out.splitlines() == ["FAIL ex: not attempted", "FAIL p: not attempted"]


def test_a_failing_case_shows_its_own_hint(capsys):
    cases = [{"args": (2,), "expected": 4}, {"args": (3,), "expected": 9, "hint": "odd numbers too"}]
    assert not checks.check_function("ex", lambda x: 4, cases, hint="general")
    out = capsys.readouterr().out
    assert "case 2/2" in out and "Hint: odd numbers too" in out and "general" not in out


def lesson_square(x):
    return x * x


def delegating(x):
    return lesson_square(x)


def via_helper(x):
    return delegating(x)


def test_delegation_to_the_lessons_code_fails_before_running(capsys):
    forbid = ("lesson_square",)
    assert not checks.check_function("ex", delegating, [((3,), 9)], forbid=forbid)
    assert "calls lesson_square from the lesson" in capsys.readouterr().out
    assert checks.delegated_names(via_helper, forbid) == ["lesson_square"]  # through the learner's own helper
    assert checks.delegated_names(lambda x: np.square(x), forbid) == []  # a library is fine
    assert checks.check_function("ok", lambda x: x * x, [((3,), 9)], forbid=forbid)

    def uses_module_attribute(x):
        return checks.lesson_square(x)  # reached as an attribute of a module: still the lesson's code

    assert checks.delegated_names(uses_module_attribute, forbid) == ["lesson_square"]
    assert not checks.check_predicate("p", lambda: 9, lambda v: v == 9, forbid=forbid, target=delegating)


def test_student_exception_does_not_propagate(capsys):
    assert not checks.check_function("ex", buggy, [((1,), 1)])
    assert "IndexError" in capsys.readouterr().out


def test_shapes_tensors_and_tuples():
    assert checks.check_function("t", lambda: torch.ones(2), [((), np.ones(2))])
    assert not checks.check_function("s", lambda: np.ones(3), [((), np.ones(2))])
    assert checks.check_function("tu", lambda: (1, np.zeros(2)), [((), (1, [0.0, 0.0]))])
    assert not checks.check_function("tu2", lambda: (1,), [((), (1, 2))])


def test_predicate_with_message(capsys):
    assert checks.check_predicate("p", lambda: 5, lambda v: v > 3)
    r = checks.check_predicate("q", lambda: 1, lambda v: (v > 3, f"{v} is too small"), hint="bigger")
    assert not r and "1 is too small. Hint: bigger" in capsys.readouterr().out


def test_log_file_for_grading(tmp_path, monkeypatch):
    log = tmp_path / "checks.jsonl"
    monkeypatch.setenv("COURSE_CHECKS_LOG", str(log))
    checks.check_function("a", square, [((3,), 9)])
    checks.check_function("b", stub, [((3,), 9)])
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["name"], r["passed"]) for r in rows] == [("a", True), ("b", False)]
