"""`torchrun -m minigpt train` on the CPU: two processes with the gloo backend train like one.

The test starts real processes with torchrun, as a reader would on a machine with two GPUs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minigpt.cli import main
from minigpt.train import load_checkpoint

TRAIN = ["train", "--preset", "cpu-small", "--max-iters", "6", "--quiet", "--sample-tokens", "0"]


def torchrun(args: list[str], processes: int = 2) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # a free port on this machine, so parallel runs cannot collide
        f"--nproc_per_node={processes}",
        "-m",
        "minigpt",
        *args,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("ddp") / "two.pt"
    done = torchrun([*TRAIN, "--out", str(out)])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, done


def test_two_processes_match_one_process_with_the_same_global_batch(two_process_run, tmp_path):
    two, done = two_process_run
    one = tmp_path / "one.pt"
    # One process cuts the batch of 12 in two micro-batches of 6, as two processes do.
    assert main([*TRAIN, "--out", str(one), "--grad-accum", "2"]) == 0
    _, _, a = load_checkpoint(one)
    _, _, b = load_checkpoint(two)
    assert len(b["history"]["batch_loss"]) == 6
    assert b["history"]["batch_loss"] == pytest.approx(a["history"]["batch_loss"], abs=1e-4)
    assert b["history"]["val_loss"] == pytest.approx(a["history"]["val_loss"], abs=1e-4)
    for name, weight in a["state_dict"].items():
        assert torch.allclose(weight, b["state_dict"][name], atol=1e-4), name
    # Rank 0 alone logs: each evaluation is printed once.
    assert done.stdout.count("step     6:") == 1 and "on 2 processes" in done.stdout


def test_a_checkpoint_of_two_processes_loads_in_one(two_process_run, tmp_path, capsys):
    two, _ = two_process_run
    model, tokenizer, raw = load_checkpoint(two)
    assert raw["training_state"]["step"] == 6 and len(raw["training_state"]["random_states"]) == 2
    assert not any(name.startswith(("module.", "_orig_mod.")) for name in raw["state_dict"])
    logits, _ = model(torch.tensor([tokenizer.encode("ROMEO:")]))
    assert logits.shape == (1, 6, tokenizer.vocab_size)
    copy = tmp_path / "copy.pt"
    copy.write_bytes(two.read_bytes())
    resume = ["train", "--preset", "cpu-small", "--out", str(copy), "--resume", "--quiet"]
    assert main([*resume, "--max-iters", "8", "--sample-tokens", "0"]) == 1
    assert "another recipe (max_iters 6 -> 8)" in capsys.readouterr().err
    assert main([*resume, "--max-iters", "6", "--sample-tokens", "0"]) == 0
    out = capsys.readouterr().out
    assert f"resuming {copy} at step 6" in out and "nothing left to train" in out


def test_a_batch_that_cannot_be_shared_evenly_is_refused(tmp_path):
    done = torchrun([*TRAIN, "--out", str(tmp_path / "x.pt"), "--grad-accum", "5"])
    assert done.returncode != 0
    assert "cannot be cut into 2 process(es) x 5 micro-batch(es)" in done.stderr
