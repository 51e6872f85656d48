import math
from dataclasses import replace

import pytest
import torch

from minigpt.data import get_batch
from minigpt.model import GPT, GPTConfig, parameter_count_formula
from minigpt.presets import get_preset
from minigpt.scaling import compute_optimal_tokens, loss_by_position, training_flops

TINY = GPTConfig(vocab_size=65, block_size=12, n_layer=1, n_head=2, n_embd=16)


DATA = torch.randint(65, (2000,), generator=torch.Generator().manual_seed(0))


def tiny_model(**changes) -> GPT:
    torch.manual_seed(0)
    return GPT(replace(TINY, **changes))


def test_loss_by_position_averages_to_the_model_loss_on_the_same_batches():
    model = tiny_model().eval()
    curve = loss_by_position(model, DATA, 4, 3, torch.Generator().manual_seed(5))
    assert curve.shape == (TINY.block_size,)
    batches = torch.Generator().manual_seed(5)
    with torch.no_grad():
        losses = [model(*get_batch(DATA, 4, TINY.block_size, batches))[1] for _ in range(3)]
    assert curve.mean().item() == pytest.approx(torch.stack(losses).mean().item(), abs=1e-5)


def test_an_untrained_model_is_equally_lost_at_every_position():
    curve = loss_by_position(tiny_model(), DATA, 8, 2, torch.Generator().manual_seed(0))
    assert torch.allclose(curve, torch.full_like(curve, math.log(65)), atol=0.15)


def test_loss_by_position_runs_in_eval_mode_and_restores_training():
    model = tiny_model(dropout=0.5).train()

    def curve():
        return loss_by_position(model, DATA, 2, 1, torch.Generator().manual_seed(1))

    assert torch.equal(curve(), curve())  # no dropout noise
    assert model.training
    with pytest.raises(ValueError, match="num_batches"):
        loss_by_position(model, DATA, 2, 0)


def test_compute_rules_of_thumb_match_published_figures():
    # Chinchilla: 70B parameters trained on 1.4T tokens.
    assert compute_optimal_tokens(70_000_000_000) == 1_400_000_000_000
    baby = get_preset("gpu-baby")
    tokens = baby.train.max_iters * baby.train.batch_size * baby.model.block_size
    flops = training_flops(parameter_count_formula(baby.model), tokens)
    assert flops == pytest.approx(6 * 10_770_816 * 81_920_000)
    assert 5e15 < flops < 6e15
