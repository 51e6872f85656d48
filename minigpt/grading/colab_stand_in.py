"""A stand-in for `google.colab`, importable inside the grading sandbox only.

Students work in Colab, where `from google.colab import drive, files` is an ordinary line, often
at the top of an answer cell. Outside Colab that import fails, the rest of the cell never runs and
the answer is lost: an honest habit would cost points. The sandbox therefore finds this module as
`google.colab`: its functions do nothing that matters for grading and say so.
"""

from __future__ import annotations

import sys
import types


def _module(name: str, doc: str, **functions) -> types.ModuleType:
    module = types.ModuleType(f"{__name__}.{name}", doc)
    module.__dict__.update(functions)
    sys.modules[module.__name__] = module
    return module


def _say(what: str) -> None:
    print(f"(grading: {what} does nothing outside Colab)")


def _mount(mountpoint: str, *args, **kwargs) -> None:
    _say(f"drive.mount({mountpoint!r})")


def _flush_and_unmount(*args, **kwargs) -> None:
    _say("drive.flush_and_unmount()")


def _upload(*args, **kwargs) -> dict:
    _say("files.upload()")
    return {}


def _download(filename: str, *args, **kwargs) -> None:
    _say(f"files.download({filename!r})")


def _nothing(*args, **kwargs) -> None:
    return None


class SecretNotFoundError(KeyError):
    """What Colab raises for a secret that is not set; none is set while grading."""


def _secret(key: str) -> str:
    raise SecretNotFoundError(f"no Colab secret {key!r} while grading")


drive = _module(
    "drive",
    "Google Drive (not mounted while grading).",
    mount=_mount,
    flush_and_unmount=_flush_and_unmount,
)
files = _module(
    "files",
    "File transfer to the browser (none while grading).",
    upload=_upload,
    download=_download,
)
output = _module(
    "output",
    "Colab's output helpers (no-ops while grading).",
    enable_custom_widget_manager=_nothing,
    disable_custom_widget_manager=_nothing,
    clear=_nothing,
    eval_js=_nothing,
)
userdata = _module(
    "userdata",
    "Colab secrets (none while grading).",
    get=_secret,
    SecretNotFoundError=SecretNotFoundError,
)
