"""Answers that look copied: the same code under other names, comments and spacing.

Each answer is reduced to its Python tokens without comments, docstrings, blank lines or
spacing; every name that is not an attribute, a keyword argument, a keyword or a builtin
becomes v1, v2, ... in order of first use; then what it shares with the released stub (the
signature) is taken out. Two students whose reduced answers to the same task agree almost
everywhere (difflib's ratio) are listed as a pair, for a person to look at: a flag is never a
penalty. Answers that are the released stub, too short to tell apart, or the reference
solution itself are not compared.

Python's own `tokenize` and `difflib` do the work. copydetect (MOSS-style fingerprints, the
stub as its boilerplate) was tried first on the course's own answers, the correct alternatives
then in tests/variants/ (now minigpt.mistakes): it found 57 of their 76 renamed copies (its
tokens keep `self`, and its 25-character fingerprints break on a changed bracket in a five-line
answer), this comparison finds all 76. Of the 115 pairs of independently written answers, each
put the same one above its threshold: an alternative one token away from the solution, which is
set aside anyway.
"""

from __future__ import annotations

import builtins
import io
import itertools
import keyword
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

THRESHOLD = 0.9  # share of matching tokens above which two answers are listed
MIN_TOKENS = 12  # fewer tokens of one's own than this: short answers coincide by nature
MIN_STUB_RUN = 4  # a run of tokens shared with the stub this long is the stub's, not a "(" or ","
SKIPPED = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}
KEPT_NAMES = set(keyword.kwlist) | set(dir(builtins))
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


@dataclass(frozen=True)
class SimilarPair:
    first: str
    second: str
    grade_id: str
    similarity: float  # 0..1, the share of the two reduced answers that match


@dataclass(frozen=True)
class SimilarGroup:
    grade_id: str
    students: tuple[str, ...]
    lowest: float  # the least and the most similar of the listed pairs that join the group
    highest: float


def tokens(source: str) -> list[str]:
    """The code's tokens without comments, layout or markers; strings become one token each."""
    text = "\n".join(line for line in source.splitlines() if line.strip() not in MARKERS) + "\n"
    found: list[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in SKIPPED:
                continue
            found.append("STR" if token.type == tokenize.STRING else token.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return found  # a broken answer still compares by what could be read
    return found


def _without_docstrings(words: list[str]) -> list[str]:
    """A string right after ':' of a def, or first in the cell, is a docstring: drop it."""
    kept = []
    for i, word in enumerate(words):
        if word == "STR" and (i == 0 or words[i - 1] == ":"):
            continue
        kept.append(word)
    return kept


def own_part(answer: list[str], stub: list[str]) -> list[str]:
    """The tokens of `answer` outside the runs it shares with the stub (its signature...)."""
    kept = [True] * len(answer)
    for block in SequenceMatcher(None, stub, answer, autojunk=False).get_matching_blocks():
        if block.size >= MIN_STUB_RUN:
            kept[block.b : block.b + block.size] = [False] * block.size
    return [word for word, keep in zip(answer, kept, strict=True) if keep]


def canonical(words: list[str]) -> list[str]:
    """Local names become v1, v2, ... by first use; attributes, keyword arguments of calls
    (`dim=1`), keywords and builtins stay, since a renamed copy cannot change them."""
    names: dict[str, str] = {}
    calls: list[bool] = []  # for each open bracket: is it a call's (not a def's or a tuple's)?
    out = []
    for i, word in enumerate(words):
        before = words[i - 1] if i else ""
        after = words[i + 1] if i + 1 < len(words) else ""
        if word in ("(", "[", "{"):
            is_call = word == "(" and (before.isidentifier() or before in (")", "]"))
            calls.append(is_call and (i < 2 or words[i - 2] != "def"))
        elif word in (")", "]", "}") and calls:
            calls.pop()
        is_name = word.isidentifier() and word not in KEPT_NAMES and word != "STR"
        is_attribute = before == "."
        is_keyword_argument = after == "=" and before in ("(", ",") and bool(calls) and calls[-1]
        if is_name and not is_attribute and not is_keyword_argument:
            word = names.setdefault(word, f"v{len(names) + 1}")
        out.append(word)
    return out


def reduce(source: str, stub: str = "") -> list[str]:
    """What is compared: the answer's tokens with canonical names, docstrings and the stub's
    part dropped. Names are made canonical first, so a copy that renamed the parameters still
    loses the stub's signature."""
    stub_words = canonical(_without_docstrings(tokens(stub)))
    return own_part(canonical(_without_docstrings(tokens(source))), stub_words)


def released_stub(solution: str) -> str:
    """The cell students were given: nbgrader put `raise NotImplementedError()` (after a
    comment) where the instructor's notebook has its solution between the markers."""
    lines, inside = [], False
    for line in solution.splitlines():
        if line.strip() == MARKERS[0]:
            inside = True
            lines.append(line[: len(line) - len(line.lstrip())] + "raise NotImplementedError()")
        elif line.strip() == MARKERS[1]:
            inside = False
        elif not inside:
            lines.append(line)
    return "\n".join(lines)


def similarity(a: list[str], b: list[str]) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def find_similar(
    answers: dict[str, dict[str, str]],
    solutions: dict[str, str],
    threshold: float = THRESHOLD,
    min_tokens: int = MIN_TOKENS,
) -> list[SimilarPair]:
    """Pairs of students with near-identical answers to the same task, most similar first.

    `answers` maps student -> grade_id -> submitted source; `solutions` maps grade_id -> the
    answer cell of the instructor's notebook, with its solution markers, from which the stub
    students received is rebuilt. Only the tasks in `solutions` are compared.
    """
    pairs = []
    for grade_id, solution in solutions.items():
        stub = released_stub(solution)
        reference = reduce(solution, stub)
        reduced = {}
        for student, cells in answers.items():
            if grade_id not in cells:
                continue
            mine = reduce(cells[grade_id], stub)
            if len(mine) < min_tokens:
                continue  # the stub, or too little to tell
            if similarity(mine, reference) >= threshold:
                continue  # the solution itself is not a sign of copying from a classmate
            reduced[student] = mine
        for (one, a), (two, b) in itertools.combinations(sorted(reduced.items()), 2):
            matcher = SequenceMatcher(None, a, b, autojunk=False)
            if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
                continue
            score = matcher.ratio()
            if score >= threshold:
                pairs.append(SimilarPair(one, two, grade_id, round(score, 3)))
    return sorted(pairs, key=lambda p: (-p.similarity, p.grade_id, p.first, p.second))


def groups(pairs: Iterable[SimilarPair]) -> list[SimilarGroup]:
    """Pairs joined into groups per task: ten students with one answer make one group, not 45
    pairs. Most similar groups first."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(key):
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    pairs = list(pairs)
    for pair in pairs:
        parent[root((pair.grade_id, pair.second))] = root((pair.grade_id, pair.first))
    members: dict[tuple[str, str], list[SimilarPair]] = {}
    for pair in pairs:
        members.setdefault(root((pair.grade_id, pair.first)), []).append(pair)
    found = []
    for (grade_id, _), joined in members.items():
        students = sorted({s for p in joined for s in (p.first, p.second)})
        scores = [p.similarity for p in joined]
        found.append(SimilarGroup(grade_id, tuple(students), min(scores), max(scores)))
    return sorted(found, key=lambda g: (-g.highest, g.grade_id, g.students))
