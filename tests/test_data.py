import hashlib
import io
import urllib.error
import urllib.request

import pytest
import torch

from minigpt import data
from minigpt.data import ChecksumError, DownloadError, get_batch, train_val_split


def test_shakespeare_has_the_published_size_and_checksum(shakespeare):
    assert len(shakespeare) == 1_115_394
    assert len(set(shakespeare)) == 65
    assert data.sha256_of(data.fetch_shakespeare()) == data.SHAKESPEARE_SHA256


def test_split_is_ninety_ten_in_order(char_splits):
    assert len(char_splits.train) == 1_003_854
    assert len(char_splits.val) == 111_540
    whole = torch.arange(10)
    train, val = train_val_split(whole)
    assert train.tolist() == list(range(9)) and val.tolist() == [9]


def test_get_batch_targets_are_inputs_shifted_by_one():
    ids = torch.arange(1000)
    x, y = get_batch(ids, batch_size=5, block_size=8, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 8)
    assert torch.equal(y[:, :-1], x[:, 1:])
    assert torch.equal(y[:, -1], x[:, -1] + 1)


def test_get_batch_is_reproducible_with_a_seeded_generator():
    ids = torch.arange(1000)
    a = get_batch(ids, 4, 16, torch.Generator().manual_seed(7))
    b = get_batch(ids, 4, 16, torch.Generator().manual_seed(7))
    c = get_batch(ids, 4, 16, torch.Generator().manual_seed(8))
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])


def test_get_batch_rejects_data_shorter_than_the_block():
    with pytest.raises(ValueError, match="needs more than block_size=8"):
        get_batch(torch.arange(8), 2, 8)


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    return tmp_path


def test_offline_download_says_what_to_do_and_leaves_nothing(empty_cache, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DownloadError) as err:
        data.load_shakespeare()
    message = str(err.value)
    assert "offline" in message and str(empty_cache / data.SHAKESPEARE_FILENAME) in message
    assert data.DATA_DIR_ENV in message
    assert list(empty_cache.iterdir()) == []


def test_download_with_a_wrong_checksum_is_not_saved(empty_cache, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: FakeResponse(b"not it"))
    with pytest.raises(ChecksumError, match="expected 86c4e6aa"):
        data.load_shakespeare()
    assert list(empty_cache.iterdir()) == []


def test_a_good_download_is_cached_and_reused(empty_cache, monkeypatch):
    payload = b"First Citizen:\nBefore we proceed any further, hear me speak.\n"
    monkeypatch.setattr(data, "SHAKESPEARE_SHA256", hashlib.sha256(payload).hexdigest())
    calls = []

    def serve(url, timeout):
        calls.append(url)
        return FakeResponse(payload)

    monkeypatch.setattr(urllib.request, "urlopen", serve)
    assert data.load_shakespeare() == payload.decode()
    assert data.load_shakespeare() == payload.decode()
    assert calls == [data.SHAKESPEARE_URL]
    assert [p.name for p in empty_cache.iterdir()] == [data.SHAKESPEARE_FILENAME]


def test_a_corrupt_cached_file_is_reported_and_left_untouched(empty_cache):
    cached = empty_cache / data.SHAKESPEARE_FILENAME
    cached.write_text("half a file")
    with pytest.raises(ChecksumError, match="left untouched"):
        data.load_shakespeare()
    assert cached.read_text() == "half a file"
