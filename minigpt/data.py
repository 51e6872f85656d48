"""Tiny Shakespeare: download once, verify, cache; split; sample training batches.

The file is fetched from its public URL the first time it is needed and checked against a
known sha256, so every reader trains on exactly the same 1,115,394 characters.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torch

SHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
SHAKESPEARE_FILENAME = "tinyshakespeare.txt"
DATA_DIR_ENV = "MINIGPT_DATA_DIR"


class DataError(RuntimeError):
    """The data set could not be made available; the message says what to do."""


class DownloadError(DataError):
    pass


class ChecksumError(DataError):
    pass


def data_dir() -> Path:
    """Where downloaded data lives: $MINIGPT_DATA_DIR, else the user's cache folder."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "minigpt"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, dest: Path, sha256: str, timeout: float) -> None:
    """Fetch `url` into `dest` atomically: a partial or corrupt download never lands there."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    while block := response.read(1 << 16):
                        out.write(block)
            except (urllib.error.URLError, OSError) as err:
                raise DownloadError(
                    f"Could not download {url} ({err}). Are you offline? Connect and run this "
                    f"again, or download the file by hand and save it as {dest} (set "
                    f"{DATA_DIR_ENV} to use another folder)."
                ) from err
        got = sha256_of(tmp)
        if got != sha256:
            raise ChecksumError(
                f"The file downloaded from {url} has sha256 {got}, expected {sha256}. The "
                f"download was damaged or the file has changed; nothing was saved. Try again, "
                f"or save a copy with the right checksum as {dest}."
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def fetch_shakespeare(timeout: float = 30.0) -> Path:
    """Path of the verified Tiny Shakespeare file, downloading it on first use."""
    path = data_dir() / SHAKESPEARE_FILENAME
    if not path.exists():
        _download(SHAKESPEARE_URL, path, SHAKESPEARE_SHA256, timeout)
        return path
    got = sha256_of(path)
    if got != SHAKESPEARE_SHA256:
        raise ChecksumError(
            f"{path} has sha256 {got}, expected {SHAKESPEARE_SHA256}: it is damaged or a "
            f"different file. Move it away (it was left untouched) and run this again to "
            f"download a fresh copy."
        )
    return path


def load_shakespeare() -> str:
    """The whole text of Tiny Shakespeare."""
    return fetch_shakespeare().read_text(encoding="utf-8")


def train_val_split(
    data: torch.Tensor, val_fraction: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """First 90% for training, last 10% for validation: no shuffling, so no leak of nearby text."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    n_train = int(len(data) * (1.0 - val_fraction))
    return data[:n_train], data[n_train:]


def get_batch(
    data: torch.Tensor,
    batch_size: int,
    block_size: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch_size` random windows of `block_size` tokens, and the same windows shifted by one.

    y[b, t] is the token that follows x[b, t]: teacher forcing in one tensor.
    """
    if data.dim() != 1:
        raise ValueError(f"data must be a 1-D tensor of token ids, got shape {tuple(data.shape)}")
    if len(data) <= block_size:
        raise ValueError(f"data has {len(data)} tokens, needs more than block_size={block_size}")
    starts = torch.randint(len(data) - block_size, (batch_size, 1), generator=generator)
    x, y = windows_at(data, starts, block_size)
    return x.to(device), y.to(device)


def windows_at(
    data: torch.Tensor, starts: torch.Tensor, block_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The windows of `block_size` tokens that begin at `starts` (B, 1), and their targets.

    Split from get_batch so that a training run can draw one batch of starts and let several
    processes each cut out its own rows.
    """
    positions = starts + torch.arange(block_size)
    return data[positions], data[positions + 1]


@dataclass
class TextSplits:
    """A tokenized text, cut into training and validation ids."""

    tokenizer: object
    train: torch.Tensor
    val: torch.Tensor


def load_char_splits(val_fraction: float = 0.1) -> TextSplits:
    """Tiny Shakespeare with a character tokenizer: the data set of most chapters."""
    from minigpt.tokenizers import CharTokenizer

    text = load_shakespeare()
    tokenizer = CharTokenizer.fit(text)
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    train, val = train_val_split(ids, val_fraction)
    return TextSplits(tokenizer, train, val)
