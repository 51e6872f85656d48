"""The judge: compare an answer's observations with the reference's and say what differs.

Everything here reads plain data (see `minigpt.plain`) and runs where the student's code cannot
reach it: in the grader's own process when a class is graded (in Colab, in the student's kernel,
for immediate feedback). The first difference becomes the task's message; a catalogued mistake is
named only when it fails the same check with the same message.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from minigpt.checks import ExerciseCheckFailed, expect_close, expect_shape
from minigpt.plain import Opaque
from minigpt.probes.spec import NOTHING, Case, TaskSpec

MAX_MESSAGE = 800  # characters: a message is a reason, not a dump


def kind_of(value: Any) -> str:
    """How a message names the type of a value."""
    if isinstance(value, torch.Tensor):
        return "tensor"
    if isinstance(value, Opaque):
        return value.type_name
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "str", list: "list", tuple: "tuple", dict: "dict"}.get(
        type(value), type(value).__name__
    )


def short(value: Any) -> str:
    """A value as a message shows it: small things in full, big things by their size."""
    if isinstance(value, torch.Tensor):
        if value.numel() <= 8 and not value.is_meta:
            return repr(value.tolist())
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple, dict)) and len(value) > 8:
        return f"a {kind_of(value)} of {len(value)} items"
    if isinstance(value, Opaque):
        return f"a {value.type_name}"
    text = repr(value)
    return text if len(text) <= 60 else f"a {kind_of(value)}"


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def fail(message: str) -> None:
    raise ExerciseCheckFailed(message)


def same_kind(got: Any, want: Any, what: str) -> None:
    """The right type, and for a tensor the right shape; a tuple may come back as a list."""
    if isinstance(want, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            fail(f"{what}: expected a tensor, got {kind_of(got)}")
        expect_shape(got, want.shape, what)
    elif isinstance(want, bool):
        if not isinstance(got, bool):
            fail(f"{what}: expected True or False, got {kind_of(got)}")
    elif isinstance(want, float):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            fail(f"{what}: expected a float, got {kind_of(got)}")
    elif isinstance(want, int):
        if isinstance(got, bool) or not isinstance(got, int):
            fail(f"{what}: expected an int, got {kind_of(got)}")
    elif isinstance(want, tuple):
        if not isinstance(got, (tuple, list)):
            fail(f"{what}: expected a tuple of {len(want)}, got {kind_of(got)}")
        if len(got) != len(want):
            fail(f"{what}: expected {_items(len(want))}, got {len(got)}")
    elif want is not None and type(got) is not type(want):
        fail(f"{what}: expected a {kind_of(want)}, got {kind_of(got)}")


def same_value(
    got: Any,
    want: Any,
    what: str,
    atol: float = 1e-4,
    rtol: float = 1e-4,
    exact_dtype: bool = False,
) -> None:
    """`got` equals `want`: tensors within tolerance in any dtype (unless `exact_dtype`),
    floats within tolerance, everything else exactly, containers item by item."""
    same_kind(got, want, what)
    if isinstance(want, torch.Tensor):
        if exact_dtype and got.dtype != want.dtype:
            fail(f"{what}: expected dtype {want.dtype}, got {got.dtype}")
        if want.is_meta or got.is_meta:
            if got.is_meta != want.is_meta:
                fail(f"{what}: expected a tensor on device {want.device}, got {got.device}")
            return
        expect_close(got, want, what, atol=atol, rtol=rtol)
    elif isinstance(want, float):
        if not (math.isclose(got, want, rel_tol=rtol, abs_tol=atol) or got == want):
            fail(f"{what}: expected {want:.6g}, got {got:.6g}")
    elif isinstance(want, (list, tuple)):
        if len(got) != len(want):
            fail(f"{what}: expected {_items(len(want))}, got {len(got)}")
        for index, (mine, theirs) in enumerate(zip(got, want, strict=True)):
            same_value(mine, theirs, f"{what}, item {index}", atol, rtol, exact_dtype)
    elif isinstance(want, dict):
        missing = [k for k in want if k not in got]
        extra = [k for k in got if k not in want]
        if missing or extra:
            problem = f"missing {short(missing[0])}" if missing else f"unexpected {short(extra[0])}"
            fail(f"{what}: the keys differ from the reference ({problem})")
        for key, theirs in want.items():
            same_value(got[key], theirs, f"{what}[{short(key)}]", atol, rtol, exact_dtype)
    elif got != want:
        fail(f"{what}: expected {short(want)}, got {short(got)}")


def explain_error(spec: TaskSpec, case: Case, info: dict) -> str:
    """An exception raised by the answer, as a message a student can act on."""
    where = info.get("where")
    name = where[0] if where and where[0] in spec.functions else spec.functions[0]
    kind, message = info.get("type", "Exception"), str(info.get("message", ""))
    if kind == "NotImplementedError":
        return f"{name} is not written yet: replace `raise NotImplementedError()` with your code"
    if kind == "WithheldReference":
        return f"{name} {message}"
    first = message.strip().splitlines()[0] if message.strip() else ""
    lines = [f"{case.what}: {name} raised {kind}" + (f": {first}" if first else "")]
    if where:
        function, line, text = where
        lines.append(f"  at line {line} of {function}" + (f": {text}" if text else ""))
    if spec.promise:
        lines.append(f"  the task asks: {spec.promise}")
    return "\n".join(lines)


def _views(case: Case, got: Any, want: Any) -> None:
    for kind, label, view in case.views:
        what = f"{case.what}: {label}"
        if kind == "holds":
            try:
                holds = bool(view(got))
            except Exception as error:  # a wrong answer can break the check itself
                fail(f"{what} (the check could not read the result: {type(error).__name__})")
            if not holds:
                fail(what)
        elif want is not None:
            try:
                mine = view(got)
            except Exception as error:
                fail(f"{what} (the check could not read the result: {type(error).__name__})")
            same_value(mine, view(want), what, case.atol, case.rtol)


def judge_call(spec: TaskSpec, case: Case, mine: dict, expected: dict | None) -> None:
    """The plain case: the call's result against the reference's, with the case's own checks."""
    if case.error is not None:
        error, mentions = case.error
        info = mine.get("error")
        if info is None:
            fail(f"{case.what}: expected a {error.__name__}, but nothing was raised")
        if error.__name__ not in info.get("bases", ()):
            fail(
                f"{case.what}: expected a {error.__name__}, got {info.get('type')}: "
                f"{str(info.get('message'))[:120]}"
            )
        missing = [text for text in mentions if text not in str(info.get("message", ""))]
        if missing:
            fail(
                f"{case.what}: the message {str(info.get('message'))[:120]!r} should say what "
                f"was expected and what arrived (it does not mention {' or '.join(missing)})"
            )
        return
    if "error" in mine:
        fail(explain_error(spec, case, mine["error"]))
    got = mine.get("result")
    want = None if expected is None else expected.get("result")
    model = want if expected is not None else case.expected
    if model is not NOTHING:
        same_kind(got, model, case.what)
    _views(case, got, want)
    if case.expected is not NOTHING:
        same_value(got, case.expected, case.what, case.atol, case.rtol, case.exact_dtype)
    if expected is not None:
        same_value(got, want, case.what, case.atol, case.rtol, case.exact_dtype)
    if spec.keeps_inputs:
        _unchanged(spec, case, mine.get("arguments after", {}))


def _unchanged(spec: TaskSpec, case: Case, after: dict) -> None:
    """The task says its inputs come back as they were: compare each with the case's own."""
    before = case.fresh_inputs()
    args, kwargs = list(after.get("args") or ()), dict(after.get("kwargs") or {})
    pairs = [
        (f"argument {i + 1}", value, args[i] if i < len(args) else None)
        for i, value in enumerate(before.get("args", ()))
    ]
    pairs += [(f"argument {k}", v, kwargs.get(k)) for k, v in before.get("kwargs", {}).items()]
    for label, old, new in pairs:
        try:
            same_value(new, old, label)
        except ExerciseCheckFailed:
            fail(
                f"{case.what}: {spec.functions[0]} changed its {label} in place; the task says "
                "to leave its inputs as they are (build a new list or tensor instead)"
            )


def judge_case(spec: TaskSpec, case: Case, mine: dict, expected: dict | None) -> None:
    """Raise ExerciseCheckFailed with the first problem of one case's observations."""
    if "missing" in mine:
        fail(f"{mine['missing']} is not defined: run the cell with your answer")
    kind = spec.kind(case.kind)
    if case.kind == "call" and kind.judge is None:
        judge_call(spec, case, mine, expected)
    elif kind.judge is not None:
        if "error" in mine:
            fail(explain_error(spec, case, mine["error"]))
        kind.judge(case, mine, expected)
        _views(case, mine, expected)
    else:
        if "error" in mine:
            fail(explain_error(spec, case, mine["error"]))
        for key, want in (expected or {}).items():
            same_value(mine.get(key), want, f"{case.what}: {key}", case.atol, case.rtol)
        _views(case, mine, expected)


def first_failure(
    spec: TaskSpec,
    cases: Sequence[Case],
    observations: Sequence[Any],
    expectations: Sequence[dict | None],
) -> tuple[int, str] | None:
    """(index of the first failing case, its message), or None when every case passes."""
    for index, (case, mine, expected) in enumerate(
        zip(cases, observations, expectations, strict=False)
    ):
        if not isinstance(mine, dict):
            return index, f"{case.what}: the checks received no result (the probe did not run)"
        try:
            judge_case(spec, case, mine, expected)
        except ExerciseCheckFailed as failure:
            return index, str(failure)
        except Exception as error:  # a judge reading a malformed result must not crash grading
            return (
                index,
                f"{case.what}: the checks could not use what your code returned "
                f"({type(error).__name__}: {str(error)[:120]})",
            )
    if len(observations) < len(cases):
        return len(observations), f"{cases[len(observations)].what}: no result came back"
    return None


def signature(message: str) -> str:
    """What two failures must share to be the same failure: the first line of the message."""
    return message.strip().splitlines()[0] if message.strip() else ""


def named(message: str, mistakes: Sequence[Any]) -> str:
    """The failure message, with the known mistakes that reproduce it, within MAX_MESSAGE."""
    if not mistakes:
        return cap(message)
    if len(mistakes) == 1:
        hint = f"\n\nThis looks like a known mistake: {mistakes[0].name}.\n{mistakes[0].hint}"
    else:
        listed = "\n".join(f"- {m.name}: {m.hint}" for m in mistakes[:3])
        hint = f"\n\nThis behaves like one of these known mistakes:\n{listed}"
    room = max(200, MAX_MESSAGE - len(hint))
    return cap(cap(message, room) + hint)


def cap(message: str, limit: int = MAX_MESSAGE) -> str:
    return message if len(message) <= limit else message[: limit - 2].rstrip() + " …"


def agree(mine: Any, theirs: Any) -> bool:
    """Whether two observations of one case are the same behaviour (an error: the same one)."""
    if (
        isinstance(mine, dict)
        and isinstance(theirs, dict)
        and ("error" in mine or "error" in theirs)
    ):
        first, second = mine.get("error") or {}, theirs.get("error") or {}
        return (first.get("type"), first.get("message")) == (
            second.get("type"),
            second.get("message"),
        )
    try:
        same_value(mine, theirs, "")
    except Exception:
        return False
    return True


def reproducing(
    spec: TaskSpec,
    cases: Sequence[Case],
    failure: tuple[int, str],
    mistakes: Sequence[Any],
    observe: Callable[[Any], Sequence[Any]],
    expectations: Sequence[dict | None],
    observations: Sequence[Any],
) -> list:
    """The mistakes that fail the same case with the same message and behave there exactly as
    the answer did: only such a mistake is named. `observe(mistake)` runs a mistake on the
    cases up to the failing one (it may be cached)."""
    index, message = failure
    found = []
    for mistake in mistakes:
        try:
            theirs = observe(mistake)
        except Exception:  # a catalogue entry that cannot run here names nothing
            continue
        again = first_failure(spec, cases[: index + 1], theirs, expectations[: index + 1])
        if (
            again is not None
            and again[0] == index
            and signature(again[1]) == signature(message)
            and agree(observations[index], theirs[index])
        ):
            found.append(mistake)
    return found
