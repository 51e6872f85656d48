import math

import pytest
import torch

from minigpt.model import (
    GPT,
    BlockVariant,
    GPTConfig,
    KVCache,
    count_by_group,
    parameter_breakdown,
    parameter_count_formula,
    rewire,
    stream_gradients,
    stream_scale,
)
from minigpt.shapes import ShapeError, check_shape

SMALL = GPTConfig(vocab_size=65, block_size=16, n_layer=2, n_head=2, n_embd=32)


def small_model(**changes) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**{**SMALL.to_dict(), **changes}))


def ids(*shape, seed=0):
    return torch.randint(65, shape, generator=torch.Generator().manual_seed(seed))


def test_forward_shapes_and_initial_loss_near_uniform():
    model = small_model()
    logits, loss = model(ids(3, 16), ids(3, 16, seed=1))
    assert logits.shape == (3, 16, 65)
    assert loss.item() == pytest.approx(math.log(65), abs=0.1)
    logits, loss = model(ids(3, 5))
    assert logits.shape == (3, 5, 65) and loss is None


@pytest.mark.parametrize(
    "config",
    [
        SMALL,
        GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128),
        GPTConfig(vocab_size=65, block_size=256, n_layer=6, n_head=6, n_embd=384),
        GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768),
    ],
)
def test_parameter_count_matches_the_formula(config):
    assert GPT(config).num_parameters() == parameter_count_formula(config)


def test_gpt2_small_has_124m_parameters():
    config = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)
    assert parameter_count_formula(config) == 124_439_808  # GPT-2 small, as published


def test_head_is_tied_to_the_token_embedding():
    model = small_model()
    assert model.lm_head.weight.data_ptr() == model.tok_emb.weight.data_ptr()


def test_written_out_attention_model_equals_kernel_model():
    fused, written = small_model(), small_model(use_torch_kernel=False)
    written.load_state_dict(fused.state_dict())
    x = ids(2, 16)
    assert torch.allclose(fused(x)[0], written(x)[0], atol=1e-5)


def test_model_output_at_t_ignores_tokens_after_t():
    model = small_model().eval()
    x = ids(1, 16)
    changed = x.clone()
    changed[0, 10:] = (changed[0, 10:] + 1) % 65
    a, b = model(x)[0], model(changed)[0]
    assert torch.allclose(a[:, :10], b[:, :10], atol=1e-6)
    assert not torch.allclose(a[:, 10:], b[:, 10:])


def test_cache_forward_equals_full_forward():
    model = small_model().eval()
    x = ids(2, 12)
    cache = KVCache(model.config)
    first, _ = model(x[:, :7], cache=cache)
    rest = [model(x[:, t : t + 1], cache=cache)[0] for t in range(7, 12)]
    assert torch.allclose(torch.cat([first, *rest], dim=1), model(x)[0], atol=1e-5)


def test_shape_errors_name_expected_and_received():
    model = small_model()
    with pytest.raises(ShapeError, match=r"at most block_size=16 positions, got 17"):
        model(ids(1, 17))
    with pytest.raises(ShapeError, match=r"\(B, T\).*got shape \(16,\)"):
        model(ids(16))
    with pytest.raises(ShapeError, match=r"expected shape \(2, 8\) like idx, got \(2, 7\)"):
        model(ids(2, 8), ids(2, 7))
    with pytest.raises(ShapeError, match=r"x: expected shape \(B, 3\), got \(2, 4\)"):
        check_shape(torch.zeros(2, 4), ("B", 3), "x")
    with pytest.raises(ShapeError, match=r"expected shape \(T, T\), got \(2, 3\)"):
        check_shape(torch.zeros(2, 3), ("T", "T"), "m")


def test_dropout_only_in_training_mode():
    model = small_model(dropout=0.5)
    x = ids(2, 16)
    model.train()
    assert not torch.equal(model(x)[0], model(x)[0])
    model.eval()
    assert torch.equal(model(x)[0], model(x)[0])


def test_attention_maps_have_one_distribution_per_query():
    maps = small_model().attention_maps(ids(1, 9))
    assert len(maps) == 2 and maps[0].shape == (1, 2, 9, 9)
    assert torch.allclose(maps[1].sum(-1), torch.ones(1, 2, 9))
    assert (maps[0].triu(diagonal=1) == 0).all()


def test_pre_norm_variant_with_residuals_is_the_standard_block():
    model = small_model().eval()
    x = ids(2, 16)
    same = rewire(model, norm="pre", residual=True)
    assert torch.allclose(same(x)[0], model(x)[0], atol=1e-6)
    assert same.lm_head.weight is same.tok_emb.weight  # the copy stays tied


def test_post_norm_block_normalizes_after_each_addition():
    torch.manual_seed(0)
    block = BlockVariant(SMALL, norm="post").eval()
    x = 3 * torch.randn(2, 5, 32) + 1
    expected = block.ln_1(x + block.attn(x))
    expected = block.ln_2(expected + block.mlp(expected))
    assert torch.allclose(block(x), expected, atol=1e-6)
    assert torch.allclose(block(x).std(dim=-1, unbiased=False), torch.ones(2, 5), atol=1e-3)


def test_block_without_residual_keeps_only_the_sublayer_output():
    torch.manual_seed(0)
    block = BlockVariant(SMALL, residual=False).eval()
    x = torch.randn(2, 5, 32)
    assert torch.allclose(block(x), block.mlp(block.ln_2(block.attn(block.ln_1(x)))), atol=1e-6)
    with pytest.raises(ValueError, match="'pre' or 'post'"):
        BlockVariant(SMALL, norm="middle")


def test_rewire_keeps_weights_and_the_random_state():
    model = small_model()
    torch.manual_seed(5)
    rewired = rewire(model, norm="post", residual=False)
    after = torch.rand(1)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(1))
    original, copied = model.state_dict(), rewired.state_dict()
    assert original.keys() == copied.keys()
    assert all(torch.equal(original[name], copied[name]) for name in original)
    x = ids(2, 16)
    assert not torch.allclose(rewired(x)[0], model(x)[0], atol=1e-3)


def test_residual_paths_carry_the_gradient_down_unchanged():
    model = small_model(n_layer=6)
    x, y = ids(4, 16), ids(4, 16, seed=1)
    norms, cosines = stream_gradients(model, x, y)
    assert len(norms) == len(cosines) == 6 and all(n > 0 for n in norms)
    assert min(cosines) > 0.5
    assert all(p.grad is None for p in model.parameters())
    _, plain = stream_gradients(rewire(model, residual=False), x, y)
    assert max(abs(c) for c in plain) < 0.2


def test_stream_scale_post_norm_stays_at_one():
    model = small_model(n_layer=3).eval()
    scales = stream_scale(rewire(model, norm="post"), ids(2, 16))
    assert len(scales) == 4
    assert all(abs(s - 1) < 0.01 for s in scales[1:])
    assert stream_scale(model, ids(2, 16))[0] == pytest.approx(scales[0])  # same embeddings


@pytest.mark.parametrize("config", [SMALL, GPTConfig(vocab_size=100, n_layer=3, n_embd=48)])
def test_parameter_breakdown_matches_the_formula_and_the_model(config):
    breakdown = parameter_breakdown(config)
    assert sum(breakdown.values()) == parameter_count_formula(config)
    assert count_by_group(GPT(config)) == breakdown
