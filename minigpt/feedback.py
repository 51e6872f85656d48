"""Feedback for exercise test cells: each task judged on its own, and failures that say why.

A test cell runs its checks inside `exercise.checking(grade_id)`. For the length of the block

- the task's answer is watched: every call is recorded (arguments, random state, result), and a
  PyTorch error raised inside it comes back as a message that names the line of the answer, the
  arguments it got and what the task promised;
- the earlier answers it builds on are replaced by minigpt's reference versions, so that one bug
  costs only the points of its own task;
- when a check fails, the known mistakes of the chapter's catalogue (`minigpt.mistakes`) are run
  on the recorded calls, and if one of them behaves exactly like the answer, the message names it.

The hints live in the package, so a student running a test cell in Colab reads the same words as
an instructor reading the graded feedback.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import linecache
import traceback
from dataclasses import dataclass
from types import TracebackType

import torch

from minigpt.checks import ExerciseCheckFailed, swapped
from minigpt.mistakes import Mistake, Task, catalogue


@dataclass
class Call:
    """One call of the student's answer: enough to make it again with another implementation."""

    name: str  # which of the task's functions
    arguments: tuple[tuple, dict]
    random_state: torch.Tensor
    result: object = None
    error: tuple[str, str] | None = None  # (exception type, message) when it raised
    arguments_after: tuple[tuple, dict] | None = None
    # For a module's forward pass: how the module was made, its weights, and its mode.
    module: tuple[tuple[tuple, dict], dict, bool] | None = None


def _snapshot(value):
    """A deep copy, so later changes (by the test or the answer) cannot rewrite the record.

    Gradients come along: copying an nn.Parameter leaves its .grad behind, and a training step
    that forgets to clear them only shows in what .grad held before.
    """
    memo: dict = {}
    try:
        copied = copy.deepcopy(value, memo)
    except Exception:  # an object that cannot be copied is compared as it is
        return value
    for original in memo.get(id(memo), []):
        twin = memo.get(id(original))
        if isinstance(original, torch.Tensor) and _gradient(original) is not None:
            twin.grad = original.grad.detach().clone()
    return copied


def _gradient(tensor: torch.Tensor) -> torch.Tensor | None:
    """A leaf tensor's gradient (only leaves keep one; asking others makes PyTorch warn)."""
    return tensor.grad if tensor.is_leaf else None


def describe(value) -> str:
    """A short description of an argument: shapes and dtypes, not thousands of numbers."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} ({str(value.dtype).replace('torch.', '')})"
    if isinstance(value, torch.nn.Module):
        return f"a {type(value).__name__} module"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"a {type(value).__name__} of {len(value)} items"
    if isinstance(value, str) and len(value) > 40:
        return f"a string of {len(value)} characters"
    text = repr(value)
    return text if len(text) <= 60 else f"a {type(value).__name__}"


def same(a, b, atol: float = 1e-4, rtol: float = 1e-4) -> bool:
    """Whether two results agree: tensors by shape and values, containers item by item."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False
        if a.shape != b.shape or a.is_floating_point() != b.is_floating_point():
            return False
        if a.is_meta or b.is_meta:  # shapes without values
            return a.is_meta == b.is_meta
        if (_gradient(a) is None) != (_gradient(b) is None):
            return False
        if _gradient(a) is not None and not same(a.grad, b.grad, atol, rtol):
            return False
        a, b = a.detach().cpu().double(), b.detach().cpu().double()
        return bool(torch.equal(torch.isinf(a), torch.isinf(b))) and torch.allclose(
            a, b, atol=atol, rtol=rtol, equal_nan=True
        )
    if isinstance(a, torch.nn.Module) or isinstance(b, torch.nn.Module):
        if type(a) is not type(b) or a.training != b.training:
            return False
        gradients = [[p.grad for p in module.parameters()] for module in (a, b)]
        return same(a.state_dict(), b.state_dict()) and same(*gradients)
    if isinstance(a, torch.optim.Optimizer) or isinstance(b, torch.optim.Optimizer):
        return type(a) is type(b)
    if isinstance(a, torch.Generator) or isinstance(b, torch.Generator):
        return isinstance(b, torch.Generator) and torch.equal(a.get_state(), b.get_state())
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], atol, rtol) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(same(x, y, atol, rtol) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, float) or isinstance(b, float):
        if type(a) not in (float, int) or type(b) not in (float, int):
            return False
        return abs(a - b) <= atol + rtol * abs(b) or a == b
    try:
        return bool(a == b)
    except Exception:
        return a is b


def _line_of(function, error: BaseException) -> tuple[int, str] | None:
    """The line of `function` (numbered from its `def`) where `error` was raised, and its text."""
    code = inspect.unwrap(function).__code__
    found = None
    for frame, lineno in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == code.co_filename:
            found = lineno
    if found is None:
        return None
    return found - code.co_firstlineno + 1, linecache.getline(code.co_filename, found).strip()


def explain_error(task: Task, call: Call, function, error: BaseException) -> str:
    """Turn a raw exception inside the student's answer into a message a student can act on."""
    if isinstance(error, NotImplementedError):
        return f"{call.name} is not written yet: replace `raise NotImplementedError()` with code"
    where = _line_of(function, error)
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    lines = [f"{call.name} raised {type(error).__name__}: {message}"]
    if where:
        lines.append(f"  at line {where[0]} of {call.name}" + (f": {where[1]}" if where[1] else ""))
    shown = ", ".join(f"{k} = {describe(v)}" for k, v in _bound(function, call.arguments).items())
    lines.append(f"  it was called with {shown}")
    if task.promise:
        lines.append(f"  the task asks: {task.promise}")
    return "\n".join(lines)


def _bound(function, arguments: tuple[tuple, dict]) -> dict:
    """The arguments of a call by parameter name (by position when the signature will not say)."""
    args, kwargs = arguments
    try:
        return dict(inspect.signature(inspect.unwrap(function)).bind(*args, **kwargs).arguments)
    except (TypeError, ValueError):
        return {**{f"argument {i + 1}": a for i, a in enumerate(args)}, **kwargs}


@dataclass
class _Recorder:
    """Stands in for one of the student's functions during a test and records its calls."""

    task: Task
    name: str
    function: object
    calls: list[Call]
    raised: dict[int, str]  # id(error) -> its explanation, shared with the Checking

    @property
    def __wrapped__(self):  # inspect.unwrap, and so expect_own_work, see the student's function
        return self.function

    def __call__(self, *args, **kwargs):
        call = Call(self.name, _snapshot((args, kwargs)), torch.get_rng_state())
        self.calls.append(call)
        try:
            result = self.function(*args, **kwargs)
        except ExerciseCheckFailed:
            raise
        except Exception as error:  # a test may expect it; if not, Checking explains it
            call.error = (type(error).__name__, str(error))
            self.raised[id(error)] = explain_error(self.task, call, self.function, error)
            raise
        call.result = _snapshot(result)
        call.arguments_after = _snapshot((args, kwargs))
        if self.task.keeps_inputs and not same(call.arguments, call.arguments_after):
            before = _bound(self.function, call.arguments)
            after = _bound(self.function, call.arguments_after)
            changed = [k for k in before if not same(before[k], after[k])]
            raise ExerciseCheckFailed(
                f"{self.name} changed its argument {', '.join(changed)} in place; the task says "
                f"to leave its inputs as they are (build a new list or tensor instead of writing "
                f"into the one you were given)"
            )
        return result


def _structure(module: torch.nn.Module) -> tuple:
    """What a freshly made module can be compared by: its weights' names and shapes, its mode,
    and how many numbers it learns (a tied weight counts once)."""
    shapes = {name: tuple(value.shape) for name, value in module.state_dict().items()}
    return shapes, module.training, sum(p.numel() for p in module.parameters())


def _rerun(implementation, call: Call):
    """Make one recorded call again with another implementation; returns (result, arguments)."""
    args, kwargs = _snapshot(call.arguments)
    target = implementation
    if call.module is not None:  # a forward pass: an equal module, with the same weights and mode
        (init_args, init_kwargs), state, training = call.module
        target = implementation(*_snapshot(init_args), **_snapshot(init_kwargs))
        target.load_state_dict(state)
        target.train(training)
    torch.set_rng_state(call.random_state)
    result = target(*args, **kwargs)
    if isinstance(implementation, type) and call.module is None:
        result = _structure(result)
    return result, (args, kwargs)


def behaves_like(mistake: Mistake, namespace: dict, calls: list[Call]) -> bool:
    """Whether the mistaken implementation gives the same results as the student's on every call."""
    scope = dict(namespace)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(mistake.source, f"<mistake: {mistake.name}>", "exec"), scope)
    except Exception:
        return False
    if not calls:
        return False
    for call in calls:
        wrong = scope.get(call.name)
        if wrong is None:
            return False
        with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(io.StringIO()):
            try:
                result, arguments = _rerun(wrong, call)
            except Exception as error:
                if call.error != (type(error).__name__, str(error)):
                    return False
                continue
        if call.error is not None or not same(result, call.result):
            return False
        if call.arguments_after is not None and not same(arguments, call.arguments_after):
            return False
    return True


def _watched_class(cls: type, task: Task, calls: list[Call], raised: dict[int, str]) -> type:
    """A subclass of the student's module class that records how it is made and every forward pass.

    It keeps the class's name and module, and `inspect.unwrap` of its methods gives the student's
    own, so the other checks (subclassing, own work) see the student's class.
    """

    def __init__(self, *args, **kwargs):
        call = Call(cls.__name__, _snapshot((args, kwargs)), torch.get_rng_state())
        calls.append(call)
        try:
            cls.__init__(self, *args, **kwargs)
        except Exception as error:
            call.error = (type(error).__name__, str(error))
            raised[id(error)] = explain_error(task, call, cls.__init__, error)
            raise
        self._made_with = call.arguments
        call.result = _structure(self)

    def forward(self, *args, **kwargs):
        state = {k: v.detach().clone() for k, v in self.state_dict().items()}
        call = Call(cls.__name__, _snapshot((args, kwargs)), torch.get_rng_state())
        call.module = (self._made_with, state, self.training)
        calls.append(call)
        try:
            result = cls.forward(self, *args, **kwargs)
        except Exception as error:
            call.error = (type(error).__name__, str(error))
            raised[id(error)] = explain_error(task, call, cls.forward, error)
            raise
        call.result = _snapshot(result)
        return result

    __init__.__wrapped__ = cls.__init__
    forward.__wrapped__ = cls.forward
    namespace = {"__init__": __init__, "forward": forward, "__module__": cls.__module__}
    watched = type(cls.__name__, (cls,), namespace)
    watched.__qualname__ = cls.__qualname__
    watched.__wrapped__ = cls
    return watched


def diagnose(task: Task, namespace: dict, calls: list[Call]) -> list[Mistake]:
    """The catalogued mistakes that behave exactly like the student's answer on every call."""
    return [m for m in task.mistakes if behaves_like(m, namespace, calls)]


def named(message: str, mistakes: list[Mistake]) -> str:
    """The failure message and the known mistakes that fit: one, or the few it cannot tell apart."""
    if len(mistakes) == 1:
        return (
            f"{message}\n\nThis looks like a known mistake: {mistakes[0].name}.\n{mistakes[0].hint}"
        )
    listed = "\n".join(f"- {m.name}: {m.hint}" for m in mistakes)
    return f"{message}\n\nThis behaves like one of these known mistakes:\n{listed}"


class Checking:
    """The context of one test cell; see `Exercise.checking`."""

    def __init__(self, task: Task, namespace: dict) -> None:
        self.task, self.namespace = task, namespace
        self.calls: list[Call] = []
        self.students: dict[str, object] = {}  # the answers as the student wrote them
        self.raised: dict[int, str] = {}  # id(error) -> explanation, for errors inside the answer
        self._swap = None

    def __enter__(self) -> Checking:
        watched = {}
        for name in self.task.functions:
            if name not in self.namespace:
                raise ExerciseCheckFailed(f"{name} is not defined: run the cell with your answer")
            answer = self.namespace[name]
            self.students[name] = answer
            if isinstance(answer, type):
                watched[name] = _watched_class(answer, self.task, self.calls, self.raised)
            else:
                watched[name] = _Recorder(self.task, name, answer, self.calls, self.raised)
        replacements = {**self.task.pieces, **watched}
        self._swap = swapped(self.namespace, replacements)
        self._swap.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> bool:
        try:
            if not isinstance(error, Exception):  # passed, or interrupted
                return False
            failed = isinstance(error, ExerciseCheckFailed)
            message = str(error) if failed else self._explain(error)
            mistakes = diagnose(self.task, {**self.namespace, **self.students}, self.calls)
            if mistakes:
                message = named(message, mistakes)
            # A fresh exception: its traceback shows the `with` line, never a hidden test's line.
            raise ExerciseCheckFailed(message) from None
        finally:
            self._swap.__exit__(None, None, None)

    def _explain(self, error: BaseException) -> str:
        """An error that escaped the checks: from the answer itself, or from using its result."""
        if id(error) in self.raised:
            return self.raised[id(error)]
        last = self.calls[-1] if self.calls else None
        returned = f" ({last.name} returned {describe(last.result)})" if last else ""
        return (
            f"the checks could not use what your code returned{returned}: "
            f"{type(error).__name__}: {error}"
            + (f"\n  the task asks: {self.task.promise}" if self.task.promise else "")
        )


class Exercise:
    """One exercise notebook's tasks, as its catalogue of mistakes describes them.

    Made once in the notebook's imports cell: `exercise = Exercise("01-bigrams", globals())`.
    """

    def __init__(self, assignment: str, namespace: dict) -> None:
        self.tasks = catalogue(assignment)
        self.namespace = namespace

    def checking(self, grade_id: str) -> Checking:
        """Judge the task `grade_id` on its own, and name a known mistake when a check fails."""
        return Checking(self.tasks[grade_id], self.namespace)
