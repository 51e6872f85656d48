import math

import pytest
import torch
import torch.nn.functional as F
from seeded import randn

from minigpt.attention import (
    CausalSelfAttention,
    Head,
    LayerCache,
    MultiHeadAttention,
    attention_head,
    average_past,
    causal_mask,
    cross_attention,
    merge_heads,
    multi_head_attention,
    scaled_dot_product_attention,
    softmax_with_temperature,
    split_heads,
)
from minigpt.shapes import ShapeError


def test_softmax_with_temperature_matches_torch_and_is_stable():
    x = randn(4, 10)
    for t in (0.5, 1.0, 3.0):
        assert torch.allclose(softmax_with_temperature(x, t), torch.softmax(x / t, dim=-1))
    big = torch.tensor([1000.0, 999.0, -1000.0])
    out = softmax_with_temperature(big)
    assert torch.isfinite(out).all() and out[0] == pytest.approx(1 / (1 + math.exp(-1)))
    with pytest.raises(ValueError, match="positive"):
        softmax_with_temperature(x, 0.0)


def test_temperature_sharpens_and_flattens():
    x = torch.tensor([2.0, 1.0, 0.0])
    cold, hot = softmax_with_temperature(x, 0.1), softmax_with_temperature(x, 10.0)
    assert cold[0] > 0.99 and (hot.max() - hot.min()) < 0.1


def test_causal_mask_is_lower_triangular():
    assert causal_mask(3).tolist() == [
        [True, False, False],
        [True, True, False],
        [True, True, True],
    ]


def test_written_out_attention_equals_the_torch_kernel():
    q, k, v = randn(2, 3, 9, 8, seed=1), randn(2, 3, 9, 8, seed=2), randn(2, 3, 9, 8, seed=3)
    ours = scaled_dot_product_attention(q, k, v, causal_mask(9))
    theirs = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert torch.allclose(
        scaled_dot_product_attention(q, k, v), F.scaled_dot_product_attention(q, k, v), atol=1e-5
    )


def test_attention_weights_are_causal_distributions():
    q = k = v = randn(1, 5, 4)
    _, weights = scaled_dot_product_attention(q, k, v, causal_mask(5), return_weights=True)
    assert torch.allclose(weights.sum(-1), torch.ones(1, 5))
    assert (weights.triu(diagonal=1) == 0).all()


def test_mismatched_qkv_name_the_shapes():
    with pytest.raises(ValueError, match=r"q \(2, 4\), k \(2, 5\)"):
        scaled_dot_product_attention(randn(2, 4), randn(2, 5), randn(2, 5))


def test_causal_self_attention_paths_agree():
    torch.manual_seed(0)
    fused = CausalSelfAttention(32, 4, use_torch_kernel=True)
    written = CausalSelfAttention(32, 4, use_torch_kernel=False)
    written.load_state_dict(fused.state_dict())
    x = randn(2, 11, 32)
    assert torch.allclose(fused(x), written(x), atol=1e-5)


def test_cached_attention_equals_full_attention():
    torch.manual_seed(0)
    attn = CausalSelfAttention(32, 4).eval()
    x = randn(2, 10, 32)
    full = attn(x)
    cache = LayerCache(capacity=10)
    steps = [attn(x[:, :6], cache)] + [attn(x[:, t : t + 1], cache) for t in range(6, 10)]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)
    with pytest.raises(ValueError, match="holds 10 positions"):
        attn(x[:, :1], cache)


@pytest.mark.parametrize("module", ["head", "multi", "fused"])
def test_no_leak_from_the_future(module):
    torch.manual_seed(0)
    layer = {
        "head": lambda: Head(16, 8, block_size=12),
        "multi": lambda: MultiHeadAttention(16, 4, block_size=12),
        "fused": lambda: CausalSelfAttention(16, 4),
    }[module]()
    x = randn(1, 12, 16)
    changed = x.clone()
    changed[:, 7:] = randn(1, 5, 16, seed=9)
    before, after = layer(x), layer(changed)
    assert torch.allclose(before[:, :7], after[:, :7], atol=1e-6)
    assert not torch.allclose(before[:, 7:], after[:, 7:])


def test_multi_head_shapes_and_errors():
    torch.manual_seed(0)
    mha = MultiHeadAttention(24, 3, block_size=8)
    assert mha(randn(2, 8, 24)).shape == (2, 8, 24)
    with pytest.raises(ShapeError, match=r"expected shape \(B, T, 24\), got \(2, 8, 20\)"):
        mha(randn(2, 8, 20))
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(25, 3, block_size=8)


def test_average_past_is_the_running_mean():
    x = randn(2, 7, 3)
    loop = torch.stack([x[:, : t + 1].mean(dim=1) for t in range(7)], dim=1)
    assert torch.allclose(average_past(x), loop, atol=1e-6)
    assert torch.equal(average_past(x)[:, 0], x[:, 0])


def test_attention_head_is_the_head_module_as_a_function():
    torch.manual_seed(0)
    head = Head(12, 4, block_size=9)
    x = randn(3, 9, 12)
    w_q, w_k, w_v = (layer.weight.T for layer in (head.query, head.key, head.value))
    with torch.no_grad():
        assert torch.allclose(attention_head(x, w_q, w_k, w_v, causal_mask(9)), head(x), atol=1e-6)
        unmasked = attention_head(x, w_q, w_k, w_v)
    assert not torch.allclose(unmasked, head(x).detach())  # the mask matters


def test_cross_attention_reads_the_memory_for_every_query():
    x, memory = randn(2, 5, 12), randn(2, 7, 12, seed=1)
    w_q, w_k, w_v = 0.3 * randn(12, 4, seed=2), 0.3 * randn(12, 4, seed=3), randn(12, 6, seed=4)
    out = cross_attention(x, memory, w_q, w_k, w_v)
    assert out.shape == (2, 5, 6)  # one output per decoder position
    q, k, v = x @ w_q, memory @ w_k, memory @ w_v
    weights = torch.softmax(q @ k.transpose(-2, -1) / 2.0, dim=-1)  # sqrt(4) = 2
    assert weights.shape == (2, 5, 7)
    assert torch.allclose(out, weights @ v, atol=1e-5)
    # self-attention is the case memory = x; each query is answered on its own
    assert torch.allclose(cross_attention(x, x, w_q, w_k, w_v), attention_head(x, w_q, w_k, w_v))
    assert torch.allclose(cross_attention(x[:, 2:3], memory, w_q, w_k, w_v), out[:, 2:3], atol=1e-6)
    # every query sees the last memory position: no causal mask
    changed = memory.clone()
    changed[:, -1] += 1.0
    assert (cross_attention(x, changed, w_q, w_k, w_v) - out).abs().amax(-1).gt(1e-6).all()
    hide_last = torch.ones(5, 7, dtype=torch.bool)
    hide_last[:, -1] = False
    masked = cross_attention(x, memory, w_q, w_k, w_v, hide_last)
    assert torch.allclose(masked, cross_attention(x, changed, w_q, w_k, w_v, hide_last))
    with pytest.raises(ValueError, match="w_k"):
        cross_attention(x, randn(2, 7, 10), w_q, w_k, w_v)


def test_split_and_merge_heads():
    x = randn(2, 5, 12)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    assert torch.equal(heads[1, 2, 4], x[1, 4, 8:12])
    assert torch.equal(merge_heads(heads), x)
    with pytest.raises(ValueError, match="12 channels cannot be split into 5 heads"):
        split_heads(x, 5)


def test_multi_head_attention_matches_the_module_and_torch():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4, block_size=6)
    with torch.no_grad():
        mha.proj.bias.zero_()
    x = randn(2, 6, 16, seed=4)
    w_q, w_k, w_v = (
        torch.cat([getattr(head, name).weight.T for head in mha.heads], dim=1)
        for name in ("query", "key", "value")
    )
    w_o = mha.proj.weight.T
    with torch.no_grad():
        ours = multi_head_attention(x, w_q, w_k, w_v, w_o, 4, causal_mask(6))
        assert torch.allclose(ours, mha(x), atol=1e-6)
        theirs = torch.nn.MultiheadAttention(16, 4, bias=False, batch_first=True)
        theirs.in_proj_weight.copy_(torch.cat([w_q, w_k, w_v], dim=1).T)
        theirs.out_proj.weight.copy_(w_o.T)
        unmasked, _ = theirs(x, x, x, need_weights=False)
        assert torch.allclose(multi_head_attention(x, w_q, w_k, w_v, w_o, 4), unmasked, atol=1e-5)
        one = multi_head_attention(x, w_q, w_k, w_v, w_o, 1)
    assert not torch.allclose(one, unmasked, atol=1e-3)  # heads are not one big head
