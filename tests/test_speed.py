import pytest
import torch

from minigpt import speed


def test_mixed_precision_picks_bfloat16_where_native_else_float16_on_a_gpu(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert speed.autocast_dtype(cpu, enabled=False) is None
    monkeypatch.setattr(speed, "native_bfloat16", lambda device: False)
    assert speed.autocast_dtype(cpu) is None  # emulated bfloat16 would be slower than float32
    assert speed.autocast_dtype(cuda) is torch.float16  # a T4: float16, with a gradient scaler
    assert speed.autocast_dtype(cuda, enabled=False) is None
    monkeypatch.setattr(speed, "native_bfloat16", lambda device: True)
    assert speed.autocast_dtype(cpu) is torch.bfloat16
    assert speed.autocast_dtype(cuda) is torch.bfloat16


def test_the_gradient_scaler_is_off_without_float16():
    assert not speed.grad_scaler(torch.device("cpu")).is_enabled()


def test_autocast_runs_matrix_products_in_the_chosen_type(monkeypatch):
    a = torch.randn(4, 4)
    monkeypatch.setattr(speed, "native_bfloat16", lambda device: True)
    with speed.autocast_for(torch.device("cpu")):
        assert (a @ a).dtype is torch.bfloat16
    with speed.autocast_for(torch.device("cpu"), enabled=False):
        assert (a @ a).dtype is torch.float32


def test_why_no_compile_names_the_missing_piece(monkeypatch):
    monkeypatch.setattr(speed.shutil, "which", lambda name: None)
    assert "no C++ compiler" in speed.why_no_compile(torch.device("cpu"))
    assert "not supported on mps" in speed.why_no_compile(torch.device("mps"))
    monkeypatch.setattr(speed.shutil, "which", lambda name: "/usr/bin/" + name)
    assert speed.why_no_compile(torch.device("cpu")) is None


@pytest.mark.parametrize("values", [torch.arange(6).view(2, 3), torch.randn(3)])
def test_batches_reach_the_cpu_unchanged(values):
    assert torch.equal(speed.to_device(values, torch.device("cpu")), values)
