import copy
import math
from dataclasses import replace

import pytest
import torch

from minigpt.model import GPT, GPTConfig
from minigpt.shapes import ShapeError
from minigpt.tokenizers import CharTokenizer
from minigpt.train import (
    TrainConfig,
    estimate_loss,
    free_running_inputs,
    inputs_and_targets,
    learning_rate_at,
    load_checkpoint,
    micro_batch_rows,
    next_token_loss,
    save_checkpoint,
    train,
    training_step,
)

TINY = GPTConfig(vocab_size=65, block_size=16, n_layer=1, n_head=2, n_embd=32)
QUICK = TrainConfig(
    max_iters=60, batch_size=8, learning_rate=1e-2, eval_interval=30, eval_iters=4, warmup_iters=10
)


def test_schedule_warms_up_then_decays_to_min_lr():
    config = TrainConfig(max_iters=1000, warmup_iters=100, learning_rate=1e-3, min_lr=1e-4)
    rates = [learning_rate_at(step, config) for step in range(1001)]
    assert rates[0] == pytest.approx(1e-5) and rates[99] == pytest.approx(1e-3)
    assert rates[1000] == pytest.approx(1e-4)
    assert rates[550] == pytest.approx(5.5e-4)  # halfway down the cosine
    assert all(a >= b for a, b in zip(rates[99:], rates[100:], strict=False))


def train_tiny(char_splits, seed=1337):
    torch.manual_seed(seed)
    model = GPT(TINY)
    history = train(
        model, char_splits.train, char_splits.val, replace(QUICK, seed=seed), progress=False
    )
    return model, history


def test_training_lowers_the_loss_and_records_history(char_splits):
    _, history = train_tiny(char_splits)
    assert history.steps == [0, 30, 60]
    assert len(history.batch_loss) == len(history.learning_rate) == 60
    assert history.val_loss[-1] < history.val_loss[0] - 0.8
    assert history.tokens_per_second > 0


def test_training_is_deterministic_for_a_seed(char_splits):
    _, a = train_tiny(char_splits)
    _, b = train_tiny(char_splits)
    _, c = train_tiny(char_splits, seed=1)
    assert a.batch_loss == b.batch_loss
    assert a.batch_loss != c.batch_loss


def test_estimate_loss_runs_in_eval_mode_and_restores_training(char_splits):
    torch.manual_seed(0)
    model = GPT(replace(TINY, dropout=0.5)).train()
    splits = {"val": char_splits.val}

    def estimate():
        return estimate_loss(model, splits, 16, 4, 3, torch.Generator().manual_seed(0))

    assert estimate() == estimate()  # no dropout noise
    assert model.training


def test_checkpoint_round_trip(tmp_path, char_splits):
    model, history = train_tiny(char_splits)
    tokenizer = CharTokenizer.fit("abc")
    path = tmp_path / "run" / "model.pt"
    save_checkpoint(path, model, tokenizer, QUICK, history)
    loaded, loaded_tokenizer, raw = load_checkpoint(path)
    x = char_splits.val[:16].unsqueeze(0)
    model.eval()
    assert torch.equal(loaded(x)[0], model(x)[0])
    assert loaded_tokenizer.itos == tokenizer.itos
    assert raw["history"]["val_loss"] == history.val_loss
    assert not loaded.training
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]


def test_loading_a_missing_or_foreign_file_explains(tmp_path):
    with pytest.raises(FileNotFoundError, match="minigpt train"):
        load_checkpoint(tmp_path / "nothing.pt")
    (tmp_path / "notes.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a readable minigpt checkpoint"):
        load_checkpoint(tmp_path / "notes.pt")


def test_inputs_and_targets_shift_the_last_axis_by_one():
    x, y = inputs_and_targets(torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]]))
    assert x.tolist() == [[1, 2, 3], [5, 6, 7]] and y.tolist() == [[2, 3, 4], [6, 7, 8]]
    x, y = inputs_and_targets(torch.arange(5))
    assert x.tolist() == [0, 1, 2, 3] and y.tolist() == [1, 2, 3, 4]
    with pytest.raises(ShapeError, match="at least 2 tokens"):
        inputs_and_targets(torch.tensor([7]))


def test_next_token_loss_averages_every_position():
    g = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(3, 4, 7, generator=g), torch.randint(7, (3, 4), generator=g)
    per_position = [
        -torch.log_softmax(logits[b, t], dim=0)[targets[b, t]] for b in range(3) for t in range(4)
    ]
    assert next_token_loss(logits, targets).item() == pytest.approx(
        torch.stack(per_position).mean().item(), abs=1e-6
    )
    assert next_token_loss(torch.zeros(2, 5, 9), torch.zeros(2, 5, dtype=torch.long)).item() == (
        pytest.approx(math.log(9))
    )
    with pytest.raises(ShapeError, match=r"targets \(B, T\)"):
        next_token_loss(logits, targets.T)


def test_training_step_matches_a_written_out_step_and_clears_old_gradients():
    torch.manual_seed(0)
    model = GPT(TINY)
    twin = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    chunk = torch.randint(65, (2, TINY.block_size + 1), generator=torch.Generator().manual_seed(1))
    x, y = inputs_and_targets(chunk)
    for p in model.parameters():  # a stale gradient that must not leak into the step
        p.grad = torch.ones_like(p)
    loss = training_step(model, optimizer, x, y)
    _, twin_loss = twin(x, y)
    twin_loss.backward()
    assert loss == pytest.approx(twin_loss.item())
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.allclose(p, q - 0.1 * q.grad, atol=1e-6)


def test_free_running_inputs_feed_back_samples_like_the_uncached_loop():
    torch.manual_seed(0)
    model = GPT(TINY).eval()
    x = torch.randint(65, (3, 10), generator=torch.Generator().manual_seed(2))
    assert torch.equal(free_running_inputs(model, x, mix=0.0), x)
    got = free_running_inputs(model, x, mix=0.5, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    replace = torch.rand(3, 10, generator=g) < 0.5
    want = x.clone()
    with torch.no_grad():
        for t in range(1, 10):
            probs = torch.softmax(model(want[:, :t])[0][:, -1], dim=-1)
            sampled = torch.multinomial(probs, 1, generator=g).squeeze(1)
            want[:, t] = torch.where(replace[:, t], sampled, x[:, t])
    assert torch.equal(got, want)
    assert torch.equal(got[:, 0], x[:, 0]) and torch.equal(got[~replace], x[~replace])
    assert not torch.equal(got, x)


def test_a_stopped_run_resumes_and_ends_where_an_uninterrupted_run_ends(
    tmp_path, char_splits, monkeypatch
):
    config = replace(QUICK, max_iters=50, eval_interval=20)
    tokenizer = CharTokenizer.fit("abc")

    def run(path, resume=None, model=None):
        if model is None:
            torch.manual_seed(0)
            model = GPT(replace(TINY, dropout=0.2))  # dropout: the random state must resume too
        history = train(
            model, char_splits.train, char_splits.val, config, "cpu", False, path, tokenizer, resume
        )
        return model, history

    whole, whole_history = run(tmp_path / "whole.pt")

    def disconnect_at_step_30(step, config):
        if step == 30:
            raise KeyboardInterrupt("the runtime disconnected")
        return learning_rate_at(step, config)

    with monkeypatch.context() as patch:
        patch.setattr("minigpt.train.learning_rate_at", disconnect_at_step_30)
        with pytest.raises(KeyboardInterrupt):
            run(tmp_path / "stopped.pt")
    model, _, saved = load_checkpoint(tmp_path / "stopped.pt")
    assert saved["training_state"]["step"] == 20 and len(saved["history"]["batch_loss"]) == 20
    resumed, resumed_history = run(tmp_path / "stopped.pt", resume=saved, model=model)
    assert resumed_history.batch_loss == whole_history.batch_loss
    assert resumed_history.val_loss == whole_history.val_loss
    assert resumed_history.steps == whole_history.steps == [0, 20, 40, 50]
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    final = load_checkpoint(tmp_path / "stopped.pt")[2]
    assert final["training_state"]["step"] == 50


def test_resuming_a_checkpoint_without_training_state_explains(tmp_path, char_splits):
    model, history = train_tiny(char_splits)
    save_checkpoint(tmp_path / "old.pt", model, CharTokenizer.fit("abc"), QUICK, history)
    saved = load_checkpoint(tmp_path / "old.pt")[2]
    with pytest.raises(ValueError, match="cannot be resumed"):
        train(model, char_splits.train, char_splits.val, QUICK, progress=False, resume=saved)


def test_micro_batches_add_up_to_the_same_step(char_splits):
    """Two micro-batches of 4 rows make the step one batch of 8 makes (float32, same data)."""
    exact = replace(QUICK, max_iters=20, mixed_precision=False)

    def losses(grad_accum):
        torch.manual_seed(0)
        model = GPT(TINY)
        config = replace(exact, grad_accum=grad_accum)
        history = train(model, char_splits.train, char_splits.val, config, progress=False)
        return history.batch_loss, model

    (one, model_one), (two, model_two) = losses(1), losses(2)
    assert one == pytest.approx(two, abs=1e-5)
    for a, b in zip(model_one.parameters(), model_two.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-3)
    with pytest.raises(ValueError, match="cannot be cut into 1 process"):
        micro_batch_rows(replace(QUICK, batch_size=12, grad_accum=5))
    assert micro_batch_rows(replace(QUICK, batch_size=12, grad_accum=2), world_size=3) == 2


def test_compile_falls_back_to_the_same_training_with_a_message(char_splits, monkeypatch, capsys):
    _, eager = train_tiny(char_splits)

    def broken_compile(model):
        def fail(*args, **kwargs):
            raise RuntimeError("no backend for this machine\nmore detail")

        return fail

    monkeypatch.setattr(torch, "compile", broken_compile)
    monkeypatch.setattr("minigpt.speed.why_no_compile", lambda device: None)
    torch.manual_seed(1337)
    model = GPT(TINY)
    config = replace(QUICK, compile=True)
    history = train(model, char_splits.train, char_splits.val, config, progress=False)
    assert "compiling failed (no backend for this machine)" in capsys.readouterr().out
    assert history.batch_loss == eager.batch_loss
    assert history.compile_seconds > 0 and eager.compile_seconds == 0

    monkeypatch.setattr("minigpt.speed.why_no_compile", lambda device: "no C++ compiler here")
    torch.manual_seed(1337)
    history = train(GPT(TINY), char_splits.train, char_splits.val, config, progress=False)
    assert "--compile: no C++ compiler here; training without it" in capsys.readouterr().out
    assert history.batch_loss == eager.batch_loss
