from minigpt.cli import main


def test_train_then_sample_from_the_checkpoint(tmp_path, capsys):
    checkpoint = tmp_path / "small.pt"
    args = [
        "train",
        "--preset",
        "cpu-small",
        "--max-iters",
        "4",
        "--out",
        str(checkpoint),
        "--quiet",
    ]
    assert main([*args, "--sample-tokens", "20"]) == 0
    out = capsys.readouterr().out
    assert "809," in out and "checkpoint saved to" in out and "--- sample ---" in out
    assert checkpoint.exists()
    assert (
        main(["sample", str(checkpoint), "--tokens", "30", "--prompt", "ROMEO:", "--seed", "1"])
        == 0
    )
    first = capsys.readouterr().out
    assert first.startswith("ROMEO:") and len(first.rstrip("\n")) >= 30
    assert (
        main(
            [
                "sample",
                str(checkpoint),
                "--tokens",
                "30",
                "--prompt",
                "ROMEO:",
                "--seed",
                "1",
                "--no-cache",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == first


def test_errors_are_reported_without_a_traceback(tmp_path, capsys):
    assert main(["sample", str(tmp_path / "missing.pt")]) == 1
    assert "no checkpoint at" in capsys.readouterr().err
    assert main(["train", "--preset", "huge"]) == 1
    assert "unknown preset 'huge'" in capsys.readouterr().err


def test_doctor_reports_data_and_device(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "tiny shakespeare  ok" in out and "device" in out
