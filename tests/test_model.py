import math

import pytest
import torch

from minigpt.model import GPT, GPTConfig, KVCache, parameter_count_formula
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
