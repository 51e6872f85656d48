"""The probe: run an answer on each case's inputs and write down what it did, as plain data.

This side runs where the student's code runs, so nothing here decides anything: it only calls
and records. An exception inside the answer is recorded too (its type, message and the line of
the answer it came from), so the judge can explain it.
"""

from __future__ import annotations

import hashlib
import json
import linecache
import random
import traceback
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch

from minigpt.checks import swapped
from minigpt.plain import from_plain, to_plain
from minigpt.probes.spec import Answer, TaskSpec

MAX_MESSAGE = 500


def _code_files(functions: Mapping[str, Any]) -> set[str]:
    """The files (notebook cells) the answer's functions and methods were compiled from."""
    files = set()
    for value in functions.values():
        members = vars(value).values() if isinstance(value, type) else [value]
        for member in members:
            member = getattr(member, "__func__", member)
            code = getattr(member, "__code__", None)
            if isinstance(code, types.CodeType):
                files.add(code.co_filename)
    return files


def error_info(error: BaseException, functions: Mapping[str, Any]) -> dict:
    """What the judge needs to explain an exception: its kind, its words, where in the answer."""
    files = _code_files(functions)
    where = None
    for frame, lineno in traceback.walk_tb(error.__traceback__):
        code = frame.f_code
        if code.co_filename in files:
            text = linecache.getline(code.co_filename, lineno).strip()
            where = [code.co_name, lineno - code.co_firstlineno + 1, text[:200]]
    return {
        "type": type(error).__name__,
        "bases": [cls.__name__ for cls in type(error).__mro__],
        "message": str(error)[:MAX_MESSAGE],
        "where": where,
    }


def fingerprint(inputs: Any) -> str:
    """A digest of a case's inputs as the answer is about to get them: the grader compares it
    with its own, so inputs changed on the way (a patched decoder, say) show."""
    text = json.dumps(to_plain(inputs), sort_keys=True, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@contextmanager
def _global_randomness_fixed(seed: int = 0) -> Iterator[None]:
    """An answer that ignores the generator it is given draws from the global generators. Fixed
    for each case, it draws the same in the sandbox as when the grader replays a catalogued
    mistake, so the mistake can be named. The caller's own random state comes back afterwards."""
    state = random.getstate()
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        torch.default_generator.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(state)


def run_cases(
    spec: TaskSpec,
    namespace: dict,
    cases: list[dict],
    pieces: Mapping[str, Any] | None = None,
) -> list[Any]:
    """Run the answer found in `namespace` on every case; returns one plain record per case,
    {"seen": the fingerprint of the inputs it got, "observed": what it did, as plain data}.

    `cases` are plain data: {"kind": ..., "inputs": ...}. `pieces` stand in for the earlier
    answers this task calls, for the length of the run. A missing function is recorded as such.
    """
    functions = {name: namespace.get(name) for name in spec.functions}
    missing = [name for name, value in functions.items() if value is None]
    if missing:
        return [{"seen": "", "observed": to_plain({"missing": missing[0]})} for _ in cases]
    answer = Answer(functions, spec.functions)
    records = []
    with swapped(namespace, dict(pieces or {})):
        for case in cases:
            seen = ""
            try:
                inputs = from_plain(case["inputs"])
                seen = fingerprint(inputs)
                with _global_randomness_fixed():
                    observed = spec.kind(case["kind"]).run(answer, **inputs)
            except Exception as error:  # the answer's own error is part of what it did
                observed = {"error": error_info(error, functions)}
            records.append({"seen": seen, "observed": to_plain(observed)})
    return records
