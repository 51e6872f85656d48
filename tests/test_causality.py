import pytest
import torch
import torch.nn.functional as F
from seeded import randn

from minigpt.attention import scaled_dot_product_attention
from minigpt.causality import (
    TinyAttentionLM,
    causal_attention,
    causal_weights,
    influence_matrix,
    leaks,
    output_change,
    perturb_future,
    prefix_loss,
    training_pairs,
)
from minigpt.model import GPT, GPTConfig


def self_attention(x, mask=None):
    return scaled_dot_product_attention(x, x, x, mask)


def test_training_pairs_of_a_sentence():
    words = ["The", "cat", "sits", "on", "the", "mat"]
    pairs = training_pairs(words)
    assert len(pairs) == 5
    assert pairs[0] == (["The"], "cat")
    assert pairs[-1] == (["The", "cat", "sits", "on", "the"], "mat")
    assert training_pairs(["alone"]) == []


def test_causal_weights_are_distributions_over_the_past():
    scores = randn(2, 6, 6)
    weights = causal_weights(scores)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 6))
    assert (weights.triu(diagonal=1) == 0).all()
    assert weights[:, 0, 0].eq(1).all()
    # The future's scores do not matter at all, not even through the normalizing sum.
    changed = scores + 100 * torch.ones(6, 6).triu(diagonal=1)
    assert torch.equal(causal_weights(changed), weights)


def test_causal_attention_equals_the_torch_kernel():
    q, k, v = randn(2, 3, 7, 4, seed=1), randn(2, 3, 7, 4, seed=2), randn(2, 3, 7, 5, seed=3)
    ours = causal_attention(q, k, v)
    assert ours.shape == (2, 3, 7, 5)
    assert torch.allclose(ours, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-5)
    assert torch.allclose(causal_attention(q[0, 0], k[0, 0], v[0, 0]), ours[0, 0], atol=1e-6)


def test_perturb_future_changes_only_the_future():
    x = randn(2, 6, 3)
    changed = perturb_future(x, 2, torch.Generator().manual_seed(1))
    assert torch.equal(changed[:, :3], x[:, :3])
    assert (changed[:, 3:] != x[:, 3:]).all()
    assert torch.equal(x, randn(2, 6, 3)), "the input must not be modified"
    ids = torch.randint(5, (3, 8), generator=torch.Generator().manual_seed(2))
    new_ids = perturb_future(ids, 0, torch.Generator().manual_seed(3), vocab_size=5)
    assert torch.equal(new_ids[:, 0], ids[:, 0]) and (new_ids[:, 1:] != ids[:, 1:]).all()
    assert new_ids.min() >= 0 and new_ids.max() < 5
    with pytest.raises(ValueError, match="vocab_size"):
        perturb_future(ids, 0)


def test_output_change_is_per_position():
    x = randn(2, 5, 3)
    changed = perturb_future(x, 2)
    change = output_change(torch.sin, x, changed)
    assert change.shape == (5,)
    assert (change[:3] == 0).all() and (change[3:] > 0).all()


def test_leak_test_tells_causal_from_leaking_functions():
    x, g = randn(2, 8, 4, seed=4), torch.Generator().manual_seed(0)
    assert not leaks(lambda z: self_attention(z, torch.ones(8, 8, dtype=torch.bool).tril()), x, g)
    assert not leaks(lambda z: causal_attention(z, z, z), x, g)
    assert not leaks(lambda z: z.cumsum(dim=1), x, g)
    assert leaks(self_attention, x, g)
    assert leaks(lambda z: self_attention(z, torch.ones(8, 8, dtype=torch.bool).tril(1)), x, g)

    def first_peeks_at_second(z):
        out = z.clone()
        out[:, 0] += 0.01 * z[:, 1]
        return out

    assert leaks(first_peeks_at_second, x, g)


@pytest.mark.parametrize("use_torch_kernel", [True, False])
def test_gpt_does_not_leak(use_torch_kernel):
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=11,
        block_size=8,
        n_layer=2,
        n_head=2,
        n_embd=16,
        use_torch_kernel=use_torch_kernel,
    )
    model = GPT(config).eval()
    ids = torch.randint(11, (2, 8), generator=torch.Generator().manual_seed(5))
    assert not leaks(
        lambda idx: model(idx)[0], ids, torch.Generator().manual_seed(6), vocab_size=11
    )


def test_influence_matrix_shows_the_mask():
    x, g = randn(1, 5, 3, seed=7), torch.Generator().manual_seed(1)
    causal = influence_matrix(lambda z: causal_attention(z, z, z), x, g)
    assert causal.shape == (5, 5)
    below = torch.ones(5, 5, dtype=torch.bool).tril()
    assert (causal[~below] == 0).all() and (causal[below] > 0).all()
    assert (influence_matrix(self_attention, x, g) > 0).all()
    elementwise = influence_matrix(torch.tanh, x, g)
    assert torch.equal(elementwise > 0, torch.eye(5, dtype=torch.bool))


def test_tiny_model_prefix_loss_is_honest():
    ids = torch.randint(7, (2, 7), generator=torch.Generator().manual_seed(8))
    x, y = ids[:, :-1], ids[:, 1:]
    for causal in (True, False):
        torch.manual_seed(0)
        model = TinyAttentionLM(7, block_size=6, n_embd=8, causal=causal)
        logits = model(x)
        assert logits.shape == (2, 6, 7)
        full = F.cross_entropy(logits.flatten(0, 1), y.flatten()).item()
        same = prefix_loss(model, x, y) == pytest.approx(full, abs=1e-5)
        assert same is causal
        assert leaks(model, x, torch.Generator().manual_seed(2), vocab_size=7) is not causal


def test_tiny_model_attention_weights_follow_the_mask():
    ids = torch.randint(7, (1, 5), generator=torch.Generator().manual_seed(9))
    torch.manual_seed(0)
    causal = TinyAttentionLM(7, block_size=5, n_embd=8).attention_weights(ids)
    peeking = TinyAttentionLM(7, block_size=5, n_embd=8, causal=False).attention_weights(ids)
    assert causal.shape == peeking.shape == (1, 5, 5)
    future = torch.ones(5, 5, dtype=torch.bool).triu(diagonal=1)
    assert (causal[0][future] == 0).all() and (peeking[0][future] > 0).all()
