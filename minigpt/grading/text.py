"""Text from students made safe to write as UTF-8.

A Python string can hold lone surrogates: a student's code can print one, a notebook's JSON can
carry one as an escape, and a file name in another encoding (a zip made on Windows, unpacked with
`unzip`) arrives with its odd bytes as surrogates. UTF-8 cannot encode them, so one such character
would stop the writing of a feedback page, the grades CSV or the class report, for the whole
class. They are replaced where student text enters the grader.
"""

from __future__ import annotations

import re
from typing import Any

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _readable(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte Python could not decode: read it as Latin-1
        return chr(code - 0xDC00)
    return "\ufffd"


def scrub(text: str) -> str:
    """The text with every lone surrogate replaced (bytes of a file name by their Latin-1
    letter, anything else by the replacement character)."""
    return LONE_SURROGATE.sub(_readable, text)


def scrub_all(value: Any) -> Any:
    """Every string inside JSON-like data scrubbed, dictionary keys included."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [scrub_all(item) for item in value]
    if isinstance(value, dict):
        return {scrub(str(key)): scrub_all(item) for key, item in value.items()}
    return value
