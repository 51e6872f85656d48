from dataclasses import replace

import pytest
import torch

from minigpt.attention import causal_mask, scaled_dot_product_attention
from minigpt.generate import (
    cached_attention_step,
    generate,
    next_token_distribution,
    next_token_logits,
    pick_next,
    top_k_filter,
    top_p_filter,
)
from minigpt.model import GPT, GPTConfig, KVCache

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


def test_generate_restores_training_mode_and_returns_a_tensor_training_can_use():
    net = model().train()
    out = generate(net, torch.zeros(1, 1, dtype=torch.long), 2, greedy=True)
    assert net.training
    assert not out.is_inference()  # generated text can be fed back into training
    _, loss = net(out[:, :-1], out[:, 1:])
    loss.backward()


def test_last_logits_equal_the_last_position_of_a_full_forward():
    for use_torch_kernel in (True, False):
        torch.manual_seed(0)
        config = GPTConfig(vocab_size=11, block_size=8, n_layer=3, n_head=2, n_embd=16)
        net = GPT(replace(config, use_torch_kernel=use_torch_kernel)).eval()
        idx = torch.randint(11, (3, 8), generator=torch.Generator().manual_seed(1))
        full, _ = net(idx)
        assert torch.allclose(net.last_logits(idx), full[:, -1], atol=1e-5)


def test_bad_sampling_settings_are_refused():
    logits = torch.zeros(1, 4)
    with pytest.raises(ValueError, match="top_k"):
        top_k_filter(logits, 0)
    with pytest.raises(ValueError, match="top_p"):
        top_p_filter(logits, 0.0)
    with pytest.raises(ValueError, match="greedy"):
        next_token_distribution(logits, temperature=0)


def full_causal_attention(seed=0, shape=(2, 3, 7, 4)):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(*shape, generator=g) for _ in range(3))
    return q, k, v, scaled_dot_product_attention(q, k, v, causal_mask(shape[-2]))


def test_cached_attention_one_step_at_a_time_matches_full_attention():
    q, k, v, full = full_causal_attention()
    keys = values = None
    for t in range(q.size(-2)):
        now = slice(t, t + 1)
        out, keys, values = cached_attention_step(
            q[..., now, :], k[..., now, :], v[..., now, :], keys, values
        )
        assert out.shape == (2, 3, 1, 4)
        assert torch.allclose(out, full[..., now, :], atol=1e-6)
    assert torch.equal(keys, k) and torch.equal(values, v)


def test_cached_attention_takes_several_new_positions_after_a_prefix():
    q, k, v, full = full_causal_attention(seed=1)
    _, keys, values = cached_attention_step(q[..., :3, :], k[..., :3, :], v[..., :3, :])
    out, keys, _ = cached_attention_step(q[..., 3:, :], k[..., 3:, :], v[..., 3:, :], keys, values)
    assert torch.allclose(out, full[..., 3:, :], atol=1e-6)
    assert keys.shape == k.shape


def test_next_token_logits_with_a_cache_match_the_plain_path_in_both_regimes():
    net = model(block_size=6).eval()
    idx = torch.randint(11, (2, 2), generator=torch.Generator().manual_seed(1))
    cache, lengths = KVCache(net.config), []
    for _ in range(9):  # grows to the window of 6, then slides
        plain, _ = next_token_logits(net, idx)
        cached, cache = next_token_logits(net, idx, cache)
        assert cached.shape == (2, 11)
        assert torch.allclose(cached, plain, atol=1e-5)
        lengths.append(cache.length)
        idx = torch.cat([idx, plain.argmax(-1, keepdim=True)], dim=1)
    assert lengths == [2, 3, 4, 5, 6, 6, 6, 6, 6]


def test_generate_samples_from_any_model_that_returns_logits():
    """A model of one's own (the capstone exercise's) has neither last_logits nor a cache."""
    net = model(block_size=6).eval()

    class OwnModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.config, self.inner = net.config, net

        def forward(self, idx, targets=None):
            return self.inner(idx, targets)

    start = torch.tensor([[1, 2]])
    ours = generate(net, start, 12, generator=torch.Generator().manual_seed(3))
    theirs = generate(OwnModel(), start, 12, generator=torch.Generator().manual_seed(3))
    assert torch.equal(ours, theirs)
