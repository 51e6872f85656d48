import torch

from minigpt import utils


def test_device_can_be_forced(monkeypatch):
    monkeypatch.setenv(utils.DEVICE_ENV, "cpu")
    assert utils.pick_device() == torch.device("cpu")
    assert utils.pick_device("meta") == torch.device("meta")


def test_quick_mode_follows_either_switch(monkeypatch):
    monkeypatch.delenv(utils.QUICK_ENV, raising=False)
    monkeypatch.delenv(utils.GRADING_ENV, raising=False)
    assert not utils.quick_mode() and utils.budget(2000, 20) == 2000
    monkeypatch.setenv(utils.QUICK_ENV, "0")
    assert not utils.quick_mode()
    monkeypatch.setenv(utils.QUICK_ENV, "1")
    assert utils.budget(2000, 20) == 20
    monkeypatch.delenv(utils.QUICK_ENV)
    monkeypatch.setenv(utils.GRADING_ENV, "autograde")
    assert utils.quick_mode()


def test_seeding_makes_draws_repeat():
    g = utils.seed_everything(3)
    a = (torch.rand(3), torch.rand(3, generator=g))
    g = utils.seed_everything(3)
    b = (torch.rand(3), torch.rand(3, generator=g))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_notebook_setup_reports_device(capsys):
    device = utils.notebook_setup(seed=5)
    assert device == torch.device("cpu")
    assert "device: cpu | seed: 5" in capsys.readouterr().out


def test_environment_report_names_the_essentials():
    report = utils.environment_report()
    for key in ("python", "torch", "device", "minigpt", "data folder", "nbgrader"):
        assert report[key]


def test_bfloat16_can_be_switched_off_where_it_is_native(monkeypatch):
    from minigpt.speed import autocast_for, native_bfloat16

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    cpu = torch.device("cpu")
    monkeypatch.delenv(utils.NO_BF16_ENV, raising=False)
    assert native_bfloat16(cpu)
    assert isinstance(autocast_for(cpu), torch.autocast)
    monkeypatch.setenv(utils.NO_BF16_ENV, "1")
    assert not native_bfloat16(cpu) and not isinstance(autocast_for(cpu), torch.autocast)
    assert "switched off" in utils.environment_report()["bfloat16"]
    monkeypatch.setenv(utils.NO_BF16_ENV, "0")
    assert native_bfloat16(cpu)
