import pytest
import torch

from minigpt.generate import (
    generate,
    next_token_distribution,
    pick_next,
    top_k_filter,
    top_p_filter,
)
from minigpt.model import GPT, GPTConfig

NEG = float("-inf")


def model(block_size=8):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=block_size, n_layer=2, n_head=2, n_embd=16))


def test_top_k_keeps_exactly_k_even_with_ties():
    logits = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.0]])
    kept = torch.isfinite(top_k_filter(logits, 2))
    assert kept.sum() == 2 and kept[0, 1:4].sum() == 2
    assert torch.equal(top_k_filter(logits, 10), logits)


def test_top_p_keeps_the_token_that_crosses_the_threshold():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    kept = torch.isfinite(top_p_filter(probs.log(), 0.6))
    assert kept.tolist() == [[True, True, False, False]]
    kept = torch.isfinite(top_p_filter(probs.log(), 0.3))
    assert kept.tolist() == [[True, False, False, False]]
    assert torch.isfinite(top_p_filter(probs.log(), 1.0)).all()


def test_filters_renormalize_into_a_distribution():
    logits = torch.randn(3, 11, generator=torch.Generator().manual_seed(0))
    probs = next_token_distribution(logits, temperature=0.7, top_k=5, top_p=0.9)
    assert torch.allclose(probs.sum(-1), torch.ones(3))
    assert ((probs > 0).sum(-1) <= 5).all()


def test_greedy_picks_the_argmax_and_sampling_is_seeded():
    logits = torch.tensor([[0.0, 2.0, 1.0]])
    assert pick_next(logits, greedy=True).tolist() == [[1]]
    draws = [
        pick_next(logits, generator=torch.Generator().manual_seed(s)).item() for s in range(40)
    ]
    again = [
        pick_next(logits, generator=torch.Generator().manual_seed(s)).item() for s in range(40)
    ]
    assert draws == again and set(draws) == {0, 1, 2}


def test_generate_extends_past_the_context_window():
    out = generate(
        model(), torch.zeros(2, 3, dtype=torch.long), 20, generator=torch.Generator().manual_seed(0)
    )
    assert out.shape == (2, 23) and torch.equal(out[:, :3], torch.zeros(2, 3, dtype=torch.long))


@pytest.mark.parametrize(
    "options", [{"greedy": True}, {"temperature": 0.8, "top_k": 4}, {"top_p": 0.9}]
)
def test_kv_cache_yields_the_same_tokens(options):
    net = model(block_size=8)
    start = torch.tensor([[1, 2, 3], [4, 5, 6]])
    plain = generate(net, start, 30, generator=torch.Generator().manual_seed(5), **options)
    cached = generate(
        net, start, 30, generator=torch.Generator().manual_seed(5), use_cache=True, **options
    )
    assert torch.equal(plain, cached)


def test_generate_restores_training_mode():
    net = model().train()
    generate(net, torch.zeros(1, 1, dtype=torch.long), 2, greedy=True)
    assert net.training


def test_bad_sampling_settings_are_refused():
    logits = torch.zeros(1, 4)
    with pytest.raises(ValueError, match="top_k"):
        top_k_filter(logits, 0)
    with pytest.raises(ValueError, match="top_p"):
        top_p_filter(logits, 0.0)
    with pytest.raises(ValueError, match="greedy"):
        next_token_distribution(logits, temperature=0)
